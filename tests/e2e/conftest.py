"""Fixtures: a real hyperkube apiserver process over TLS with Node,RBAC, and the real kubectl as
its admin (see _cluster.py for the Cluster API: component identities, kubelets, raw HTTPS)."""

from tests.e2e._cluster import cluster  # noqa: F401
