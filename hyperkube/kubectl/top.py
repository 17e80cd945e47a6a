"""``kubectl top pod|node``: usage from the ``metrics.k8s.io/v1beta1`` API, if it is served.

CPU prints in millicores (``3m``) and memory in Mi (``12Mi``), as kubectl does; without
the metrics API in discovery the answer is kubectl's "Metrics API not available".
"""

from __future__ import annotations

import sys
from typing import Any

from hyperkube.kubectl.printers import tabulate
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.machinery.quantity import parse_quantity as _parse


def parse_quantity(text: str) -> float:
    return float(_parse(text).value)


def _cpu(value: str) -> str:
    return f"{int(parse_quantity(value) * 1000)}m"


def _memory(value: str) -> str:
    return f"{int(parse_quantity(value) / (1024 * 1024))}Mi"


async def top(session: Session, kind: str, names: list[str], *, all_namespaces: bool, selector: str | None,
              containers: bool, no_headers: bool) -> int:
    resources = await session.discovery.resources()
    if not any(r.group == "metrics.k8s.io" for r in resources):
        raise KubectlError("Metrics API not available", raw=False)
    nodes = kind in ("node", "nodes", "no")
    path = "/apis/metrics.k8s.io/v1beta1/" + ("nodes" if nodes else (
        "pods" if all_namespaces else f"namespaces/{session.namespace}/pods"))
    params = [("labelSelector", selector)] if selector else []
    listed: dict[str, Any] = await session.client.request("GET", path, params=params)
    items = [i for i in listed.get("items") or [] if not names or (i.get("metadata") or {}).get("name") in names]
    rows: list[list[str]] = []
    if nodes:
        rows.append(["NAME", "CPU(cores)", "MEMORY(bytes)"])
        for item in items:
            usage = item.get("usage") or {}
            rows.append([item["metadata"]["name"], _cpu(usage.get("cpu", "0")), _memory(usage.get("memory", "0"))])
    else:
        head = (["NAMESPACE"] if all_namespaces else []) + ["NAME"] + (["CONTAINER"] if containers else [])
        rows.append(head + ["CPU(cores)", "MEMORY(bytes)"])
        for item in items:
            meta = item.get("metadata") or {}
            prefix = [meta.get("namespace", "")] if all_namespaces else []
            if containers:
                for c in item.get("containers") or []:
                    usage = c.get("usage") or {}
                    rows.append(prefix + [meta.get("name", ""), c.get("name", ""), _cpu(usage.get("cpu", "0")),
                                          _memory(usage.get("memory", "0"))])
            else:
                cpu = sum(parse_quantity((c.get("usage") or {}).get("cpu", "0")) for c in item.get("containers") or [])
                memory = sum(parse_quantity((c.get("usage") or {}).get("memory", "0"))
                             for c in item.get("containers") or [])
                rows.append(prefix + [meta.get("name", ""), f"{int(cpu * 1000)}m",
                                      f"{int(memory / (1024 * 1024))}Mi"])
    if len(rows) == 1:
        print(f"No resources found in {session.namespace} namespace." if not nodes else "No resources found",
              file=sys.stderr)
        return 0
    sys.stdout.write(tabulate(rows[1:] if no_headers else rows))
    return 0
