"""The wiring behind ``hyperkube up``: every component on one event loop, in one process.

Design: the API server starts first (its port is known once it is bound, so ``--port 0``
works); every other component gets its *own* :class:`~hyperkube.client.Client` pointed at the
server's URL, exactly as if it ran in another process (DESIGN.md: components share no Python
objects, only HTTP). Each is started with its own ``start()`` and stopped with its ``stop()``
in reverse order; the kubelets are stopped with ``stop_pods=True`` because when the whole
cluster goes down its pods go too (a restart on the same data dir starts them again from the
stored objects).

The kubeconfig helpers live here too: :func:`merge_kubeconfig` puts the context ``hyperkube``
into an existing file (keeping every other cluster, user and context) and replaces it
atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hyperkube")


@dataclass
class UpConfig:
    data_dir: str
    port: int = 8080
    etcd_servers: str = ""
    nodes: int = 0  # extra process-runtime kubelets on 127.0.0.2, 127.0.0.3, ...
    hollow_nodes: int = 0
    node_name: str = field(default_factory=lambda: socket.gethostname().lower())
    disable: frozenset[str] = frozenset()
    addons_dir: str = ""  # manifests applied and kept by the add-on manager [default: DATA/addons]
    home_kubeconfig: str = ""  # ~/.kube/config, where the context is merged without --write-kubeconfig


# -- the kubeconfig ------------------------------------------------------------------------------

def _upsert(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in entries if isinstance(e, dict) and e.get("name") != name]
    return [*kept, {"name": name, key: value}]


def merge_kubeconfig(path: str | os.PathLike[str], server: str, *, name: str = NAME) -> Path:
    """Add (or replace) cluster, user and context ``name`` in the kubeconfig at ``path``, make
    it the current context, keep everything else, and replace the file atomically (mode 0600).
    Blocking: call it from a thread when a loop runs."""
    target = Path(path)
    document: dict[str, Any] = {}
    if target.exists():
        loaded = yaml.safe_load(target.read_text()) or {}
        if isinstance(loaded, dict):
            document = loaded
    document.setdefault("apiVersion", "v1")
    document.setdefault("kind", "Config")
    document.setdefault("preferences", {})
    document["clusters"] = _upsert(document.get("clusters") or [], name, "cluster", {"server": server})
    document["users"] = _upsert(document.get("users") or [], name, "user", {})
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
        self.apiserver: Any = None
        self.clients: list[Any] = []
        self.kubelets: list[Any] = []
        # (what it is, how to stop it) in start order
        self.running: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.url = ""

    def _client(self) -> Any:
        """A new client of the API server for one component: the one place that says how
        components reach it (a secure ``up`` adds its credentials here)."""
        from hyperkube.client import Client, Config

        client = Client(Config(server=self.url))
        self.clients.append(client)
        return client

    def _started(self, component: str, detail: str, stop: Callable[[], Awaitable[None]]) -> None:
        """Record a started component: its line in what ``up`` prints, and how to stop it."""
        self.running.append((f"{component:<19}{detail}", stop))

    async def start(self) -> None:
        from hyperkube.apiserver.app import APIServer, APIServerConfig
        from hyperkube.client import InformerFactory
        from hyperkube.controllers.manager import ControllerManager, ManagerOptions
        from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig
        from hyperkube.proxy.server import ProxyConfig, ProxyServer
        from hyperkube.scheduler import Scheduler, SchedulerConfig

        cfg = self.config
        self.apiserver = APIServer(APIServerConfig(port=cfg.port, etcd_servers=cfg.etcd_servers,
                                                   data_dir=cfg.data_dir))
        await self.apiserver.start()
        self.url = self.apiserver.url
        store = cfg.etcd_servers or f"sqlite in {cfg.data_dir}"
        self._started("apiserver", f"{self.url} (store: {store})", self.apiserver.stop)

        manager = ControllerManager(self._client(), ManagerOptions(leader_elect=False))
        await manager.start()
        self._started("controller-manager", f"{len(manager.names)} controllers", manager.stop)

        scheduler = Scheduler(self._client(), SchedulerConfig())
        await scheduler.start()
        self._started("scheduler", "default-scheduler", scheduler.stop)

        root = os.path.join(cfg.data_dir, "kubelet")
        base = KubeletConfig(node_name=cfg.node_name, hostname=cfg.node_name, root_dir=root, port=0)
        kubelet_client = self._client()
        configs = [base] + [
            dataclasses.replace(base, node_name=f"{cfg.node_name}-{i + 2}", hostname=f"{cfg.node_name}-{i + 2}",
                                node_ip=f"127.0.0.{i + 2}", root_dir=os.path.join(root, f"node-{i + 2}"))
            for i in range(cfg.nodes)]
        for kc in configs:
            kubelet = Kubelet(kubelet_client, kc)
            await kubelet.start()
            self.kubelets.append(kubelet)
            self._started("kubelet", f"node {kc.node_name} ({kc.node_ip}, process runtime)",
                          functools.partial(kubelet.stop, stop_pods=True))
        if cfg.hollow_nodes:
            hollow: list[Any] = []

            async def stop_hollow() -> None:
                for kubelet in hollow:
                    await kubelet.stop()

            hollow_client = self._client()
            factory = InformerFactory(hollow_client)
            pods = factory.informer("v1/pods")
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

        proxy = ProxyServer(self._client(), ProxyConfig(hostname=cfg.node_name, bind_address="127.0.0.1",
                                                        proxy_mode="userspace", healthz_bind_address=None,
                                                        shutdown_grace=2.0))
        await proxy.start()
        self._started("proxy", f"userspace, node ports on 127.0.0.1 (node {cfg.node_name})", proxy.stop)

        await self._start_addons()

    async def _start_addons(self) -> None:
        """The add-ons, last, so they do not slow the way to a Ready node. Each one is a
        component like the others: its own client, ``start()`` here, ``stop()`` in reverse.
        DNS goes here too, before the add-on manager, unless ``"dns" in config.disable``
        (metrics.k8s.io is served by the API server itself)."""
        from hyperkube.addons.manager import AddonConfig, AddonManager

        directory = self.config.addons_dir or os.path.join(self.config.data_dir, "addons")
        await asyncio.to_thread(os.makedirs, directory, exist_ok=True)  # users find where to put files
        addons = AddonManager(self._client(), AddonConfig(directory=directory))
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
