"""Node IPAM against a real API server: --allocate-node-cidrs / --cluster-cidr."""

from __future__ import annotations

from hyperkube.client import Client
from tests.controllers.conftest import eventually

NODES = "v1/nodes"


async def cidr_of(kube: Client, name: str) -> str | None:
    return ((await kube.get(NODES, name)).get("spec") or {}).get("podCIDR")


async def test_nodes_get_distinct_pod_cidrs_and_existing_ones_are_kept(kube: Client, controllers) -> None:
    await kube.create(NODES, {"metadata": {"name": "old"}, "spec": {"podCIDR": "10.244.0.0/24",
                                                                    "podCIDRs": ["10.244.0.0/24"]}})
    await controllers("nodeipam", options={"allocate_node_cidrs": True, "cluster_cidr": "10.244.0.0/16"})
    for name in ("a", "b", "c"):
        await kube.create(NODES, {"metadata": {"name": name}})
    cidrs = [await eventually(lambda n=name: cidr_of(kube, n)) for name in ("a", "b", "c")]
    assert sorted(cidrs) == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    node = await kube.get(NODES, "a")
    assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]
    assert await cidr_of(kube, "old") == "10.244.0.0/24"


async def test_without_allocate_node_cidrs_nothing_is_written(kube: Client, controllers) -> None:
    manager = await controllers("nodeipam", options={"cluster_cidr": "10.244.0.0/16"})
    await kube.create(NODES, {"metadata": {"name": "a"}})
    await manager.controllers["nodeipam"].sync("a")
    assert await cidr_of(kube, "a") is None
