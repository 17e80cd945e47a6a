"""Issue 12's "done when" on one ``hyperkube up --nodes 1``: manifests/examples/ applied as they ship
with the real kubectl (web answers on its cluster IP and its DNS name), ``kubectl top pods`` shows
numbers, the dashboard in a real browser (through the real ``kubectl proxy``) sees the web
deployment and scales it, and the add-on manager applies a file in --addons-dir and prunes it
when the file goes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import dns.name
import dns.resolver

from tests.e2e._browser import browser_fixture, page_fixture, row, screenshot  # noqa: F401 (fixtures)
from tests.e2e._cluster import KUBECTL, stop
from tests.e2e.test_up import Up

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"

GREETING = """apiVersion: v1
kind: ConfigMap
metadata: {name: greeting, namespace: kube-system}
data: {text: hello}
"""


def _get(up: Up, *args: str) -> dict:
    return json.loads(up.kubectl("get", *args, "-o", "json").stdout)


def _http(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode() if response.status == 200 else ""
    except OSError:
        return ""


def _phases(up: Up, selector: str) -> dict[str, tuple[str, str]]:
    pods = _get(up, "pods", "-l", selector)["items"]
    return {p["metadata"]["name"]: (p["status"].get("phase", ""), p["spec"].get("nodeName", "")) for p in pods}


def _scale_in_the_dashboard(up: Up, page) -> None:
    from playwright.sync_api import expect

    env = {**os.environ, "HOME": str(up.home), "KUBECONFIG": str(up.home / "kubeconfig")}
    proxy = subprocess.Popen([str(KUBECTL), "proxy", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env)
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        port = re.search(r"Starting to serve on [\d.]+:(\d+)", line)
        assert port, line
        threading.Thread(target=proxy.stdout.read, daemon=True).start()
        page.goto(f"http://127.0.0.1:{port.group(1)}/ui/#/deployments?namespace=default")
        web = row(page, "Deployments", "web")
        expect(web).to_contain_text("2/2")
        web.get_by_role("button", name="Scale web").click()
        dialog = page.get_by_role("dialog", name="Scale deployment web")
        dialog.get_by_role("spinbutton", name="Replicas").fill("1")
        dialog.get_by_role("button", name="Scale").click()
        expect(web).to_contain_text("1/1")
        screenshot(page, "up-web-scaled")
        assert _get(up, "deployment", "web")["spec"]["replicas"] == 1
    finally:
        stop(proxy)


def test_every_example_runs_and_the_addon_manager_applies_and_prunes(tmp_path, page):
    addons = tmp_path / "addons"
    addons.mkdir()
    (addons / "greeting.yaml").write_text(GREETING)
    up = Up(tmp_path, "--nodes", "1", "--addons-dir", str(addons))
    try:
        assert f"addon-manager      applies {addons}" in "".join(up.lines)
        up.wait_for("two Ready nodes", lambda: [n for n in _get(up, "nodes")["items"] if any(
            c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))][1:])
        for name in ("web", "job", "cronjob", "statefulset", "daemonset"):
            up.kubectl("apply", "-f", str(EXAMPLES / f"{name}.yaml"))

        greeting = _get(up, "configmap", "greeting", "-n", "kube-system")
        assert greeting["metadata"]["labels"]["addons.hyperkube.io/manifest"] == "greeting.yaml"
        (addons / "greeting.yaml").unlink()
        up.wait_for("the add-on pruned", lambda: "NotFound" in up.kubectl(
            "get", "configmap", "greeting", "-n", "kube-system", check=False).stderr)

        ip = _get(up, "service", "web")["spec"]["clusterIP"]
        listing = up.wait_for(f"web through its cluster IP {ip}", lambda: _http(f"http://{ip}/"))
        assert "Directory listing" in listing
        # and through its DNS name, resolved by the cluster DNS
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], up.dns_port
        resolver.search = [dns.name.from_text("default.svc.cluster.local")]
        address = resolver.resolve("web", "A", search=True)[0].address
        assert address == ip
        assert "Directory listing" in _http(f"http://{address}/")
        up.kubectl("scale", "deployment", "web", "--replicas", "2")  # one per node (it takes a hostPort)
        up.wait_for("web 2/2", lambda: _get(up, "deployment", "web")["status"].get("readyReplicas") == 2)
        top = up.wait_for("kubectl top pods with numbers", lambda: (lambda r: r.stdout if r.returncode == 0 and
                          re.search(r"^web-\S+\s+\d+m\s+\d+Mi", r.stdout, re.M) else "")(
            up.kubectl("top", "pods", check=False)))
        assert "CPU(cores)" in top
        _scale_in_the_dashboard(up, page)

        up.kubectl("wait", "--for=condition=complete", "job/pi", "--timeout=50s")
        assert "3.14159265358979323846" in up.kubectl("logs", "job/pi").stdout

        members = up.wait_for("web-0 and web-1 Running", lambda: (lambda p: p if sorted(p) == ["web-0", "web-1"]
                              and all(phase == "Running" for phase, _ in p.values()) else None)(
            _phases(up, "app=web-peers")))
        assert "I am web-1, member of web-peers" in up.kubectl("logs", "web-1").stdout
        assert set(members) == {"web-0", "web-1"}

        agents = up.wait_for("a node-agent Running on each node", lambda: (lambda p: p if len(p) == 2 and all(
            phase == "Running" for phase, _ in p.values()) else None)(_phases(up, "app=node-agent")))
        assert {node for _, node in agents.values()} == {"up-node", "up-node-2"}

        # the CronJob, run now rather than at its next minute, as a user would try it
        assert _get(up, "cronjob", "hello")["spec"]["schedule"] == "* * * * *"
        up.kubectl("create", "job", "hello-now", "--from=cronjob/hello")
        up.kubectl("wait", "--for=condition=complete", "job/hello-now", "--timeout=50s")
        assert "Hello from hello-now-" in up.kubectl("logs", "job/hello-now").stdout
    finally:
        assert up.stop() == 0, "".join(up.lines[-40:])
