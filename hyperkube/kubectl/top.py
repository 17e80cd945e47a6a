"""``kubectl top node|pod``: usage from the ``metrics.k8s.io/v1beta1`` API, printed as kubectl does.

- ``top node [NAME]``: ``NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)``; the percentages are
  of the Node's allocatable (its capacity with ``show_capacity``), integer-divided as kubectl does.
- ``top pod [NAME]``: ``NAME CPU(cores) MEMORY(bytes)``, a pod's usage being the sum of its
  containers'; ``-A`` adds a leading NAMESPACE column, ``--containers`` one row per container
  under ``POD NAME``; ``--sum`` a total line.
- CPU prints in millicores rounded up (``330m`` for ``329087452n``), memory in whole Mi rounded
  down; ``sort_by`` ``cpu`` or ``memory`` orders the rows by that, highest first.
- Without metrics.k8s.io in discovery: ``error: Metrics API not available``; with it but nothing
  measured yet: ``error: metrics not available yet``; no pods at all: ``No resources found``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from hyperkube.kubectl.printers import tabulate
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.machinery.quantity import parse_quantity as _parse

BASE = "/apis/metrics.k8s.io/v1beta1"
MI = 1024 * 1024


def parse_quantity(text: str) -> float:
    return float(_parse(text).value)


def _millis(value: float) -> int:
    """Quantity.MilliValue(): rounded up."""
    return math.ceil(round(value * 1000, 6))


def _cpu(value: float) -> str:
    return f"{_millis(value)}m"


def _memory(value: float) -> str:
    return f"{math.ceil(round(value, 6)) // MI}Mi"


def _usage(usage: dict[str, Any]) -> tuple[float, float]:
    return parse_quantity(usage.get("cpu") or "0"), parse_quantity(usage.get("memory") or "0")


def _percent(used: float, available: str | None) -> str:
    if not available:
        return "<unknown>"
    total = _millis(parse_quantity(available))
    return f"{_millis(used) * 100 // total}%" if total else "<unknown>"


async def top(session: Session, kind: str, names: list[str], *, all_namespaces: bool, selector: str | None,
              containers: bool, no_headers: bool, sort_by: str | None = None, field_selector: str | None = None,
              show_capacity: bool = False, sum: bool = False) -> int:  # noqa: A002 - kubectl's flag name
    if sort_by not in (None, "", "cpu", "memory"):
        raise KubectlError(f"--sort-by accepts only cpu or memory, not {sort_by}")
    resources = await session.discovery.resources()
    if not any(r.group == "metrics.k8s.io" for r in resources):
        raise KubectlError("Metrics API not available")
    if kind in ("node", "nodes", "no"):
        rows = await _node_rows(session, names, selector, show_capacity, sort_by or "")
    else:
        rows = await _pod_rows(session, names, selector, field_selector, all_namespaces, containers,
                               sort_by or "", sum)
        if rows is None:
            return 0
    # kubectl ends every cell with a tab, the last one too: its lines carry the last column's padding
    sys.stdout.write(tabulate([row + [""] for row in (rows[1:] if no_headers else rows)]))
    return 0


async def _node_rows(session: Session, names: list[str], selector: str | None, show_capacity: bool,
                     sort_by: str) -> list[list[str]]:
    if names:
        items = [await session.client.request("GET", f"{BASE}/nodes/{name}") for name in names]
    else:
        params = [("labelSelector", selector)] if selector else []
        items = (await session.client.request("GET", f"{BASE}/nodes", params=params)).get("items") or []
    if not items:
        raise KubectlError("metrics not available yet")
    nodes = (await session.client.request("GET", "/api/v1/nodes")).get("items") or []
    available = {(n.get("metadata") or {}).get("name"): (n.get("status") or {}).get(
        "capacity" if show_capacity else "allocatable") or {} for n in nodes}
    measured = [((i.get("metadata") or {}).get("name", ""), *_usage(i.get("usage") or {})) for i in items]
    measured = _sorted(measured, sort_by, 1)
    rows = [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]]
    for name, cpu, memory in measured:
        limits = available.get(name) or {}
        rows.append([name, _cpu(cpu), _percent(cpu, limits.get("cpu")), _memory(memory),
                     _percent(memory, limits.get("memory"))])
    return rows


async def _pod_rows(session: Session, names: list[str], selector: str | None, field_selector: str | None,
                    all_namespaces: bool, containers: bool, sort_by: str, total: bool) -> list[list[str]] | None:
    namespace = session.namespace
    where = "pods" if all_namespaces else f"namespaces/{namespace}/pods"
    if names:
        items = [await session.client.request("GET", f"{BASE}/namespaces/{namespace}/pods/{name}") for name in names]
    else:
        params = [(k, v) for k, v in (("labelSelector", selector), ("fieldSelector", field_selector)) if v]
        items = (await session.client.request("GET", f"{BASE}/{where}", params=params)).get("items") or []
    if not items:
        params = [(k, v) for k, v in (("labelSelector", selector), ("fieldSelector", field_selector),
                                      ("limit", "1")) if v]
        path = "/api/v1/pods" if all_namespaces else f"/api/v1/namespaces/{namespace}/pods"
        if (await session.client.request("GET", path, params=params)).get("items"):
            raise KubectlError("metrics not available yet")
        print("No resources found" if all_namespaces else f"No resources found in {namespace} namespace.",
              file=sys.stderr)
        return None
    pods = []
    for item in items:
        meta = item.get("metadata") or {}
        parts = [(c.get("name", ""), *_usage(c.get("usage") or {})) for c in item.get("containers") or []]
        pods.append((meta.get("namespace", ""), meta.get("name", ""), sum(p[1] for p in parts),
                     sum(p[2] for p in parts), parts))
    pods = _sorted(pods, sort_by, 2)
    prefix = ["NAMESPACE"] if all_namespaces else []
    rows = [prefix + (["POD", "NAME"] if containers else ["NAME"]) + ["CPU(cores)", "MEMORY(bytes)"]]
    for pod_namespace, name, cpu, memory, parts in pods:
        lead = [pod_namespace] if all_namespaces else []
        if containers:
            for container, c_cpu, c_memory in parts:
                rows.append(lead + [name, container, _cpu(c_cpu), _memory(c_memory)])
        else:
            rows.append(lead + [name, _cpu(cpu), _memory(memory)])
    if total:
        width = len(rows[0]) - 2
        rows.append([""] * width + ["________", "________"])
        rows.append([""] * width + [_cpu(sum(p[2] for p in pods)), _memory(sum(p[3] for p in pods))])
    return rows


def _sorted(entries: list[Any], sort_by: str, cpu_index: int) -> list[Any]:
    """Highest first by cpu or memory (the field after cpu); as listed without ``sort_by``."""
    if not sort_by:
        return entries
    index = cpu_index if sort_by == "cpu" else cpu_index + 1
    return sorted(entries, key=lambda e: e[index], reverse=True)
