"""The DNS add-on against a real API server, queried with dnspython over real UDP and TCP."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from hyperkube.addons.dns import DNSConfig, DNSServer, parse_resolv_conf, parse_upstream, publish_service
from tests.addons._dns import FakeUpstream, addresses, ask, cluster_dns, upstream  # noqa: F401
from tests.apiserver._server import api, server  # noqa: F401
from tests.proxy._helpers import create_service, eventually, put_slice

DOMAIN = "cluster.local"
SLICES = "discovery.k8s.io/v1/endpointslices"


def endpoint_slice(service: str, endpoints: list[dict], ports: list[dict], name: str | None = None) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name or f"{service}-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": endpoints, "ports": ports}


async def answered(port: int, name: str, rdtype: str = "A", **kw) -> dns.message.Message:
    """The first answer that is not NXDOMAIN (the zone catches up with the API asynchronously)."""
    async def probe():
        response = await ask(port, name, rdtype, **kw)
        return response if response.rcode() != dns.rcode.NXDOMAIN and response.answer else None
    return await eventually(probe)


async def test_cluster_ip_service_answers_a_srv_and_ptr(api, cluster_dns):  # noqa: F811
    service = await create_service(api, "web", [{"name": "http", "port": 80, "protocol": "TCP"}])
    await create_service(api, "plain", [{"port": 9090, "protocol": "TCP"}])
    cluster_ip = service["spec"]["clusterIP"]
    name = f"web.default.svc.{DOMAIN}"
    response = await answered(cluster_dns.port, name)
    assert addresses(response) == [cluster_ip]
    assert response.flags & dns.flags.AA and response.answer[0].ttl == 30
    # case-insensitive, and the answer echoes the question's spelling
    mixed = await ask(cluster_dns.port, f"WEB.Default.svc.{DOMAIN}")
    assert addresses(mixed) == [cluster_ip] and mixed.answer[0].name.to_text() == f"WEB.Default.svc.{DOMAIN}."

    nodata = await ask(cluster_dns.port, name, "AAAA")  # an IPv4 service: the name exists, no AAAA
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority and nodata.authority[0].rdtype == dns.rdatatype.SOA

    srv = await ask(cluster_dns.port, f"_http._tcp.{name}", "SRV")
    assert [(r.port, r.target.to_text()) for r in srv.answer[0]] == [(80, f"{name}.")]
    assert addresses(srv, "additional") == [cluster_ip]  # the target's A record rides in the additional section
    plain = f"plain.default.svc.{DOMAIN}"
    await answered(cluster_dns.port, plain)
    unnamed = await ask(cluster_dns.port, f"_9090._tcp.{plain}", "SRV")  # unnamed ports have no SRV
    assert unnamed.rcode() == dns.rcode.NXDOMAIN

    ptr = await ask(cluster_dns.port, dns.reversename.from_address(cluster_ip).to_text(), "PTR")
    assert [r.target.to_text() for r in ptr.answer[0]] == [f"{name}."]


async def test_headless_service_answers_ready_endpoints_and_follows_changes(api, cluster_dns):  # noqa: F811
    await create_service(api, "db", [{"name": "pg", "port": 5432, "protocol": "TCP"}], clusterIP="None")
    name = f"db.default.svc.{DOMAIN}"
    empty = await ask(cluster_dns.port, name)
    assert empty.rcode() == dns.rcode.NXDOMAIN  # no ready endpoint yet: the spec says NXDOMAIN

    endpoints = [{"addresses": ["10.1.0.1"], "hostname": "db-0", "conditions": {"ready": True}},
                 {"addresses": ["10.1.0.2"], "hostname": "db-1", "conditions": {"ready": False}},
                 {"addresses": ["10.1.0.3"], "conditions": {"ready": True}}]
    body = endpoint_slice("db", endpoints, [{"name": "pg", "port": 15432, "protocol": "TCP"}])
    await put_slice(api, body)
    response = await answered(cluster_dns.port, name)
    assert addresses(response) == ["10.1.0.1", "10.1.0.3"]

    pet = await ask(cluster_dns.port, f"db-0.{name}")
    assert addresses(pet) == ["10.1.0.1"]
    unready = await ask(cluster_dns.port, f"db-1.{name}")
    assert unready.rcode() == dns.rcode.NXDOMAIN

    srv = await ask(cluster_dns.port, f"_pg._tcp.{name}", "SRV")
    assert sorted((r.port, r.target.to_text()) for r in srv.answer[0]) == [
        (15432, f"10-1-0-3.{name}."), (15432, f"db-0.{name}.")]
    assert addresses(srv, "additional") == ["10.1.0.1", "10.1.0.3"]
    ptr = await ask(cluster_dns.port, "1.0.1.10.in-addr.arpa", "PTR")
    assert [r.target.to_text() for r in ptr.answer[0]] == [f"db-0.{name}."]

    endpoints[1]["conditions"]["ready"] = True  # db-1 becomes ready
    await put_slice(api, body)

    async def three():
        return addresses(await ask(cluster_dns.port, name)) == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    await eventually(three, within=5.0)
    assert addresses(await ask(cluster_dns.port, f"db-1.{name}")) == ["10.1.0.2"]

    await api.delete(SLICES, body["metadata"]["name"], namespace="default")

    async def gone():
        return (await ask(cluster_dns.port, name)).rcode() == dns.rcode.NXDOMAIN
    await eventually(gone, within=5.0)


async def test_nxdomain_nodata_pod_records_and_schema_version(api, cluster_dns):  # noqa: F811
    await create_service(api, "web", [{"name": "http", "port": 80}])
    await answered(cluster_dns.port, f"web.default.svc.{DOMAIN}")
    port = cluster_dns.port
    missing = await ask(port, f"nope.default.svc.{DOMAIN}")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
    assert missing.authority[0].rdtype == dns.rdatatype.SOA
    for existing in (f"default.svc.{DOMAIN}", f"svc.{DOMAIN}", f"_tcp.web.default.svc.{DOMAIN}", DOMAIN):
        response = await ask(port, existing)
        assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, []), existing
    assert (await ask(port, f"nowhere.svc.{DOMAIN}")).rcode() == dns.rcode.NXDOMAIN

    pod = await ask(port, f"10-244-1-7.default.pod.{DOMAIN}")
    assert addresses(pod) == ["10.244.1.7"]
    assert (await ask(port, f"not-an-ip.default.pod.{DOMAIN}")).rcode() == dns.rcode.NXDOMAIN
    assert addresses(await ask(port, f"fd00--7.default.pod.{DOMAIN}", "AAAA")) == ["fd00::7"]

    version = await ask(port, f"dns-version.{DOMAIN}", "TXT")
    assert version.answer[0][0].strings == (b"1.1.0",)
    soa = await ask(port, DOMAIN, "SOA")
    assert soa.answer[0].rdtype == dns.rdatatype.SOA


async def test_external_name_is_a_cname_chased_upstream(api, cluster_dns):  # noqa: F811
    await api.create("v1/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                                     "spec": {"type": "ExternalName", "externalName": "www.example.test"}},
                     namespace="default")
    response = await answered(cluster_dns.port, f"ext.default.svc.{DOMAIN}")
    cname = response.find_rrset(response.answer, response.question[0].name, dns.rdataclass.IN, dns.rdatatype.CNAME)
    assert cname[0].target.to_text() == "www.example.test."
    assert addresses(response) == ["192.0.2.1"]  # the target's address, from the upstream


async def test_other_names_are_forwarded_upstream(cluster_dns, upstream):  # noqa: F811
    response = await ask(cluster_dns.port, "host.example.test")
    assert addresses(response) == ["192.0.2.1"]
    assert not response.flags & dns.flags.AA and response.flags & dns.flags.RA
    assert (await ask(cluster_dns.port, "missing.invalid")).rcode() == dns.rcode.NXDOMAIN
    before = upstream.udp_queries
    reverse = await ask(cluster_dns.port, "9.9.168.192.in-addr.arpa", "PTR")  # not the cluster's IP
    assert reverse.rcode() == dns.rcode.NXDOMAIN and upstream.udp_queries == before + 1


async def test_large_answers_are_truncated_over_udp_and_whole_over_tcp(api, cluster_dns, upstream):  # noqa: F811
    await create_service(api, "many", [{"name": "http", "port": 80}], clusterIP="None")
    ips = [f"10.9.{i // 250}.{i % 250 + 1}" for i in range(60)]
    await put_slice(api, endpoint_slice("many", [{"addresses": [ip]} for ip in ips],
                                        [{"name": "http", "port": 8080, "protocol": "TCP"}]))
    name = f"many.default.svc.{DOMAIN}"

    async def all_sixty():
        return len(addresses(await ask(cluster_dns.port, name, tcp=True))) == 60
    await eventually(all_sixty)
    small = await ask(cluster_dns.port, name)  # no EDNS: 512 bytes at most
    assert small.flags & dns.flags.TC and not small.answer
    edns = await ask(cluster_dns.port, name, use_edns=0, payload=4096)
    assert len(addresses(edns)) == 60 and not edns.flags & dns.flags.TC

    big = await ask(cluster_dns.port, "big.example.test", "TXT")  # forwarded: truncated upstream too
    assert big.flags & dns.flags.TC
    whole = await ask(cluster_dns.port, "big.example.test", "TXT", tcp=True)
    assert len(whole.answer[0]) == 40 and upstream.tcp_queries == 1


async def test_servfail_when_no_upstream_answers(api):  # noqa: F811
    dead = await FakeUpstream(silent=True).start()
    instance = DNSServer(api, DNSConfig(port=0, upstreams=[f"127.0.0.1:{dead.port}"], forward_timeout=0.3))
    await instance.start()
    try:
        response = await ask(instance.port, "host.example.test")
        assert response.rcode() == dns.rcode.SERVFAIL and dead.udp_queries == 1
        assert (await ask(instance.port, f"nope.default.svc.{DOMAIN}")).rcode() == dns.rcode.NXDOMAIN
    finally:
        await instance.stop()
        await dead.stop()


async def test_malformed_packets_get_formerr_and_the_server_goes_on(cluster_dns):  # noqa: F811
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect(("127.0.0.1", cluster_dns.port))
        garbage = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\xff\xfe\x00"  # a bad question
        await loop.sock_sendall(sock, garbage)
        async with asyncio.timeout(5):
            reply = await loop.sock_recv(sock, 512)
        query_id, flags = struct.unpack("!HH", reply[:4])
        assert query_id == 0x1234 and flags & dns.flags.QR and flags & 0xF == dns.rcode.FORMERR
        await loop.sock_sendall(sock, b"\x00\x01")  # shorter than a header: dropped
        await loop.sock_sendall(sock, b"\x00" * 3000)  # zero counts, long trailing junk
        async with asyncio.timeout(5):
            reply = await loop.sock_recv(sock, 512)
        assert struct.unpack("!H", reply[2:4])[0] & 0xF == dns.rcode.FORMERR
    finally:
        sock.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", cluster_dns.port)  # and over TCP
    try:
        writer.write(struct.pack("!H", len(garbage)) + garbage)
        async with asyncio.timeout(5):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = await reader.readexactly(length)
        assert struct.unpack("!H", reply[2:4])[0] & 0xF == dns.rcode.FORMERR
    finally:
        writer.close()
    # still serving
    assert (await ask(cluster_dns.port, f"dns-version.{DOMAIN}", "TXT")).answer
    assert (await ask(cluster_dns.port, f"dns-version.{DOMAIN}", "TXT", tcp=True)).answer


async def test_publish_service_names_the_server_in_kube_system(api, cluster_dns):  # noqa: F811
    service = await publish_service(api, "127.0.0.1", cluster_dns.port)
    assert [(p["name"], p["protocol"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("dns", "UDP", cluster_dns.port, cluster_dns.port), ("dns-tcp", "TCP", cluster_dns.port, cluster_dns.port)]
    assert "selector" not in service["spec"] and service["metadata"]["labels"]["k8s-app"] == "kube-dns"
    endpoints = await api.get("v1/endpoints", "kube-dns", namespace="kube-system")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
    response = await answered(cluster_dns.port, f"kube-dns.kube-system.svc.{DOMAIN}")
    assert addresses(response) == [service["spec"]["clusterIP"]]

    again = await publish_service(api, "127.0.0.1", 5353)  # a restart on another port: updated in place
    assert again["spec"]["clusterIP"] == service["spec"]["clusterIP"]
    assert {p["port"] for p in again["spec"]["ports"]} == {5353}
    endpoints = await api.get("v1/endpoints", "kube-dns", namespace="kube-system")
    assert {p["port"] for p in endpoints["subsets"][0]["ports"]} == {5353}


async def test_without_the_api_cluster_names_servfail_and_forwarding_works(upstream):  # noqa: F811
    from hyperkube.client import Client, Config

    probe = socket.socket()  # a port nobody listens on: the API is down
    probe.bind(("127.0.0.1", 0))
    down = Client(Config(server=f"http://127.0.0.1:{probe.getsockname()[1]}"))
    probe.close()
    instance = DNSServer(down, DNSConfig(port=0, upstreams=[f"127.0.0.1:{upstream.port}"], startup_timeout=0.2))
    await instance.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", instance.port)  # an idle TCP client
    try:
        assert (await ask(instance.port, f"web.default.svc.{DOMAIN}")).rcode() == dns.rcode.SERVFAIL
        assert addresses(await ask(instance.port, "host.example.test")) == ["192.0.2.1"]
    finally:
        async with asyncio.timeout(5):  # stopping does not wait for the idle client
            await instance.stop()
        writer.close()
        await down.close()


def test_upstreams_from_resolv_conf_and_flags():
    text = ("# generated\nsearch corp.example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0  # link-local\n"
            "nameserver not-an-ip\n;nameserver 192.0.2.99\noptions ndots:2\n")
    assert parse_resolv_conf(text) == ["192.0.2.53", "fe80::1"]
    assert [parse_upstream(u) for u in ("192.0.2.1", "192.0.2.1:5353", "[fd00::1]:5353", "fd00::1")] == [
        ("192.0.2.1", 53), ("192.0.2.1", 5353), ("fd00::1", 5353), ("fd00::1", 53)]
    for bad in ("dns.example", "192.0.2.1:0", "192.0.2.1:x"):
        with pytest.raises(ValueError):
            parse_upstream(bad)
