"""Fixtures: a real hyperkube apiserver process and the real kubectl (see _cluster.py)."""

from tests.e2e._cluster import cluster  # noqa: F401
