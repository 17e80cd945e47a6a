"""``hyperkube dns --port 0`` as a process, against a real ``hyperkube apiserver`` process."""

from __future__ import annotations

import subprocess
import sys

import dns.rcode

from hyperkube.client import Client, load_kubeconfig
from tests.addons._dns import FakeUpstream, addresses, ask
from tests.e2e._cluster import assert_not_refused, cluster, start_process, stop  # noqa: F401
from tests.proxy._helpers import create_service, eventually


async def test_dns_process_serves_the_cluster_and_forwards(cluster):  # noqa: F811
    upstream = await FakeUpstream().start()
    process, port, lines = start_process(
        [sys.executable, "-m", "hyperkube", "dns", "--kubeconfig", str(cluster.kubeconfig_for("dns")), "--port", "0",
         "--upstream", f"127.0.0.1:{upstream.port}", "--cluster-domain", "example.internal"],
        r"dns: serving example\.internal on 127\.0\.0\.1:(\d+)", "dns")
    try:
        async with Client(load_kubeconfig(cluster.kubeconfig)) as api:
            service = await create_service(api, "hello", [{"name": "http", "port": 80}])

        async def resolved():
            return addresses(await ask(port, "hello.default.svc.example.internal")) == [service["spec"]["clusterIP"]]
        await eventually(resolved)
        assert addresses(await ask(port, "www.example.test", tcp=True)) == ["192.0.2.1"]
        assert (await ask(port, "hello.default.svc.cluster.local")).rcode() == dns.rcode.NXDOMAIN  # forwarded
    finally:
        stop(process)
        await upstream.stop()
    assert process.returncode == 0, "".join(lines)
    assert_not_refused("dns", lines)  # as system:kube-dns


def test_dns_rejects_a_bad_upstream(cluster):  # noqa: F811
    result = subprocess.run([sys.executable, "-m", "hyperkube", "dns", "--kubeconfig", str(cluster.kubeconfig),
                             "--port", "0", "--upstream", "resolver.example"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "--upstream" in result.stderr


def test_kubelet_rejects_a_bad_cluster_dns():
    result = subprocess.run([sys.executable, "-m", "hyperkube", "kubelet", "--api-servers", "http://127.0.0.1:9",
                             "--cluster-dns", "127.0.0.1:5353,dns.example"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "--cluster-dns wants IP[:PORT], not 'dns.example'" in result.stderr
