"""What a process pod gets from ``--cluster-dns``/``--cluster-domain``: a kubelet and the DNS add-on
on one real API server, and a pod that resolves a Service through its resolv.conf."""

from __future__ import annotations

import json
from pathlib import Path

from hyperkube.addons.dns import DNSConfig, DNSServer
from hyperkube.kubelet.dns import pod_dns
from tests.addons._dns import addresses, ask
from tests.kubelet._harness import PY, api, client, get_pod, kubelet_factory, phase, pod, wait_for  # noqa: F401

PROBE = """
import json, os
import dns.resolver
env = {k: v for k, v in os.environ.items() if k.startswith("KUBERNETES_DNS") or k == "KUBERNETES_CLUSTER_DOMAIN"}
out = {"env": env}
if "KUBERNETES_DNS_RESOLV_CONF" in env:
    resolver = dns.resolver.Resolver(filename=env["KUBERNETES_DNS_RESOLV_CONF"])
    resolver.port = int(env["KUBERNETES_DNS_SERVER_PORT"])
    out["conf"] = open(env["KUBERNETES_DNS_RESOLV_CONF"]).read()
    out["web"] = [r.address for r in resolver.resolve("web", "A", search=True)]
print(json.dumps(out))
"""


async def _output(client, kubelet, name):  # noqa: F811
    import aiohttp

    async def done():
        return phase(await get_pod(client, name)) in ("Succeeded", "Failed")
    await wait_for(done)
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{kubelet.port}/containerLogs/default/{name}/main") as response:
        text = await response.text()
    assert phase(await get_pod(client, name)) == "Succeeded", text
    return json.loads(text)


async def test_a_process_pod_resolves_services_through_its_resolv_conf(client, kubelet_factory, tmp_path):  # noqa: F811
    server = DNSServer(client, DNSConfig(port=0, upstreams=[]))
    await server.start()
    try:
        service = await client.create("v1/services", {"metadata": {"name": "web"},
                                                      "spec": {"ports": [{"name": "http", "port": 80}]}},
                                      namespace="default")

        async def served():
            return addresses(await ask(server.port, "web.default.svc.cluster.local"))
        await wait_for(served)  # the zone has it before the pod asks
        kubelet = await kubelet_factory(cluster_dns=[("127.0.0.1", server.port)], cluster_domain="cluster.local")
        main = {"name": "main", "image": "python", "command": [PY, "-c", PROBE]}
        await client.create("v1/pods", pod("asker", main, restartPolicy="Never"))
        seen = await _output(client, kubelet, "asker")
        path = seen["env"]["KUBERNETES_DNS_RESOLV_CONF"]
        assert Path(path).parent.parent == Path(kubelet.config.root_dir) / "pods"
        assert seen["env"] | {"KUBERNETES_DNS_RESOLV_CONF": ""} == {
            "KUBERNETES_DNS_RESOLV_CONF": "", "KUBERNETES_DNS_SERVER": "127.0.0.1",
            "KUBERNETES_DNS_SERVER_PORT": str(server.port), "KUBERNETES_CLUSTER_DOMAIN": "cluster.local",
            "KUBERNETES_DNS_SEARCH": "default.svc.cluster.local svc.cluster.local cluster.local"}
        conf = [line for line in seen["conf"].splitlines() if not line.startswith("#")]
        assert conf == [f"nameserver 127.0.0.1  # port {server.port}: not expressible in resolv.conf",
                        "search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"]
        assert seen["web"] == [service["spec"]["clusterIP"]]

        # dnsPolicy Default: the host's resolver, nothing from the kubelet
        await client.create("v1/pods", pod("hosty", main, restartPolicy="Never", dnsPolicy="Default"))
        assert (await _output(client, kubelet, "hosty")) == {"env": {}}
    finally:
        await server.stop()


def test_dns_policies_and_dns_config():
    cluster = [("10.0.0.10", 53)]
    plain = {"metadata": {"namespace": "shop"}, "spec": {}}
    settings = pod_dns(plain, cluster, "cluster.local")
    assert settings is not None and settings.resolv_conf().splitlines()[1:] == [
        "nameserver 10.0.0.10", "search shop.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"]
    assert pod_dns(plain, [], "cluster.local") is None  # no --cluster-dns: the host's resolver
    assert pod_dns({"spec": {"hostNetwork": True}}, cluster, "cluster.local") is None
    assert pod_dns({"spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}}, cluster, "x") is not None
    custom = pod_dns({"spec": {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["192.0.2.1"], "searches": ["corp.example"], "options": [{"name": "ndots", "value": "2"},
                                                                             {"name": "edns0"}]}}},
        cluster, "cluster.local")
    assert custom is not None and custom.resolv_conf().splitlines()[1:] == [
        "nameserver 192.0.2.1", "search corp.example", "options ndots:2 edns0"]
    merged = pod_dns({"spec": {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}}, cluster, "c.local")
    assert merged is not None and merged.options == [("ndots", "1")]
    assert merged.env("/p")["KUBERNETES_DNS_SEARCH"] == "default.svc.c.local svc.c.local c.local"
