"""The ``store`` fixture: every conformance test runs once per backend.

``sqlite`` is a fresh database file in the test's tmp dir (short progress and lease-check
intervals so those tests finish quickly). ``etcd`` is a real etcd server started on
127.0.0.1 by ``tests.storage.etcd_process``; when etcd can't be had the test fails with the
reason, it never skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hyperkube.storage import Store, open_store

BACKENDS = ["sqlite", "etcd"]
SQLITE_TEST_OPTIONS = "progress_interval=0.5&lease_check_interval=0.2"
ETCD_PROGRESS_FLAG = "--experimental-watch-progress-notify-interval=500ms"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    etcd = None
    if request.param == "sqlite":
        backend = open_store(f"sqlite:///{tmp_path}/state.db?{SQLITE_TEST_OPTIONS}")
    else:
        from tests.storage.etcd_process import EtcdProcess

        # progress notifications every 500 ms instead of etcd's default 10 minutes
        etcd = await asyncio.to_thread(EtcdProcess.start, tmp_path, ETCD_PROGRESS_FLAG)
        backend = open_store(etcd.url)
    try:
        await backend.start()
        yield backend
    finally:
        await backend.close()
        if etcd is not None:
            etcd.stop()
