from tests.scheduler._objects import node, pod
from tests.scheduler.conftest import eventually


async def test_one_pod_is_bound(client, start_scheduler):
    await client.create("v1/nodes", node("n1"))
    await client.create("v1/pods", pod("p1", cpu="1"), namespace="default")
    await start_scheduler()

    async def bound():
        p = await client.get("v1/pods", "p1", namespace="default")
        return p["spec"].get("nodeName")

    assert await eventually(bound) == "n1"
