"""The wiring behind ``hyperkube up``: every component on one event loop, in one process.

Design: the API server starts first (its port is known once it is bound, so ``--port 0``
works); every other component gets its *own* :class:`~hyperkube.client.Client` pointed at the
server's URL, exactly as if it ran in another process (DESIGN.md: components share no Python
objects, only HTTP). Each is started with its own ``start()`` and stopped with its ``stop()``
in reverse order; the kubelets are stopped with ``stop_pods=True`` because when the whole
cluster goes down its pods go too (a restart on the same data dir starts them again from the
stored objects).

Secure by default (issue 14): before anything starts, the PKI in ``<data-dir>/pki`` is made or
reused in a thread (:mod:`hyperkube.cli.up_pki`). The API server then serves HTTPS only, on
127.0.0.1 at ``--port``, authorizes with ``Node,RBAC`` and calls kubelets over HTTPS with its
kubelet client certificate, verifying theirs against the cluster CA. Every component's client
trusts the CA and presents its own certificate: the controller-manager, the scheduler, each
process kubelet (``system:node:<name>``; the Node authorizer lets it touch only its own node
and pods), the proxies, DNS, the add-on manager and the hollow nodes (one shared identity, see
up_pki). Process kubelets serve HTTPS with their node's serving certificate, accept client
certificates of the cluster CA, refuse anonymous requests and ask the API server
(SubjectAccessReview) whether a caller may use them.

Order: API server, controller-manager, scheduler, DNS (so the kubelets can be told where it
is: ``--cluster-dns 127.0.0.1:<port>``), kubelets, proxies (one per process node: the first
serves the cluster IPs and node ports on 127.0.0.1, each further one only node ports on its
node IP), then the add-ons (the kube-dns Service, the add-on manager), which nothing before
them waits for.

The kubeconfig helpers live here too: :func:`merge_kubeconfig` puts the context ``hyperkube``
into an existing file (keeping every other cluster, user and context) and replaces it
atomically.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import errno
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("hyperkube.up")

NAME = "hyperkube"
DEFAULT_PORT = 6443  # k3s' and kubeadm's
DEFAULT_DNS_PORT = 10053  # fixed, so pods told --cluster-dns keep working across restarts; taken -> any free one


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hyperkube")


@dataclass
class UpConfig:
    data_dir: str
    port: int = DEFAULT_PORT  # the API server's HTTPS port on 127.0.0.1; 0 = ephemeral
    etcd_servers: str = ""
    nodes: int = 0  # extra process-runtime kubelets on 127.0.0.2, 127.0.0.3, ...
    hollow_nodes: int = 0
    node_name: str = field(default_factory=lambda: socket.gethostname().lower())
    disable: frozenset[str] = frozenset()
    addons_dir: str = ""  # manifests applied and kept by the add-on manager [default: DATA/addons]
    home_kubeconfig: str = ""  # ~/.kube/config, where the context is merged without --write-kubeconfig
    dns_port: int = DEFAULT_DNS_PORT  # 0 = ephemeral
    cluster_domain: str = "cluster.local"
    service_cluster_ip_range: str = "127.64.0.0/16"

    def node_names(self) -> list[str]:
        """The process nodes: the first, then ``<first>-2``, ``<first>-3``..."""
        return [self.node_name] + [f"{self.node_name}-{i + 2}" for i in range(self.nodes)]


# -- the kubeconfig ------------------------------------------------------------------------------

def _upsert(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in entries if isinstance(e, dict) and e.get("name") != name]
    return [*kept, {"name": name, key: value}]


def merge_kubeconfig(path: str | os.PathLike[str], server: str, *, name: str = NAME, ca_data: bytes | None = None,
                     cert_data: bytes | None = None, key_data: bytes | None = None) -> Path:
    """Add (or replace) cluster, user and context ``name`` in the kubeconfig at ``path``, make
    it the current context, keep everything else, and replace the file atomically (mode 0600:
    it holds the admin's private key). The CA and the client certificate/key are embedded
    (``*-data``), so the file works wherever it is copied. Blocking: call it from a thread."""
    target = Path(path)
    document: dict[str, Any] = {}
    if target.exists():
        loaded = yaml.safe_load(target.read_text()) or {}
        if isinstance(loaded, dict):
            document = loaded
    document.setdefault("apiVersion", "v1")
    document.setdefault("kind", "Config")
    document.setdefault("preferences", {})
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    user: dict[str, Any] = {}
    if cert_data and key_data:
        user["client-certificate-data"] = base64.b64encode(cert_data).decode()
        user["client-key-data"] = base64.b64encode(key_data).decode()
    document["clusters"] = _upsert(document.get("clusters") or [], name, "cluster", cluster)
    document["users"] = _upsert(document.get("users") or [], name, "user", user)
    document["contexts"] = _upsert(document.get("contexts") or [], name, "context",
                                   {"cluster": name, "user": name, "namespace": "default"})
    document["current-context"] = name
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(yaml.safe_dump(document, sort_keys=False))
    os.replace(temporary, target)
    return target


# -- the cluster ---------------------------------------------------------------------------------

class Cluster:
    """Every component of a one-process cluster; ``start()`` then ``stop()`` on one loop."""

    def __init__(self, config: UpConfig) -> None:
        self.config = config
        self.pki: Any = None  # up_pki.UpPKI
        self.apiserver: Any = None
        self.dns: Any = None
        self.clients: list[Any] = []
        self.kubelets: list[Any] = []
        # (what it is, how to stop it) in start order
        self.running: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.url = ""

    def client_config(self, identity: Any) -> Any:
        """How a component reaches the API server: https, the cluster CA, its own certificate."""
        from hyperkube.client import Config

        return Config(server=self.url, ca_file=self.pki.ca_file, cert_file=identity.cert, key_file=identity.key)

    def _client(self, identity: Any) -> Any:
        """A new client of the API server for one component, as ``identity`` (a CertKey)."""
        from hyperkube.client import Client

        client = Client(self.client_config(identity))
        self.clients.append(client)
        return client

    def admin_config(self) -> Any:
        return self.client_config(self.pki.cluster.admin)

    def _started(self, component: str, detail: str, stop: Callable[[], Awaitable[None]]) -> None:
        """Record a started component: its line in what ``up`` prints, and how to stop it."""
        self.running.append((f"{component:<19}{detail}", stop))

    async def start(self) -> None:
        from hyperkube.apiserver.tls import first_service_ip
        from hyperkube.cli.up_pki import ensure_up_pki

        cfg = self.config
        service_ip = first_service_ip(cfg.service_cluster_ip_range)
        self.pki = await asyncio.to_thread(ensure_up_pki, os.path.join(cfg.data_dir, "pki"), cfg.node_names(),
                                           service_ip)
        await self._start_control_plane()
        dns = None if "dns" in cfg.disable else await self._start_dns()
        await self._start_kubelets(dns)
        await self._start_proxies()
        await self._start_addons()

    async def _start_control_plane(self) -> None:
        from hyperkube.apiserver.app import APIServer, APIServerConfig
        from hyperkube.controllers.manager import ControllerManager, ManagerOptions
        from hyperkube.scheduler import Scheduler, SchedulerConfig

        cfg, cluster = self.config, self.pki.cluster
        from hyperkube.apiserver import admission

        self.apiserver = APIServer(APIServerConfig(
            bind_address="127.0.0.1", port=None, secure_port=cfg.port, etcd_servers=cfg.etcd_servers,
            data_dir=cfg.data_dir, service_cluster_ip_range=cfg.service_cluster_ip_range, cert_dir=cluster.directory,
            tls_cert_file=cluster.apiserver.cert, tls_private_key_file=cluster.apiserver.key,
            client_ca_file=cluster.ca.cert, service_account_signing_key_file=cluster.service_account.key,
            service_account_key_files=[cluster.service_account.cert], authorization_mode="Node,RBAC",
            kubelet_client_certificate=cluster.apiserver_kubelet_client.cert,
            kubelet_client_key=cluster.apiserver_kubelet_client.key, kubelet_certificate_authority=cluster.ca.cert,
            enable_admission_plugins=list(admission.CLUSTER_PLUGINS), dashboard="dashboard" not in cfg.disable))
        await self.apiserver.start()
        self.url = self.apiserver.secure_url
        store = cfg.etcd_servers or f"sqlite in {cfg.data_dir}"
        self._started("apiserver", f"{self.url} (store: {store}; TLS, Node,RBAC; PKI in {cluster.directory})",
                      self.apiserver.stop)

        manager = ControllerManager(self._client(cluster.controller_manager), ManagerOptions(
            leader_elect=False, options={"root_ca_file": cluster.ca.cert,
                                         "service_account_private_key_file": cluster.service_account.key}))
        await manager.start()
        self._started("controller-manager", f"{len(manager.names)} controllers", manager.stop)

        scheduler = Scheduler(self._client(cluster.scheduler), SchedulerConfig())
        await scheduler.start()
        self._started("scheduler", "default-scheduler", scheduler.stop)

    async def _start_dns(self) -> Any:
        """The DNS server on 127.0.0.1 at ``dns_port`` (any free port when that one is taken)."""
        from hyperkube.addons.dns import DNSConfig, DNSServer

        cfg = self.config
        server = DNSServer(self._client(self.pki.dns), DNSConfig(port=cfg.dns_port, domain=cfg.cluster_domain))
        try:
            await server.start()
        except OSError as error:
            if not cfg.dns_port or error.errno != errno.EADDRINUSE:
                raise
            log.warning("dns: port %d is taken; serving on a free port instead", cfg.dns_port)
            server.config = dataclasses.replace(server.config, port=0)
            await server.start()
        self.dns = server
        self._started("dns", f"{cfg.cluster_domain} on 127.0.0.1:{server.port} (udp, tcp)", server.stop)
        return server

    async def _start_kubelets(self, dns: Any) -> None:
        from hyperkube.kubelet.auth import KubeletAuthConfig
        from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig

        cfg, cluster = self.config, self.pki.cluster
        root = os.path.join(cfg.data_dir, "kubelet")
        cluster_dns = [("127.0.0.1", dns.port)] if dns is not None else []
        base = KubeletConfig(node_name=cfg.node_name, hostname=cfg.node_name, root_dir=root, port=0,
                             cluster_dns=cluster_dns, cluster_domain=cfg.cluster_domain)
        from hyperkube.cli.up_pki import node_ip

        for i, name in enumerate(cfg.node_names()):
            node = cluster.nodes[name]
            kc = dataclasses.replace(
                base, node_name=name, hostname=name, node_ip=node_ip(i),
                root_dir=root if i == 0 else os.path.join(root, f"node-{i + 1}"),
                auth=KubeletAuthConfig(tls_cert_file=node.serving.cert, tls_private_key_file=node.serving.key,
                                       client_ca_file=cluster.ca.cert, anonymous_auth=False,
                                       authorization_mode="Webhook"))
            kubelet = Kubelet(self._client(node.client), kc)
            await kubelet.start()
            self.kubelets.append(kubelet)
            self._started("kubelet", f"node {name} ({kc.node_ip}, process runtime, https)",
                          functools.partial(kubelet.stop, stop_pods=True))
        if cfg.hollow_nodes:
            await self._start_hollow(base)

    async def _start_hollow(self, base: Any) -> None:
        """Fake kubelets sharing one client and one pod watch (what keeps many of them within
        the RSS budget), so one identity: the user ``system:hyperkube:hollow-nodes``, bound here
        to the ``system:node`` ClusterRole for every node (a ``system:node:<name>`` certificate
        would be good for one node only under the Node authorizer; see up_pki)."""
        from hyperkube.cli.up_pki import HOLLOW_BINDING
        from hyperkube.client import AlreadyExists, APIError, InformerFactory
        from hyperkube.kubelet.kubelet import Kubelet

        cfg = self.config
        admin = self._client(self.pki.addon_manager)
        with contextlib.suppress(AlreadyExists):
            await admin.create("rbac.authorization.k8s.io/v1/clusterrolebindings", HOLLOW_BINDING)
        hollow_client = self._client(self.pki.hollow)
        for _ in range(100):  # RBAC sees the new binding through its watch, within milliseconds
            try:
                await hollow_client.list("v1/nodes", limit=1)
                break
            except APIError:
                await asyncio.sleep(0.05)
        hollow: list[Any] = []

        async def stop_hollow() -> None:
            for kubelet in hollow:
                await kubelet.stop()

        factory = InformerFactory(hollow_client)
        pods = factory.informer("v1/pods")
        root = os.path.join(cfg.data_dir, "kubelet")
        for i in range(cfg.hollow_nodes):
            name = f"hollow-{i}"
            kubelet = Kubelet(hollow_client, dataclasses.replace(
                base, node_name=name, hostname=name, root_dir=os.path.join(root, name), port=None,
                runtime="fake", record_events=False), informers=factory, pod_informer=pods)
            await kubelet.start()
            hollow.append(kubelet)
            self.kubelets.append(kubelet)
        self._started("kubelet", f"{cfg.hollow_nodes} hollow nodes hollow-0..hollow-{cfg.hollow_nodes - 1} "
                                 "(fake runtime)", stop_hollow)

    async def _start_proxies(self) -> None:
        from hyperkube.cli.up_pki import node_ip
        from hyperkube.proxy.server import ProxyConfig, ProxyServer

        for i, name in enumerate(self.config.node_names()):
            ip, first = node_ip(i), i == 0
            proxy = ProxyServer(self._client(self.pki.cluster.proxy), ProxyConfig(
                hostname=name, bind_address=ip, proxy_mode="userspace", healthz_bind_address=None,
                shutdown_grace=2.0, serve_cluster_ips=first))
            await proxy.start()
            what = "cluster IPs and node ports" if first else "node ports"
            self._started("proxy", f"userspace, {what} on {ip} (node {name})", proxy.stop)

    async def _start_addons(self) -> None:
        """The add-ons, last, so they do not slow the way to a Ready node. Each one is a
        component like the others: its own client, ``start()`` here, ``stop()`` in reverse.
        The kube-dns Service names the DNS server (metrics.k8s.io is served by the API server)."""
        from hyperkube.addons.dns import publish_service
        from hyperkube.addons.manager import AddonConfig, AddonManager

        client = self._client(self.pki.addon_manager)
        if self.dns is not None:
            service = await publish_service(client, "127.0.0.1", self.dns.port)
            self._started("dns service", f"kube-system/kube-dns {service['spec'].get('clusterIP', '')}:"
                                         f"{self.dns.port}", _nothing)
        directory = self.config.addons_dir or os.path.join(self.config.data_dir, "addons")
        await asyncio.to_thread(os.makedirs, directory, exist_ok=True)  # users find where to put files
        addons = AddonManager(client, AddonConfig(directory=directory))
        await addons.start()
        self._started("addon-manager", f"applies {directory}", addons.stop)

    async def stop(self) -> None:
        """Stop every started component in reverse order; the kubelets stop their pods."""
        for description, stop in reversed(self.running):
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", description.split()[0])
        self.running.clear()
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        self.clients.clear()


async def _nothing() -> None:
    pass
