"""The Node authorizer: its graph from pod specs, and its decisions, from Attributes alone."""

from __future__ import annotations

from typing import Any

import pytest

from hyperkube.apiserver.auth import Attributes, Decision, User
from hyperkube.apiserver.authz.node import NodeAuthorizer

KUBELET = User("system:node:n1", groups=("system:nodes", "system:authenticated"))


class _NoHub:
    """The graph is fed by hand here; the mirrors are never started."""


def authorizer() -> NodeAuthorizer:
    return NodeAuthorizer(_NoHub(), "/registry/pods/", "/registry/persistentvolumeclaims/")


def pod(name: str, node: str | None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c"}], **spec}}


def ask(z: NodeAuthorizer, verb: str, resource: str, name: str = "", namespace: str = "ns", sub: str = "",
        group: str = "", who: User = KUBELET) -> tuple[Decision, str]:
    return z.decide(Attributes(who, verb, "/x", True, group, "v1", resource, sub, namespace, name))


def allowed(*args: Any, **kw: Any) -> bool:
    return ask(*args, **kw)[0] is Decision.ALLOW


def test_graph_follows_every_kind_of_reference() -> None:
    z = authorizer()
    z.graph.put("/registry/pods/ns/p", pod(
        "p", "n1", serviceAccountName="robot", imagePullSecrets=[{"name": "pull"}],
        volumes=[{"name": "s", "secret": {"secretName": "vol-secret"}},
                 {"name": "c", "configMap": {"name": "vol-cm"}},
                 {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                 {"name": "eph", "ephemeral": {"volumeClaimTemplate": {}}},
                 {"name": "proj", "projected": {"sources": [{"secret": {"name": "proj-secret"}},
                                                            {"configMap": {"name": "proj-cm"}}]}},
                 {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-secret"}}}],
        initContainers=[{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        containers=[{"name": "c", "env": [{"name": "a", "valueFrom": {"configMapKeyRef": {"name": "env-cm"}}}],
                     "envFrom": [{"configMapRef": {"name": "from-cm"}}]}]))
    for resource, name in (("secrets", "pull"), ("secrets", "vol-secret"), ("secrets", "proj-secret"),
                           ("secrets", "csi-secret"), ("secrets", "init-env"), ("configmaps", "vol-cm"),
                           ("configmaps", "proj-cm"), ("configmaps", "env-cm"), ("configmaps", "from-cm"),
                           ("persistentvolumeclaims", "data"), ("persistentvolumeclaims", "p-eph"),
                           ("serviceaccounts", "robot")):
        assert allowed(z, "get", resource, name), (resource, name)
        assert not allowed(z, "get", resource, name, namespace="other"), (resource, name)
    assert allowed(z, "create", "serviceaccounts", "robot", sub="token")
    assert not allowed(z, "create", "serviceaccounts", "default", sub="token")
    decision, reason = ask(z, "get", "secrets", "unrelated")
    assert decision is Decision.NO_OPINION and reason == "no relationship found between node 'n1' and this object"
    assert not allowed(z, "list", "secrets")  # only individual objects
    assert not allowed(z, "update", "secrets", "pull")  # only reads


def test_graph_forgets_pods_that_leave_and_counts_shared_objects() -> None:
    z = authorizer()
    z.graph.put("k1", pod("a", "n1", volumes=[{"name": "s", "secret": {"secretName": "shared"}}]))
    z.graph.put("k2", pod("b", "n1", volumes=[{"name": "s", "secret": {"secretName": "shared"}}]))
    z.graph.delete("k1")
    assert allowed(z, "get", "secrets", "shared")
    z.graph.put("k2", pod("b", "n2", volumes=[{"name": "s", "secret": {"secretName": "shared"}}]))  # moved
    assert not allowed(z, "get", "secrets", "shared")
    z.graph.put("k3", pod("c", None, volumes=[{"name": "s", "secret": {"secretName": "pending"}}]))
    assert not allowed(z, "get", "secrets", "pending")  # not scheduled: nobody's
    assert z.graph.uses.get("n1") is None


def test_persistent_volumes_through_bound_claims() -> None:
    z = authorizer()
    z.graph.put("k", pod("p", "n1", volumes=[{"name": "c", "persistentVolumeClaim": {"claimName": "data"}}]))
    assert not allowed(z, "get", "persistentvolumes", "pv-1", namespace="")
    z.graph.claims.put("c", {"metadata": {"namespace": "ns", "name": "data"}, "spec": {"volumeName": "pv-1"}})
    assert allowed(z, "get", "persistentvolumes", "pv-1", namespace="")
    z.graph.claims.put("c", {"metadata": {"namespace": "ns", "name": "data"}, "spec": {"volumeName": "pv-2"}})
    assert not allowed(z, "get", "persistentvolumes", "pv-1", namespace="")
    assert allowed(z, "get", "persistentvolumes", "pv-2", namespace="")
    z.graph.delete("k")
    assert not allowed(z, "get", "persistentvolumes", "pv-2", namespace="")
    z.graph.put("k", pod("p", "n1", volumes=[{"name": "c", "persistentVolumeClaim": {"claimName": "data"}}]))
    assert allowed(z, "get", "persistentvolumes", "pv-2", namespace="")
    z.graph.claims.delete("c")
    assert not allowed(z, "get", "persistentvolumes", "pv-2", namespace="")


@pytest.mark.parametrize("verb,resource,name,namespace,sub,group,expected", [
    ("get", "nodes", "n2", "", "", "", True),
    ("list", "nodes", "", "", "", "", True),
    ("create", "nodes", "", "", "", "", True),
    ("patch", "nodes", "n1", "", "", "", True),
    ("patch", "nodes", "n1", "", "status", "", True),
    ("patch", "nodes", "n2", "", "status", "", False),
    ("update", "nodes", "n2", "", "", "", False),
    ("delete", "nodes", "n2", "", "", "", False),
    ("list", "pods", "", "", "", "", True),
    ("create", "pods", "", "ns", "", "", True),  # mirror pods (NodeRestriction checks the node)
    ("patch", "pods", "mine", "ns", "status", "", True),
    ("patch", "pods", "theirs", "ns", "status", "", False),
    ("delete", "pods", "mine", "ns", "", "", True),
    ("delete", "pods", "theirs", "ns", "", "", False),
    ("update", "pods", "mine", "ns", "", "", False),
    ("create", "events", "", "ns", "", "", True),
    ("create", "events", "", "ns", "", "events.k8s.io", True),
    ("delete", "events", "e", "ns", "", "", False),
    ("get", "leases", "n1", "kube-node-lease", "", "coordination.k8s.io", True),
    ("create", "leases", "", "kube-node-lease", "", "coordination.k8s.io", True),
    ("update", "leases", "n2", "kube-node-lease", "", "coordination.k8s.io", False),
    ("get", "leases", "n1", "kube-system", "", "coordination.k8s.io", False),
    ("list", "services", "", "", "", "", True),
    ("create", "certificatesigningrequests", "", "", "", "certificates.k8s.io", True),
    ("create", "subjectaccessreviews", "", "", "", "authorization.k8s.io", True),
    ("create", "clusterrolebindings", "", "", "", "rbac.authorization.k8s.io", False),
    ("list", "secrets", "", "ns", "", "", False),
    ("delete", "namespaces", "ns", "", "", "", False),
])
def test_kubelet_decisions(verb: str, resource: str, name: str, namespace: str, sub: str, group: str,
                           expected: bool) -> None:
    z = authorizer()
    z.graph.put("a", pod("mine", "n1"))
    z.graph.put("b", pod("theirs", "n2"))
    assert allowed(z, verb, resource, name, namespace, sub, group) is expected


def test_only_node_identities_are_judged() -> None:
    z = authorizer()
    z.graph.put("a", pod("mine", "n1", volumes=[{"name": "s", "secret": {"secretName": "s"}}]))
    impostor = User("system:node:n1", groups=("system:authenticated",))  # name without the group
    assert ask(z, "get", "secrets", "s", who=impostor) == (Decision.NO_OPINION, "")
    assert ask(z, "get", "nodes", "n1", who=User("alice", groups=("system:nodes",))) == (Decision.NO_OPINION, "")
    assert ask(z, "get", "nodes", "x", who=User("system:node:", groups=("system:nodes",)))[1] == "unknown node"
    assert z.decide(Attributes(KUBELET, "get", "/healthz", False)) == (Decision.NO_OPINION, "")


def test_a_claim_shared_by_pods_on_two_nodes() -> None:
    z = authorizer()
    volume = [{"name": "c", "persistentVolumeClaim": {"claimName": "shared"}}]
    z.graph.put("a", pod("a", "n1", volumes=volume))
    z.graph.put("b", pod("b", "n1", volumes=volume))
    z.graph.put("c", pod("c", "n2", volumes=volume))
    z.graph.claims.put("k", {"metadata": {"namespace": "ns", "name": "shared"}, "spec": {"volumeName": "pv"}})
    other = User("system:node:n2", groups=("system:nodes",))
    assert allowed(z, "get", "persistentvolumes", "pv", namespace="")
    assert allowed(z, "get", "persistentvolumes", "pv", namespace="", who=other)
    z.graph.delete("a")
    assert allowed(z, "get", "persistentvolumes", "pv", namespace="")  # b still uses it on n1
    z.graph.delete("b")
    assert not allowed(z, "get", "persistentvolumes", "pv", namespace="")
    assert allowed(z, "get", "persistentvolumes", "pv", namespace="", who=other)
    z.graph.claims.reset()
    assert not allowed(z, "get", "persistentvolumes", "pv", namespace="", who=other)
    assert z.graph.uses["n2"] and all(kind != "pv" for kind, _, _ in z.graph.uses["n2"])
