#!/usr/bin/env python3
"""``hyperkube up`` budgets: time from start to a Ready node, and idle RSS of the whole cluster.

Each run starts ``hyperkube up --port 0`` as a real process over a fresh tmp data dir (HOME in
the tmp dir too, so no ~/.kube/config is touched) and polls the node over HTTP until its Ready
condition is True: ready_s = that moment - the moment the process was spawned (so it includes
Python start-up and imports; the poll is the admin over https, with the CA and client
certificate the first start generated in the data dir, so it includes making the PKI). Then the cluster idles ``--settle`` seconds and the RSS of the
process and all its descendants is summed from /proc (no psutil). The best of ``--runs`` runs
is reported for the start time, the median for RSS.

    scripts/bench_up.py [--runs 3] [--settle 5]

Final line: ``up: ready_s=X idle_rss_mb=Y``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(RSS in kB of root and every descendant, number of processes)."""
    tree = children()
    total, count, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    count += 1
        except OSError:
            pass
    return total, count


def admin_context(pki_dir: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=f"{pki_dir}/ca.crt")
    context.load_cert_chain(f"{pki_dir}/admin.crt", f"{pki_dir}/admin.key")
    return context


def node_ready(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v1/nodes", timeout=1, context=context) as response:
            nodes = json.load(response)["items"]
    except OSError:
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for n in nodes for c in (n.get("status") or {}).get("conditions") or [])


def one_run(settle: float) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        env = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": tmp}
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "hyperkube", "up", "--port", "0", "--data-dir", f"{tmp}/data",
             "--write-kubeconfig", f"{tmp}/kubeconfig"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env)
        found: list[str] = []
        seen = threading.Event()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                match = re.match(r"API server: (https://\S+)", line)
                if match and not found:
                    found.append(match.group(1))
                    seen.set()
            seen.set()

        threading.Thread(target=pump, daemon=True).start()
        try:
            if not seen.wait(60) or not found:
                raise SystemExit("hyperkube up did not print its API server address")
            context = admin_context(f"{tmp}/data/pki")
            while not node_ready(found[0], context):
                if time.monotonic() - started > 60:
                    raise SystemExit("no Ready node within 60 s")
                time.sleep(0.02)
            ready_s = time.monotonic() - started
            time.sleep(settle)
            rss_kb, processes = tree_rss_kb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return ready_s, rss_kb / 1024, processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of idling before RSS is read")
    args = parser.parse_args()
    results = [one_run(args.settle) for _ in range(args.runs)]
    print(f"{'run':>4} {'ready_s':>8} {'idle_rss_mb':>12} {'processes':>10}")
    for i, (ready_s, rss_mb, processes) in enumerate(results, 1):
        print(f"{i:>4} {ready_s:>8.2f} {rss_mb:>12.1f} {processes:>10}")
    ready = min(r[0] for r in results)
    rss = statistics.median(r[1] for r in results)
    print("budgets: ready_s <= 3, idle_rss_mb <= 150")
    print(f"up: ready_s={ready:.2f} idle_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
