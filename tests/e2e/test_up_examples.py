"""manifests/examples/ on ``hyperkube up --nodes 1``, applied as they ship with the real kubectl
(web answers on its cluster IP and its DNS name), and the add-on manager of the same ``up``: a file in --addons-dir is applied, and pruned when
the file goes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import dns.name
import dns.resolver

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


def test_every_example_runs_and_the_addon_manager_applies_and_prunes(tmp_path):
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
        page = up.wait_for(f"web through its cluster IP {ip}", lambda: _http(f"http://{ip}/"))
        assert "Directory listing" in page
        # and through its DNS name, resolved by the cluster DNS
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], up.dns_port
        resolver.search = [dns.name.from_text("default.svc.cluster.local")]
        address = resolver.resolve("web", "A", search=True)[0].address
        assert address == ip
        assert "Directory listing" in _http(f"http://{address}/")

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

        # the CronJob's first scheduled Job (at most a minute away: `kubectl create job --from=cronjob/hello`
        # would be quicker, but hyperkube's protobuf decoder does not take the PodSecurityContext it sends yet)
        assert _get(up, "cronjob", "hello")["spec"]["schedule"] == "* * * * *"
        job = up.wait_for("a Job of the CronJob complete", lambda: next((
            j["metadata"]["name"] for j in _get(up, "jobs")["items"]
            if any(o["kind"] == "CronJob" and o["name"] == "hello" for o in j["metadata"].get("ownerReferences", []))
            and j["status"].get("succeeded")), None), timeout=90)
        assert f"Hello from {job}-" in up.kubectl("logs", f"job/{job}").stdout
    finally:
        assert up.stop() == 0, "".join(up.lines[-40:])
