"""The live status of ``hyperkube up`` on a terminal: nodes, pods and recent events.

It is a client of the API server like kubectl (three lists every two seconds), drawn with
rich's ``Live`` so the table is redrawn in place; rendering is cheap and stays on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any


def _ready(node: dict[str, Any]) -> str:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "NotReady"
    return "Unknown"


def render(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], events: list[dict[str, Any]]) -> Any:
    from rich.console import Group
    from rich.table import Table

    node_table = Table(title=f"Nodes ({len(nodes)})", expand=True)
    for column in ("NAME", "STATUS", "IP"):
        node_table.add_column(column)
    for node in nodes[:20]:
        addresses = (node.get("status") or {}).get("addresses") or []
        ip = next((a.get("address", "") for a in addresses if a.get("type") == "InternalIP"), "")
        node_table.add_row(node["metadata"]["name"], _ready(node), ip)
    pod_table = Table(title=f"Pods ({len(pods)})", expand=True)
    for column in ("NAMESPACE", "NAME", "PHASE", "NODE", "IP"):
        pod_table.add_column(column)
    for pod in pods[:20]:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        pod_table.add_row(meta.get("namespace", ""), meta["name"], status.get("phase", ""),
                          spec.get("nodeName", ""), status.get("podIP", ""))
    event_table = Table(title="Recent events", expand=True)
    for column in ("OBJECT", "REASON", "MESSAGE"):
        event_table.add_column(column)
    recent = sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")[-8:]
    for event in recent:
        involved = event.get("involvedObject") or {}
        event_table.add_row(f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}",
                            event.get("reason", ""), (event.get("message") or "")[:80])
    return Group(node_table, pod_table, event_table)


@contextlib.contextmanager
def _logs_above(live: Any) -> Iterator[None]:
    """Log lines go through rich's stderr proxy while the table is shown, so they scroll above
    it instead of tearing it (the log handler captured the real stderr when it was made)."""
    import logging
    import sys

    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is sys.__stderr__]
    previous = [h.setStream(sys.stderr) for h in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            if stream is not None:
                handler.setStream(stream)


async def live_status(config: Any, stop: asyncio.Event, period: float = 2.0) -> None:
    """``config``: a client Config (up passes the admin's: https, the CA, the admin certificate)."""
    from rich.live import Live

    from hyperkube.client import Client

    async with Client(config) as client:
        with Live(render([], [], []), auto_refresh=False, transient=True) as live, _logs_above(live):
            while not stop.is_set():
                started = time.monotonic()
                with contextlib.suppress(Exception):
                    nodes, pods, events = await asyncio.gather(
                        client.list("v1/nodes"), client.list("v1/pods"), client.list("v1/events", limit=200))
                    live.update(render(nodes.get("items") or [], pods.get("items") or [],
                                       events.get("items") or []), refresh=True)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.1, period - (time.monotonic() - started))):
                        await stop.wait()
