"""Fixtures: a real in-process API server and a kubelet on it (see _harness.py)."""

from tests.kubelet._harness import api, client, kubelet_factory  # noqa: F401
