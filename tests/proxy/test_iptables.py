"""kube-proxy's iptables mode: the rules it computes, and the kernel forwarding through them.

The end-to-end test runs inside a network namespace of its own (``ip netns``), so the rules it
installs never touch the host's: an API server process, three HTTP backends on 127.0.0.2-4, the
real kubectl and ``hyperkube proxy --proxy-mode iptables`` all run in it, and clients are
Python processes started in it. Root and the iptables binaries are required (scripts/test
installs iptables); without them the test fails and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from hyperkube.proxy import iptables_rules as rules
from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName
from tests.e2e._cluster import KUBECTL, start_process, stop, write_kubeconfig

WEB = ServicePortName("default", "web", "")


def _svc(**changes) -> ServicePort:
    base = {"name": WEB, "protocol": "TCP", "port": 80, "cluster_ip": "127.64.0.9", "node_port": 30080}
    return ServicePort(**{**base, **changes})


def test_round_robin_rules_pick_every_nth_connection():
    endpoints = [Endpoint("127.0.0.2", 8080), Endpoint("127.0.0.3", 8080), Endpoint("127.0.0.4", 8080)]
    built = rules.build({WEB: _svc()}, {WEB: endpoints})
    chain = rules.svc_chain(WEB, "TCP")
    assert any("-d 127.64.0.9/32 -p tcp -m tcp --dport 80" in r and r.endswith(f"-j {chain}")
               for r in built.nat[rules.SERVICES])
    picks = built.nat[chain]
    assert "--every 3 --packet 0" in picks[0] and "--every 2 --packet 0" in picks[1]
    assert "statistic" not in picks[2]  # the last endpoint takes what is left
    for endpoint in endpoints:
        sep = built.nat[rules.sep_chain(WEB, "TCP", endpoint)]
        assert sep[-1].endswith(f"-j DNAT --to-destination {endpoint}")
    assert any("--dport 30080" in r and r.endswith(f"-j {chain}") for r in built.nat[rules.NODEPORTS])
    assert built.filter[rules.SERVICES] == []


def test_no_endpoints_rejects_and_affinity_uses_recent():
    empty = rules.build({WEB: _svc()}, {})
    assert all("REJECT" in r for r in empty.filter[rules.SERVICES]) and len(empty.filter[rules.SERVICES]) == 2
    assert rules.svc_chain(WEB, "TCP") not in empty.nat
    sticky = rules.build({WEB: _svc(affinity_timeout=600)}, {WEB: [Endpoint("127.0.0.2", 8080)]})
    body = sticky.nat[rules.svc_chain(WEB, "TCP")]
    assert "--rcheck --seconds 600 --reap" in body[0]
    assert "--set" in sticky.nat[rules.sep_chain(WEB, "TCP", Endpoint("127.0.0.2", 8080))][-1]


def test_restore_input_rewrites_only_given_chains():
    text = rules.restore_input({"nat": (["HK-A", "HK-OLD"], {"HK-A": ["-A HK-A -j RETURN"]}, ["HK-OLD"]),
                                "filter": ([], {}, [])})
    assert text == "*nat\n:HK-A - [0:0]\n:HK-OLD - [0:0]\n-A HK-A -j RETURN\n-X HK-OLD\nCOMMIT\n"


# -- end to end, in a network namespace ----------------------------------------------------------

BACKENDS = """
import http.server, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.server_address[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
servers = [http.server.ThreadingHTTPServer((ip, 8080), H) for ip in sys.argv[1:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
"""

CLIENT = """
import json, socket, sys, time, urllib.request
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(count):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as r:
            out.append(r.read().decode())
    except OSError as e:
        out.append(f"error:{type(getattr(e, 'reason', e)).__name__}:{time.monotonic() - started:.2f}")
print(json.dumps(out))
"""


class Namespace:
    def __init__(self, tmp: Path) -> None:
        self.name = f"hk-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.processes: list[subprocess.Popen] = []
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True, capture_output=True)

    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, *command: str, input: str | None = None, env: dict | None = None) -> str:
        result = subprocess.run([*self.prefix(), *command], input=input, capture_output=True, text=True,
                                timeout=60, env=env)
        assert result.returncode == 0, f"{' '.join(command)} failed: {result.stdout}{result.stderr}"
        return result.stdout

    def kubectl(self, *args: str, input: str | None = None) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.tmp / "kubeconfig"), "HOME": str(self.tmp)}
        return self.run(str(KUBECTL), *args, input=input, env=env)

    def get(self, host: str, port: int, count: int) -> list[str]:
        return json.loads(self.run(sys.executable, "-c", CLIENT, host, str(port), str(count)))

    def nat_rules(self) -> str:
        return self.run("iptables-save", "-t", "nat") + self.run("iptables-save", "-t", "filter")

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def _eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _slice(ips: list[str]) -> str:
    return json.dumps({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                       "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
                       "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
                       "ports": [{"name": "80-8080", "port": 8080, "protocol": "TCP"}]})


@pytest.fixture
def netns(tmp_path):
    missing = [tool for tool in ("ip", "iptables", "iptables-restore", "iptables-save") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        pytest.fail(f"the iptables proxy test needs root and {missing or 'nothing else'} "
                    "(scripts/test installs iptables as root)")
    namespace = Namespace(tmp_path)
    try:
        yield namespace
    finally:
        namespace.close()


def _proxy(netns: Namespace, url: str) -> subprocess.Popen:
    process, _port, _log = start_process(
        [*netns.prefix(), sys.executable, "-m", "hyperkube", "proxy", "--master", url, "--proxy-mode", "iptables",
         "--hostname-override", "node-a", "--bind-address", "127.0.0.1", "--healthz-bind-address", "127.0.0.1:0"],
        r"healthz and metrics serving on [\d.]+:(\d+)", "proxy")
    netns.processes.append(process)
    return process


def test_iptables_mode_forwards_in_the_kernel(netns, tmp_path):
    api, port, _ = start_process([*netns.prefix(), sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port",
                                  "0", "--data-dir", str(tmp_path / "data")],
                                 r"Serving insecurely on [\d.]+:(\d+)", "apiserver")
    netns.processes.append(api)
    url = f"http://127.0.0.1:{port}"
    write_kubeconfig(tmp_path / "kubeconfig", url)
    backends = subprocess.Popen([*netns.prefix(), sys.executable, "-c", BACKENDS, "127.0.0.2", "127.0.0.3",
                                 "127.0.0.4"], stdout=subprocess.PIPE, text=True)
    netns.processes.append(backends)
    assert backends.stdout is not None and backends.stdout.readline().strip() == "ready"
    netns.kubectl("create", "service", "nodeport", "web", "--tcp=80:8080")
    netns.kubectl("create", "service", "clusterip", "empty", "--tcp=81:8080")
    netns.kubectl("apply", "-f", "-", input=_slice(["127.0.0.2", "127.0.0.3", "127.0.0.4"]))
    service = json.loads(netns.kubectl("get", "service", "web", "-o", "json"))
    cluster_ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
    empty_ip = json.loads(netns.kubectl("get", "service", "empty", "-o", "json"))["spec"]["clusterIP"]

    proxy = _proxy(netns, url)

    def round_robin() -> None:  # each of the three exactly twice in six new connections
        assert Counter(netns.get(cluster_ip, 80, 6)) == {"127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 2}

    _eventually(round_robin)
    assert set(netns.get("127.0.0.1", node_port, 3)) == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
    refused = netns.get(empty_ip, 81, 1)[0]
    assert refused.startswith("error:ConnectionRefusedError"), refused
    assert float(refused.rsplit(":", 1)[1]) < 1.0  # refused at once, never a hang

    netns.kubectl("apply", "-f", "-", input=_slice(["127.0.0.2", "127.0.0.3"]))
    _eventually(lambda: _assert_equal(set(netns.get(cluster_ip, 80, 6)), {"127.0.0.2", "127.0.0.3"}))

    netns.kubectl("patch", "service", "web", "-p", '{"spec":{"sessionAffinity":"ClientIP"}}')
    _eventually(lambda: _assert_equal(len(set(netns.get(cluster_ip, 80, 5))), 1))

    assert "HK-SERVICES" in netns.nat_rules()
    proxy.send_signal(signal.SIGTERM)
    proxy.wait(10)
    assert "HK-" not in netns.nat_rules()  # removed on exit

    crashed = _proxy(netns, url)
    _eventually(lambda: _assert_equal("HK-SVC-" in netns.nat_rules(), True))
    crashed.kill()
    crashed.wait(5)
    assert "HK-SVC-" in netns.nat_rules()  # a crash leaves them; --cleanup removes them
    out = netns.run(sys.executable, "-m", "hyperkube", "proxy", "--cleanup")
    assert out.startswith("removed ") and "HK-" not in netns.nat_rules()


def _assert_equal(actual, expected) -> None:
    assert actual == expected, actual
