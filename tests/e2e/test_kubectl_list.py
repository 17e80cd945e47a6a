"""The real kubectl applies and creates a ``kind: List`` (its client-side validation reads
``/openapi/v2`` for List items)."""

from __future__ import annotations

from tests.e2e._cluster import Cluster

LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-a}
  data: {k: v}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-b}
  data: {k: w}
"""


def test_apply_and_create_a_list(cluster: Cluster) -> None:
    out = cluster.kubectl("apply", "-f", "-", input=LIST).stdout
    assert "configmap/listed-a created" in out and "configmap/listed-b created" in out
    out = cluster.kubectl("apply", "-f", "-", input=LIST.replace("{k: w}", "{k: x}")).stdout
    assert "configmap/listed-a unchanged" in out and "configmap/listed-b configured" in out
    cluster.kubectl("delete", "configmap", "listed-a", "listed-b")
    out = cluster.kubectl("create", "-f", "-", input=LIST).stdout
    assert "configmap/listed-a created" in out
