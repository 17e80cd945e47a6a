"""A real ``hyperkube apiserver`` process, the real kubectl and ours, on the same kubeconfig."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

import pytest

from tests.e2e._cluster import (
    BIN,
    Cluster,
    cluster,  # noqa: F401 - the module-scoped apiserver process
)

HYPERKUBE = BIN / "hyperkube"


_AGE = re.compile(r"(?<![^ ])\d+[smhdy](?:\d+[smh])?(?![^ \n])")


def _masked(text: str) -> list[list[str]]:
    return [line.split() for line in _AGE.sub("<age>", text).splitlines()]


@dataclass
class Kubectls:
    """Run the same command line through both tools against one cluster."""

    cluster: Cluster

    def theirs(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "kubectl"), *args], input=input, capture_output=True, text=True,
                              env=env or self.cluster.env(), timeout=timeout)

    def ours(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HYPERKUBE), "kubectl", *args], input=input, capture_output=True, text=True,
                              env=env or self.cluster.env(), timeout=timeout)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.ours(*args, input=input)
        assert result.returncode == 0, f"hyperkube kubectl {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    def same(self, *args: str, input: str | None = None, stderr: bool = True) -> subprocess.CompletedProcess[str]:
        """Both tools print the same stdout (and stderr) and exit alike.

        Ages move with the clock and the two processes ask the server at different moments,
        so a byte-for-byte difference is retried; if the clock keeps getting in the way, the
        outputs must still match once AGE-like cells are masked (and their padding with them)."""
        for attempt in range(3):
            theirs = self.theirs(*args, input=input)
            ours = self.ours(*args, input=input)
            if (ours.stdout, ours.returncode) == (theirs.stdout, theirs.returncode) and \
                    (not stderr or ours.stderr == theirs.stderr):
                return ours
            time.sleep(0.2 * (attempt + 1))
        assert ours.returncode == theirs.returncode, (args, ours.stderr, theirs.stderr)
        assert _masked(ours.stdout) == _masked(theirs.stdout), (args, ours.stdout, theirs.stdout)
        if stderr:
            assert ours.stderr == theirs.stderr, args
        return ours


@pytest.fixture(scope="module")
def k(cluster) -> Kubectls:  # noqa: F811
    return Kubectls(cluster)
