"""A real etcd for the tests: ``EtcdProcess.start(tmp_path)`` -> ``.url``, ``.stop()``.

The process logic lives in :mod:`hyperkube.storage.etcd_server` so the storage benchmark
can start etcd the same way without importing tests. A missing binary is an error that
says how to get one, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

from hyperkube.storage.etcd_server import EtcdServer, start_etcd


class EtcdProcess:
    """One single-member etcd on 127.0.0.1, ephemeral ports, data under the test's tmp dir."""

    def __init__(self, server: EtcdServer) -> None:
        self._server = server
        self.url = server.url
        self.data_dir = server.data_dir

    @classmethod
    def start(cls, tmp_path: str | os.PathLike[str], *extra_args: str) -> EtcdProcess:
        """Start etcd and wait until it is healthy; extra etcd flags may follow."""
        return cls(start_etcd(Path(tmp_path), extra_args=tuple(extra_args)))

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
