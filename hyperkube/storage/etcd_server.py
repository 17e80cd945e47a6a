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


def find_etcd() -> str:
    """The etcd binary: ``$ETCD_BINARY``, then ``etcd`` on PATH, then Debian's /usr/bin/etcd."""
    for candidate in (os.environ.get("ETCD_BINARY"), shutil.which("etcd"), "/usr/bin/etcd"):
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


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return b'"true"' in response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_etcd(base_dir: str | os.PathLike[str], *, name: str = "hyperkube-test", extra_args: tuple[str, ...] = (),
               timeout: float = 30.0, attempts: int = 3) -> EtcdServer:
    """Start etcd with its data under ``base_dir`` and wait until it is healthy."""
    binary = find_etcd()
    base = Path(base_dir)
    env = dict(os.environ)
    arch = _GO_ARCH.get(platform.machine().lower())
    if arch and arch not in ("amd64", "ppc64le"):
        env.setdefault("ETCD_UNSUPPORTED_ARCH", arch)
    last_error = ""
    for attempt in range(attempts):
        data_dir = base / f"etcd-data-{attempt}"
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = base / f"etcd-{attempt}.log"
        client_port, peer_port = _free_port(), _free_port()
        client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        args = [
            binary, "--name", name, "--data-dir", str(data_dir),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"{name}={peer_url}", "--initial-cluster-state", "new",
            "--auto-compaction-retention", "0", "--logger", "zap", "--log-outputs", "stderr",
            "--log-level", "warn", *extra_args,
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env=env, start_new_session=True)
        server = EtcdServer(process, client_url, data_dir, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.alive():
            if _healthy(client_url):
                return server
            time.sleep(0.05)
        server.stop()
        last_error = server.log_tail()
        if "address already in use" not in last_error:
            break
    raise EtcdStartError(f"etcd ({binary}) did not become healthy within {timeout:.0f}s; its log ends:\n"
                         f"{last_error}")
