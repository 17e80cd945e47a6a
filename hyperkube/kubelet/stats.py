"""``/stats/summary`` (the kubelet Summary API, what metrics-server reads) from /proc, and ``/metrics``.

A container's usage is the sum over the processes of its process group (the shim's group:
the command and whatever it forked). CPU ``usageNanoCores`` is the rate since an earlier reading
of the same group at least MIN_WINDOW before (none on the first reading, as cAdvisor does);
``usageCoreNanoSeconds`` is the cumulative CPU time. Memory is RSS (``workingSetBytes`` =
``rssBytes`` = ``usageBytes``: there is no page-cache accounting without cgroups). The node's
figures come from /proc/stat and /proc/meminfo. The /proc scan runs in a thread. Sample
``time`` fields carry microseconds: the API server's metrics.k8s.io computes CPU rates from
two summaries' ``usageCoreNanoSeconds`` over the difference of their times.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from hyperkube.machinery.durations import now_rfc3339


def precise_rfc3339(ts: float) -> str:
    """A sample's time to the microsecond: rates computed from two samples need better than seconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_groups() -> dict[int, tuple[int, int]]:
    """pgid -> (cpu ticks, rss bytes) summed over every process of the group."""
    groups: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if len(fields) < 22:
            continue
        pgid = int(fields[2])
        ticks = int(fields[11]) + int(fields[12])
        rss = int(fields[21]) * PAGE
        cpu, memory = groups.get(pgid, (0, 0))
        groups[pgid] = (cpu + ticks, memory + rss)
    return groups


def node_usage() -> tuple[int, int, int]:
    """(cpu nanoseconds used by the host, memory total, memory available)."""
    with open("/proc/stat") as handle:
        parts = handle.readline().split()[1:]
    busy = sum(int(v) for i, v in enumerate(parts) if i not in (3, 4))  # all but idle and iowait
    memory: dict[str, int] = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            memory[key] = int(rest.split()[0]) * 1024
    return busy * (10 ** 9 // TICKS), memory.get("MemTotal", 0), memory.get("MemAvailable", 0)


MIN_WINDOW = 1.0  # seconds: a rate over less is noise (readers polling quickly keep the last one)


class StatsCollector:
    def __init__(self) -> None:
        #: cpu key -> (time, cumulative ns, last rate or None) of the baseline the next rate starts from
        self._previous: dict[Any, tuple[float, int, int | None]] = {}
        self._seen: set[Any] = set()
        self._lock = threading.Lock()  # summaries run in threads; two at once share the baselines

    def _cpu(self, key: Any, nanoseconds: int, now: float) -> dict[str, Any]:
        cpu: dict[str, Any] = {"time": precise_rfc3339(now), "usageCoreNanoSeconds": nanoseconds}
        self._seen.add(key)
        before = self._previous.get(key)
        if before is None or nanoseconds < before[1]:  # new, or the counter restarted
            self._previous[key] = (now, nanoseconds, None)
            return cpu
        then, total, rate = before
        if now - then >= MIN_WINDOW:
            rate = int((nanoseconds - total) / (now - then))
            self._previous[key] = (now, nanoseconds, rate)
        if rate is not None:
            cpu["usageNanoCores"] = rate
        return cpu

    def summary(self, node_name: str, started_at: float, pods: list[dict[str, Any]]) -> dict[str, Any]:
        """``pods``: [{pod, containers: [(name, started_at, pgid or None)]}]."""
        with self._lock:
            return self._summary(node_name, started_at, pods)

    def _summary(self, node_name: str, started_at: float, pods: list[dict[str, Any]]) -> dict[str, Any]:
        now = time.time()
        self._seen = set()
        groups = process_groups()
        busy, total, available = node_usage()
        stamp = precise_rfc3339(now)
        result_pods = []
        for item in pods:
            meta = item["pod"]["metadata"]
            pod_cpu = pod_rss = 0
            containers = []
            for name, started, pgid in item["containers"]:
                ticks, rss = groups.get(pgid, (0, 0)) if pgid else (0, 0)
                nanoseconds = ticks * (10 ** 9 // TICKS)
                pod_cpu += nanoseconds
                pod_rss += rss
                containers.append({"name": name, "startTime": now_rfc3339(started),
                                   "cpu": self._cpu((meta["uid"], name, pgid), nanoseconds, now),
                                   "memory": {"time": stamp, "usageBytes": rss, "workingSetBytes": rss,
                                              "rssBytes": rss}})
            result_pods.append({
                "podRef": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"]},
                "startTime": now_rfc3339(item.get("started_at") or now), "containers": containers,
                "cpu": self._cpu(("pod", meta["uid"]), pod_cpu, now),
                "memory": {"time": stamp, "usageBytes": pod_rss, "workingSetBytes": pod_rss, "rssBytes": pod_rss}})
        used = total - available
        for gone in set(self._previous) - self._seen:  # pods that left the node
            del self._previous[gone]
        return {"node": {"nodeName": node_name, "startTime": now_rfc3339(started_at),
                         "cpu": self._cpu("node", busy, now),
                         "memory": {"time": stamp, "availableBytes": available, "usageBytes": used,
                                    "workingSetBytes": used}},
                "pods": result_pods}
