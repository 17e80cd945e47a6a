"""A real etcd for the tests: ``EtcdProcess.start(tmp_path)`` -> ``.url``, ``.stop()``.

The process logic lives in :mod:`hyperkube.storage.etcd_server` so the storage benchmark
can start etcd the same way without importing tests. A missing binary is an error that
says how to get one, never a skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hyperkube.storage.etcd_server import EtcdServer, TLSFiles, start_etcd, start_etcd_cluster

# etcd sends watch progress notifications every 10 minutes by default; tests want them soon.
TEST_FLAGS = ("--experimental-watch-progress-notify-interval", "1s")


class EtcdProcess:
    """One single-member etcd on 127.0.0.1, ephemeral ports, data under the test's tmp dir."""

    def __init__(self, server: EtcdServer) -> None:
        self._server = server
        self.url = server.url
        self.data_dir = server.data_dir

    @classmethod
    def start(cls, tmp_path: str | os.PathLike[str], *extra_args: str) -> EtcdProcess:
        """Start etcd and wait until it is healthy; extra etcd flags may follow."""
        return cls(start_etcd(Path(tmp_path), extra_args=(*TEST_FLAGS, *extra_args)))

    @classmethod
    def start_cluster(cls, tmp_path: str | os.PathLike[str], size: int = 3) -> list[EtcdProcess]:
        """Start ``size`` members of one etcd cluster; returns once every member is healthy."""
        return [cls(server) for server in start_etcd_cluster(Path(tmp_path), size, extra_args=TEST_FLAGS)]

    @property
    def pid(self) -> int:
        return self._server.process.pid

    def alive(self) -> bool:
        return self._server.alive()

    def stop(self) -> None:
        """Kill etcd and reap it (idempotent)."""
        self._server.stop()

    def __enter__(self) -> EtcdProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_tls(directory: Path) -> TLSFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI).

    The server certificate is a client one too: etcd's JSON gateway dials etcd's own gRPC port with it.
    """

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=hyperkube-test-ca")
    for name, extensions in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"),
                             ("client", "extendedKeyUsage=clientAuth\n")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}")
        (directory / f"{name}.ext").write_text(extensions)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext")
    return TLSFiles(*(str(directory / f) for f in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")))
