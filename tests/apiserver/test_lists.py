"""Lists: selectors, paging over one snapshot, resourceVersion rules, Tables."""

from __future__ import annotations

import asyncio

from tests.apiserver._server import TABLE, pod

PODS = "/api/v1/namespaces/default/pods"


async def make_pods(client, count: int, namespace: str = "default") -> None:
    await asyncio.gather(*(client.post(f"/api/v1/namespaces/{namespace}/pods",
                                       pod(f"p{i:03d}", {"app": "web" if i % 2 else "db", "i": str(i)}))
                           for i in range(count)))


def names(listing) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


async def test_label_selectors(client):
    await make_pods(client, 6)
    _, web = await client.get(PODS + "?labelSelector=app%3Dweb")
    assert names(web) == ["p001", "p003", "p005"]
    _, other = await client.get(PODS + "?labelSelector=app!%3Dweb")
    assert names(other) == ["p000", "p002", "p004"]
    _, inset = await client.get(PODS + "?labelSelector=i+in+(1,2)")
    assert names(inset) == ["p001", "p002"]
    _, notin = await client.get(PODS + "?labelSelector=i+notin+(1,2),app")
    assert names(notin) == ["p000", "p003", "p004", "p005"]
    _, none = await client.get(PODS + "?labelSelector=!app")
    assert names(none) == []
    status, error = await client.get(PODS + "?labelSelector=a+in+(")
    assert status == 400 and error["reason"] == "BadRequest"


async def test_field_selectors(client):
    await make_pods(client, 3)
    await client.post(PODS, pod("bound", nodeName="n1"))
    _, one = await client.get(PODS + "?fieldSelector=metadata.name%3Dp001")
    assert names(one) == ["p001"]
    _, on_node = await client.get("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")
    assert names(on_node) == ["bound"]
    _, unbound = await client.get(PODS + "?fieldSelector=spec.nodeName%3D")
    assert names(unbound) == ["p000", "p001", "p002"]
    status, error = await client.get(PODS + "?fieldSelector=spec.bogus%3Dx")
    assert status == 400 and "field label not supported" in error["message"]
    _, ns = await client.get("/api/v1/namespaces?fieldSelector=metadata.name%3Ddefault")
    assert names(ns) == ["default"]


async def test_all_namespaces_and_namespace_isolation(client):
    await client.post("/api/v1/namespaces", {"metadata": {"name": "default2"}})
    await make_pods(client, 2)
    await make_pods(client, 1, "default2")
    _, everywhere = await client.get("/api/v1/pods")
    assert len(everywhere["items"]) == 3
    _, only = await client.get(PODS)
    assert len(only["items"]) == 2  # "default" must not match "default2"


async def test_paging_is_one_snapshot(client):
    await make_pods(client, 10)
    _, first = await client.get(PODS + "?limit=4")
    assert names(first) == ["p000", "p001", "p002", "p003"]
    assert first["metadata"]["remainingItemCount"] == 6
    token = first["metadata"]["continue"]
    await client.post(PODS, pod("p0055"))  # written between pages: not in this list
    await client.delete(f"{PODS}/p007")
    _, second = await client.get(PODS + f"?limit=4&continue={token}")
    assert names(second) == ["p004", "p005", "p006", "p007"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    _, third = await client.get(PODS + f"?limit=4&continue={second['metadata']['continue']}")
    assert names(third) == ["p008", "p009"] and "continue" not in third["metadata"]
    status, _ = await client.get(PODS + "?continue=garbage")
    assert status == 400


async def test_paging_with_a_selector(client):
    await make_pods(client, 10)
    _, page = await client.get(PODS + "?limit=2&labelSelector=app%3Dweb")
    assert names(page) == ["p001", "p003"]
    _, rest = await client.get(PODS + f"?limit=10&labelSelector=app%3Dweb&continue={page['metadata']['continue']}")
    assert names(rest) == ["p005", "p007", "p009"]


async def test_resource_version_match(client):
    await make_pods(client, 2)
    _, before = await client.get(PODS)
    rv = before["metadata"]["resourceVersion"]
    await client.post(PODS, pod("later"))
    _, exact = await client.get(PODS + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert names(exact) == ["p000", "p001"] and exact["metadata"]["resourceVersion"] == rv
    _, newer = await client.get(PODS + f"?resourceVersion={rv}&resourceVersionMatch=NotOlderThan")
    assert "later" in names(newer)
    status, error = await client.get(PODS + "?resourceVersionMatch=Exact")
    assert status == 422
    status, _ = await client.get(PODS + "?resourceVersion=abc")
    assert status == 400
    status, error = await client.get(PODS + "?resourceVersion=99999999&resourceVersionMatch=NotOlderThan")
    assert status == 504 and error["reason"] == "Timeout"


async def test_list_as_table(client):
    await make_pods(client, 3)
    status, table = await client.get(PODS, headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [row["cells"][0] for row in table["rows"]] == ["p000", "p001", "p002"]
    assert table["rows"][0]["object"]["metadata"]["labels"]["app"] == "db"
    assert table["metadata"]["resourceVersion"]
    _, full = await client.get(PODS + "?includeObject=Object", headers={"Accept": TABLE})
    assert full["rows"][0]["object"]["kind"] == "Pod"
    _, bare = await client.get(PODS + "?includeObject=None", headers={"Accept": TABLE})
    assert "object" not in bare["rows"][0]
    status, _ = await client.get(PODS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert status == 406


async def test_continue_at_a_compacted_revision_is_410(client, server):
    await make_pods(client, 4)
    _, first = await client.get(PODS + "?limit=2")
    await client.post(PODS, pod("newer"))
    current = int((await client.get(PODS))[1]["metadata"]["resourceVersion"])
    await server.store.compact(current)
    status, error = await client.get(PODS + f"?limit=2&continue={first['metadata']['continue']}")
    assert status == 410 and error["reason"] == "Expired"
