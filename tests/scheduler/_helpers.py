"""Reading what a user would read: where a pod landed, its events, its PodScheduled condition."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client
from tests.scheduler.conftest import eventually


async def node_of(client: Client, name: str, namespace: str = "default") -> str | None:
    found = await client.get("v1/pods", name, namespace=namespace)
    return found["spec"].get("nodeName")


async def wait_bound(client: Client, name: str, namespace: str = "default", within: float = 15.0) -> str:
    async def check() -> str | None:
        return await node_of(client, name, namespace)

    return await eventually(check, within)


async def events(client: Client, name: str, reason: str, namespace: str = "default") -> list[dict[str, Any]]:
    listed = await client.list("v1/events", namespace=namespace)
    return [e for e in listed["items"] if e["involvedObject"].get("name") == name and e["reason"] == reason]


async def wait_event(client: Client, name: str, reason: str, namespace: str = "default") -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await events(client, name, reason, namespace)
        return found[-1] if found else None

    return await eventually(check)


async def wait_unschedulable(client: Client, name: str, namespace: str = "default") -> dict[str, Any]:
    """The pod's PodScheduled=False condition once the scheduler has set it."""
    async def check() -> dict[str, Any] | None:
        found = await client.get("v1/pods", name, namespace=namespace)
        for condition in found.get("status", {}).get("conditions") or ():
            if condition["type"] == "PodScheduled" and condition["status"] == "False":
                return condition
        return None

    return await eventually(check)
