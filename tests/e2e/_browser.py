"""Playwright in a real browser for the dashboard tests: Debian's Chromium (never a downloaded
one), one browser per test module, a fresh 1280x800 page per test that fails on any JavaScript
error, screenshots kept as artifacts in ``$HYPERKUBE_TEST_ARTIFACTS`` (else ``test-artifacts/``
in the repository), and locators by accessible role and name."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e._cluster import KUBECTL, Cluster, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("HYPERKUBE_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts")


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the dashboard tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20000)  # the machine is shared: waits are generous, never fixed sleeps
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(name="page")
def page_fixture(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(20000)
    try:
        yield page
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))


def get_json(cluster: Cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def row(page, table: str, name: str):
    return page.get_by_role("table", name=table).get_by_role("row").filter(
        has=page.get_by_role("button", name=re.compile(rf" {re.escape(name)}$")))


@pytest.fixture(name="proxy_url", scope="module")
def proxy_url_fixture(cluster: Cluster) -> Iterator[str]:
    """The page is opened the seed's way: through the real ``kubectl proxy`` with the admin's
    kubeconfig (the API server itself speaks HTTPS with client certificates)."""
    with kubectl_proxy(cluster) as url:
        yield url


@contextlib.contextmanager
def kubectl_proxy(cluster: Cluster, which: str = "kubectl", prefix: str = "/") -> Iterator[str]:
    """``kubectl proxy --port 0`` with the cluster's kubeconfig, the real kubectl's or ours
    (``which="hyperkube"``); yields the URL it serves the API on (with ``--api-prefix``)."""
    command = ([sys.executable, "-m", "hyperkube", "kubectl"] if which == "hyperkube" else [str(KUBECTL)])
    process = subprocess.Popen([*command, "--kubeconfig", str(cluster.kubeconfig), "proxy", "--port", "0",
                                f"--api-prefix={prefix}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=cluster.env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = re.search(r"Starting to serve on [\d.]+:(\d+)", line)
        assert port, line
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{port.group(1)}{prefix.rstrip('/')}"
    finally:
        stop(process)
