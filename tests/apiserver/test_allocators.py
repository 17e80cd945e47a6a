"""Service IP and node port allocation over the real SQLite store: explicit and random picks,
conflicts, release, repair, updates, and several allocators racing on one store, also through
two store instances on one database file (as two API server processes)."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from hyperkube.apiserver.allocators import Bitmap, ServiceAllocators
from hyperkube.machinery.errors import InternalError, Invalid
from hyperkube.storage import Store, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store(data_dir=str(tmp_path))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def service(name: str, kind: str = "ClusterIP", cluster_ip: str | None = None,
            node_ports: Sequence[int | None] = (), **spec: Any) -> dict[str, Any]:
    ports = [{"port": 80 + i, "protocol": "TCP", **({"nodePort": p} if p else {})}
             for i, p in enumerate(node_ports or [None])]
    body: dict[str, Any] = {"type": kind, "ports": ports, **spec}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": body}


async def stored_bits(store: Store, key: str) -> tuple[dict[str, Any], set[int]]:
    kv = await store.get(key)
    assert kv is not None
    obj = orjson.loads(kv.value)
    value = int.from_bytes(base64.b64decode(obj["data"]), "big")
    return obj, {i for i in range(value.bit_length()) if value >> i & 1}


async def test_random_cluster_ip_is_stored_as_a_range_allocation(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    svc = service("web")
    await alloc.allocate(svc)
    ip = svc["spec"]["clusterIP"]
    assert svc["spec"]["clusterIPs"] == [ip] and svc["spec"]["ipFamilies"] == ["IPv4"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.0.0/24")
    assert ip not in ("10.0.0.0", "10.0.0.1", "10.0.0.255")  # .1 is the kubernetes Service's
    assert "nodePort" not in svc["spec"]["ports"][0]
    obj, bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert obj["kind"] == "RangeAllocation" and obj["apiVersion"] == "v1" and obj["range"] == "10.0.0.0/24"
    assert bits == {int(ipaddress.ip_address(ip)) - int(ipaddress.ip_address("10.0.0.1"))}
    assert await store.get("/registry/ranges/servicenodeports") is None


async def test_explicit_ip_is_reserved_once(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    kubernetes = service("kubernetes", cluster_ip=alloc.kubernetes_service_ip)
    await alloc.allocate(kubernetes)
    assert kubernetes["spec"]["clusterIPs"] == ["10.0.0.1"]
    with pytest.raises(Invalid) as caught:
        await alloc.allocate(service("again", cluster_ip="10.0.0.1"))
    assert caught.value.message == ('Service "again" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.1"]: '
                                    "failed to allocate IP 10.0.0.1: provided IP is already allocated")
    assert caught.value.code == 422
    with pytest.raises(Invalid, match=r"not in the valid range. The range of valid IPs is 10.0.0.0/24"):
        await alloc.allocate(service("outside", cluster_ip="10.9.0.1"))
    headless = service("headless", cluster_ip="None")
    await alloc.allocate(headless)
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = service("ext", kind="ExternalName", externalName="example.com")
    await alloc.allocate(external)
    assert "clusterIP" not in external["spec"]
    _, bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert bits == {0}


async def test_node_ports_explicit_random_and_conflicts(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-30009")
    svc = service("np", kind="NodePort", node_ports=[30005, None, None])
    await alloc.allocate(svc)
    ports = [p["nodePort"] for p in svc["spec"]["ports"]]
    assert ports[0] == 30005 and len(set(ports)) == 3 and all(30000 <= p <= 30009 for p in ports)
    with pytest.raises(Invalid) as caught:
        await alloc.allocate(service("np2", kind="NodePort", node_ports=[30005]))
    assert caught.value.message == ('Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30005: '
                                    "provided port is already allocated")
    with pytest.raises(Invalid, match="The range of valid ports is 30000-30009"):
        await alloc.allocate(service("np3", kind="NodePort", node_ports=[31000]))
    # a failed allocation takes nothing: its cluster IP was not kept either
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert len(ip_bits) == 1
    lb = service("lb", kind="LoadBalancer", externalTrafficPolicy="Local")
    await alloc.allocate(lb)
    assert lb["spec"]["healthCheckNodePort"] != lb["spec"]["ports"][0]["nodePort"]
    _, port_bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert len(port_bits) == 5
    no_ports = service("lb2", kind="LoadBalancer", allocateLoadBalancerNodePorts=False)
    await alloc.allocate(no_ports)
    assert "nodePort" not in no_ports["spec"]["ports"][0]


async def test_release_and_exhaustion(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/29", "30000-30001")  # 6 usable, .1 kept
    services = [service(f"s{i}", kind="NodePort") for i in range(2)]
    for svc in services:
        await alloc.allocate(svc)
    with pytest.raises(InternalError, match="nodePort: range is full"):
        await alloc.allocate(service("s2", kind="NodePort"))
    await alloc.release(services[0])
    third = service("s3", kind="NodePort")
    await alloc.allocate(third)
    assert third["spec"]["ports"][0]["nodePort"] == services[0]["spec"]["ports"][0]["nodePort"]
    for i in range(3):  # s1 and s3 hold two of the five
        await alloc.allocate(service(f"c{i}"))
    with pytest.raises(InternalError, match="serviceIP: range is full"):
        await alloc.allocate(service("full"))
    _, bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert bits == {1, 2, 3, 4, 5}


async def test_repair_releases_leaks_and_reserves_what_services_use(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    kept, leaked = service("kept", kind="NodePort"), service("leaked", kind="NodePort")
    await alloc.allocate(kept)
    await alloc.allocate(leaked)
    # a service written without going through this allocator (e.g. restored from a backup)
    foreign = service("foreign", cluster_ip="10.0.0.77", node_ports=[31234], kind="NodePort")
    await alloc.repair([kept, foreign, service("headless", cluster_ip="None")])
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    offset = int(ipaddress.ip_address(kept["spec"]["clusterIP"])) - int(ipaddress.ip_address("10.0.0.1"))
    assert ip_bits == {offset, 76}
    _, port_bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert port_bits == {kept["spec"]["ports"][0]["nodePort"] - 30000, 1234}
    with pytest.raises(Invalid):
        await alloc.allocate(service("clash", cluster_ip="10.0.0.77"))
    await alloc.allocate(service("reuse", cluster_ip=leaked["spec"]["clusterIP"]))


async def test_repair_keeps_allocations_made_after_the_list(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    listed_at = await store.current_revision()
    late = service("late")
    await alloc.allocate(late)  # another server, after our list
    await alloc.repair([], list_revision=listed_at)
    with pytest.raises(Invalid):
        await alloc.allocate(service("clash", cluster_ip=late["spec"]["clusterIP"]))


async def test_concurrent_allocators_never_share_an_ip(store: Store) -> None:
    servers = [ServiceAllocators(store, "/registry", "10.1.0.0/26", "30000-30099") for _ in range(4)]
    services = [service(f"s{i}", kind="NodePort") for i in range(60)]
    await asyncio.gather(*(servers[i % 4].allocate(svc) for i, svc in enumerate(services)))
    ips = [s["spec"]["clusterIP"] for s in services]
    ports = [s["spec"]["ports"][0]["nodePort"] for s in services]
    assert len(set(ips)) == 60 and len(set(ports)) == 60
    _, bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert len(bits) == 60
    await asyncio.gather(*(servers[i % 4].release(svc) for i, svc in enumerate(services)))
    kv = await store.get("/registry/ranges/serviceips")
    assert kv is not None and orjson.loads(kv.value)["data"] == ""


def test_bitmap_uses_kubernetes_encoding_and_scans_forward() -> None:
    bitmap = Bitmap(65534)
    for offset in (0, 9, 65533):
        bitmap.set(offset)
    # big.Int bytes: big-endian, bit i = offset i
    assert int.from_bytes(base64.b64decode(bitmap.encode()), "big") == (1 << 65533) | (1 << 9) | 1
    assert Bitmap(65534, bitmap.encode()).bits == bitmap.bits
    assert bitmap.find_free(9) == 10
    assert bitmap.find_free(65533) == 1  # wraps around
    assert bitmap.find_free(65533, skip=1) == 2
    full = Bitmap(20)
    for offset in range(20):
        full.set(offset)
    assert full.find_free(7) is None
    full.clear(3)
    assert full.find_free(7) == 3


async def test_update_two_phase_keeps_allocations_and_follows_type_changes(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    old = service("web", kind="NodePort", node_ports=[None, 30080])
    await alloc.allocate(old)
    ip, first_port = old["spec"]["clusterIP"], old["spec"]["ports"][0]["nodePort"]

    # a PUT that omits clusterIP and nodePorts keeps them; a new port gets a new node port
    new = service("web", kind="NodePort", node_ports=[None, None, None])
    await alloc.update(new, old, release=False)
    assert new["spec"]["clusterIP"] == ip and new["spec"]["clusterIPs"] == [ip]
    ports = [p["nodePort"] for p in new["spec"]["ports"]]
    assert ports[:2] == [first_port, 30080] and ports[2] not in ports[:2]
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert bits == {p - 30000 for p in ports}

    with pytest.raises(Invalid, match=r"spec.clusterIPs\[0\]: Invalid value: \[\"10.0.0.99\"\]: may not change"):
        changed = service("web", kind="NodePort", cluster_ip="10.0.0.99", node_ports=ports)
        await alloc.update(changed, new)

    # NodePort -> ClusterIP drops the node ports (released once the write is done), keeps the IP
    cluster = service("web", kind="ClusterIP", node_ports=ports)
    await alloc.update(cluster, new, release=False)
    assert all("nodePort" not in p for p in cluster["spec"]["ports"])
    assert cluster["spec"]["clusterIP"] == ip
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert len(bits) == 3
    await alloc.release_dropped(new, cluster)
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert bits == set()

    # ClusterIP -> ExternalName gives up the IP; and back allocates a fresh one
    external = service("web", kind="ExternalName", cluster_ip=ip, externalName="example.com")
    await alloc.update(external, cluster, release=False)
    assert "clusterIP" not in external["spec"]
    await alloc.release_dropped(cluster, external)
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert ip_bits == set()
    again = service("web", kind="ClusterIP")
    await alloc.update(again, external, release=False)
    assert again["spec"]["clusterIP"] not in ("", None, "None")
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert len(ip_bits) == 1
    # a failed object write: give back what update reserved, keep what the old object holds
    grown = service("web", kind="NodePort")
    await alloc.update(grown, again, release=False)
    await alloc.release_dropped(grown, again)
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert bits == set() and grown["spec"]["clusterIP"] == again["spec"]["clusterIP"] and len(ip_bits) == 1


async def test_update_rejects_a_taken_node_port(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    other = service("other", kind="NodePort", node_ports=[30500])
    await alloc.allocate(other)
    old = service("web", kind="NodePort")
    await alloc.allocate(old)
    with pytest.raises(Invalid, match="30500: provided port is already allocated"):
        await alloc.update(service("web", kind="NodePort", node_ports=[30500]), old)
    # nothing changed: web still holds its own port
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert bits == {500, old["spec"]["ports"][0]["nodePort"] - 30000}


async def test_two_stores_on_one_file_never_share_an_ip(tmp_path: Path) -> None:
    """Two API server processes: each opens the database itself; their allocators race."""
    path = tmp_path / "state.db"
    first, second = open_store(f"sqlite://{path}"), open_store(f"sqlite://{path}")
    await first.start()
    await second.start()
    try:
        servers = [ServiceAllocators(first, "/registry", "10.2.0.0/27", "30000-30039"),
                   ServiceAllocators(second, "/registry", "10.2.0.0/27", "30000-30039")]
        services = [service(f"s{i}", kind="NodePort") for i in range(29)]  # 30 usable, .1 kept
        await asyncio.gather(*(servers[i % 2].allocate(svc) for i, svc in enumerate(services)))
        assert len({s["spec"]["clusterIP"] for s in services}) == 29
        assert len({s["spec"]["ports"][0]["nodePort"] for s in services}) == 29
        with pytest.raises(InternalError, match="range is full"):
            await servers[1].allocate(service("one-more"))
        _, bits = await stored_bits(first, "/registry/ranges/serviceips")
        assert bits == set(range(1, 30))
    finally:
        await first.close()
        await second.close()


async def test_many_concurrent_creates_through_one_server(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.3.0.0/24", "30000-32767")
    services = [service(f"s{i}", kind="NodePort", node_ports=[None, None]) for i in range(200)]
    await asyncio.gather(*(alloc.allocate(svc) for svc in services))
    assert len({s["spec"]["clusterIP"] for s in services}) == 200
    assert len({p["nodePort"] for s in services for p in s["spec"]["ports"]}) == 400


async def test_update_releases_what_the_new_spec_dropped_in_one_txn(store: Store) -> None:
    alloc = ServiceAllocators(store, "/registry", "10.0.0.0/24", "30000-32767")
    old = service("web", kind="NodePort", node_ports=[None, None])
    await alloc.allocate(old)
    ip = old["spec"]["clusterIP"]
    # an update that drops one port and omits clusterIP: IP kept, the dropped node port freed
    new = service("web", kind="NodePort", node_ports=[None])
    await alloc.update(new, old)
    assert new["spec"]["clusterIP"] == ip and new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    _, bits = await stored_bits(store, "/registry/ranges/servicenodeports")
    assert bits == {new["spec"]["ports"][0]["nodePort"] - 30000}
    _, ip_bits = await stored_bits(store, "/registry/ranges/serviceips")
    assert len(ip_bits) == 1
    # unchanged update (as kubectl replace sends it): nothing moves
    same = orjson.loads(orjson.dumps(new))
    await alloc.update(same, new)
    assert same == new
    assert (await stored_bits(store, "/registry/ranges/servicenodeports"))[1] == bits
    # to ExternalName: IP and node port freed together
    external = service("web", kind="ExternalName", externalName="example.com")
    await alloc.update(external, new)
    assert (await stored_bits(store, "/registry/ranges/servicenodeports"))[1] == set()
    assert (await stored_bits(store, "/registry/ranges/serviceips"))[1] == set()
