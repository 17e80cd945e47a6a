"""Start a throwaway single-member etcd on 127.0.0.1: for tests and the storage benchmark.

This is not how a cluster's etcd is run (that is the operator's business); it is the one
place that knows how to bring up a private etcd quickly: free ephemeral ports, a data dir
of its own, compaction off, logs to a file beside the data, and a wait until ``/health``
says so. A port taken between choosing it and etcd binding it makes etcd exit; the start
is then retried on new ports.

It is synchronous on purpose (``subprocess`` and ``urllib``): callers are test fixtures and
scripts, never the event loop of a running component.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = ("install Debian's etcd-server package (apt-get install etcd-server); scripts/test "
                "installs it by itself when it runs as root")

# Go's names for the machine, for ETCD_UNSUPPORTED_ARCH (etcd 3.4 refuses unlisted arches without it).
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64", "i686": "386", "i386": "386", "armv7l": "arm"}


class EtcdNotFoundError(RuntimeError):
    """No ``etcd`` binary on this machine."""


class EtcdStartError(RuntimeError):
    """etcd was found but did not become healthy."""


DEBIAN_ETCD = "/usr/bin/etcd"


def find_etcd() -> str:
    """The etcd binary: ``$ETCD_BINARY``, then ``etcd`` on PATH, then Debian's /usr/bin/etcd."""
    for candidate in (os.environ.get("ETCD_BINARY"), shutil.which("etcd"), DEBIAN_ETCD):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise EtcdNotFoundError(f"the etcd binary was not found on PATH (or $ETCD_BINARY): {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EtcdServer:
    """A running etcd child process; ``stop()`` kills and reaps it."""

    process: subprocess.Popen[bytes]
    url: str  # client URL, e.g. http://127.0.0.1:40123
    data_dir: Path
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill that does not land
            pass

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _healthy(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1, context=context) as response:
            return b'"true"' in response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for an etcd that serves https and checks client certificates."""

    ca_file: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str

    def etcd_flags(self) -> tuple[str, ...]:
        return ("--cert-file", self.server_cert, "--key-file", self.server_key, "--client-cert-auth",
                "--trusted-ca-file", self.ca_file)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    arch = _GO_ARCH.get(platform.machine().lower())
    if arch and arch not in ("amd64", "ppc64le"):
        env.setdefault("ETCD_UNSUPPORTED_ARCH", arch)
    return env


def _spawn(binary: str, base: Path, name: str, cluster: dict[str, str], client_url: str,
           extra_args: tuple[str, ...], tag: str) -> EtcdServer:
    data_dir = base / f"etcd-data-{tag}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = base / f"etcd-{tag}.log"
    peer_url = cluster[name]
    args = [
        binary, "--name", name, "--data-dir", str(data_dir),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", ",".join(f"{n}={u}" for n, u in cluster.items()), "--initial-cluster-state", "new",
        "--auto-compaction-retention", "0", "--logger", "zap", "--log-outputs", "stderr",
        "--log-level", "warn", *extra_args,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=_environment(), start_new_session=True)
    return EtcdServer(process, client_url, data_dir, log_path)


def _wait_healthy(servers: list[EtcdServer], timeout: float, context: ssl.SSLContext | None = None) -> bool:
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while waiting and time.monotonic() < deadline and all(s.alive() for s in servers):
        waiting = [s for s in waiting if not _healthy(s.url, context)]
        if waiting:
            time.sleep(0.05)
    return not waiting


def start_etcd_cluster(base_dir: str | os.PathLike[str], size: int = 3, *, extra_args: tuple[str, ...] = (),
                       timeout: float = 30.0, attempts: int = 3) -> list[EtcdServer]:
    """Start ``size`` etcd members forming one cluster; returns them once every one is healthy."""
    binary = find_etcd()
    base = Path(base_dir)
    last_error = ""
    for attempt in range(attempts):
        names = [f"member{i}" for i in range(size)]
        cluster = {n: f"http://127.0.0.1:{_free_port()}" for n in names}
        servers = [_spawn(binary, base, n, cluster, f"http://127.0.0.1:{_free_port()}", extra_args,
                          f"{attempt}-{n}") for n in names]
        if _wait_healthy(servers, timeout):
            return servers
        for server in servers:
            server.stop()
        last_error = "\n".join(server.log_tail() for server in servers)
        if "address already in use" not in last_error:
            break
    raise EtcdStartError(f"etcd ({binary}) did not become healthy within {timeout:.0f}s; its logs end:\n"
                         f"{last_error}")


def start_etcd(base_dir: str | os.PathLike[str], *, name: str = "hyperkube-test", extra_args: tuple[str, ...] = (),
               timeout: float = 30.0, attempts: int = 3, tls: TLSFiles | None = None) -> EtcdServer:
    """Start a single-member etcd with its data under ``base_dir`` and wait until it is healthy.

    With ``tls`` the client URL is https and etcd demands a client certificate signed by the CA.
    """
    binary = find_etcd()
    base = Path(base_dir)
    last_error = ""
    for attempt in range(attempts):
        cluster = {name: f"http://127.0.0.1:{_free_port()}"}
        scheme = "https" if tls else "http"
        args = extra_args + (tls.etcd_flags() if tls else ())
        server = _spawn(binary, base, name, cluster, f"{scheme}://127.0.0.1:{_free_port()}", args, str(attempt))
        if _wait_healthy([server], timeout, tls.client_context() if tls else None):
            return server
        server.stop()
        last_error = server.log_tail()
        if "address already in use" not in last_error:
            break
    raise EtcdStartError(f"etcd ({binary}) did not become healthy within {timeout:.0f}s; its log ends:\n"
                         f"{last_error}")
