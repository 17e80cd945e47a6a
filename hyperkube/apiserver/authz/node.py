"""The Node authorizer: what a kubelet (user ``system:node:<name>``, group ``system:nodes``) may do.

A kubelet needs the Secrets, ConfigMaps, PersistentVolumeClaims (and their volumes) and
service account tokens of the pods bound to its node, and nothing of anyone else's. A
:class:`Graph` follows pods and PersistentVolumeClaims through the watch feeds and counts, per
node, the objects its pods reference; a read of one of those kinds is allowed exactly when
the count is positive. The rest of a kubelet's needs are static (the ``system:node`` rules
of the bootstrap policy, Kubernetes' ``NodeRules``), narrowed where the object names the node:
a kubelet may modify only its own Node and its own Lease, and the status of (or delete) only
pods bound to it.

Anything else is NO_OPINION, never DENY, so RBAC may still allow it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hyperkube.apiserver.auth import Attributes, Decision
from hyperkube.apiserver.authz import policy
from hyperkube.apiserver.authz.mirror import Mirror
from hyperkube.apiserver.authz.rules import allows, compile_rules

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
NODE_LEASE_NAMESPACE = "kube-node-lease"

_READ = frozenset({"get", "list", "watch"})
_GRAPH_KINDS = {"secrets": "secret", "configmaps": "configmap", "persistentvolumeclaims": "pvc",
                "persistentvolumes": "pv", "serviceaccounts": "serviceaccount"}


def node_name(attributes: Attributes) -> str | None:
    """The node a kubelet's user names, or None for a user that is not a node."""
    user = attributes.user
    if not user.name.startswith(NODE_PREFIX) or NODES_GROUP not in user.groups:
        return None
    return user.name[len(NODE_PREFIX):]


def _pod_references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap, PVC and ServiceAccount the pod uses."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    out: set[tuple[str, str]] = {("serviceaccount", spec.get("serviceAccountName") or "default")}
    for item in spec.get("imagePullSecrets") or ():
        if isinstance(item, dict) and item.get("name"):
            out.add(("secret", item["name"]))
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, dict):
            continue
        source = volume.get("secret") or {}
        if source.get("secretName"):
            out.add(("secret", source["secretName"]))
        if (volume.get("configMap") or {}).get("name"):
            out.add(("configmap", volume["configMap"]["name"]))
        if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            out.add(("pvc", volume["persistentVolumeClaim"]["claimName"]))
        if volume.get("ephemeral"):
            out.add(("pvc", f"{name}-{volume.get('name', '')}"))
        for projected in (volume.get("projected") or {}).get("sources") or ():
            if (projected.get("secret") or {}).get("name"):
                out.add(("secret", projected["secret"]["name"]))
            if (projected.get("configMap") or {}).get("name"):
                out.add(("configmap", projected["configMap"]["name"]))
        for plugin in volume.values():  # csi nodePublishSecretRef, cephfs/rbd/... secretRef
            if isinstance(plugin, dict):
                for field in ("secretRef", "nodePublishSecretRef"):
                    ref = plugin.get(field)
                    if isinstance(ref, dict) and ref.get("name"):
                        out.add(("secret", ref["name"]))
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or ():
            if not isinstance(container, dict):
                continue
            for env in container.get("env") or ():
                source = (env or {}).get("valueFrom") or {}
                if (source.get("secretKeyRef") or {}).get("name"):
                    out.add(("secret", source["secretKeyRef"]["name"]))
                if (source.get("configMapKeyRef") or {}).get("name"):
                    out.add(("configmap", source["configMapKeyRef"]["name"]))
            for env_from in container.get("envFrom") or ():
                if ((env_from or {}).get("secretRef") or {}).get("name"):
                    out.add(("secret", env_from["secretRef"]["name"]))
                if ((env_from or {}).get("configMapRef") or {}).get("name"):
                    out.add(("configmap", env_from["configMapRef"]["name"]))
    return out


class Graph:
    """node -> Counter of (kind, namespace, name) its pods use; pod -> node.

    PersistentVolumes are reached through their claims: a PVC's ``spec.volumeName`` (from a
    second, PVC-fed listener) adds ``("pv", "", volume)`` for every node using the claim."""

    def __init__(self) -> None:
        self.uses: dict[str, Counter[tuple[str, str, str]]] = {}
        self.pods: dict[str, tuple[str, str, str, frozenset[tuple[str, str, str]]]] = {}  # key -> ns, name, node, refs
        self.claim_users: dict[tuple[str, str], Counter[str]] = {}  # claim -> node -> pods using it there
        self.claims = _Claims(self)

    def bound_pod(self, node: str, namespace: str, name: str) -> bool:
        return self.uses.get(node, Counter())[("pod", namespace, name)] > 0

    def uses_object(self, node: str, kind: str, namespace: str, name: str) -> bool:
        return self.uses.get(node, Counter())[(kind, namespace, name)] > 0

    def _count(self, node: str, refs: frozenset[tuple[str, str, str]], step: int) -> None:
        counter = self.uses.setdefault(node, Counter())
        for ref in refs:
            counter[ref] += step
            if step < 0 and counter[ref] <= 0:
                del counter[ref]
            if ref[0] == "pvc":
                users = self.claim_users.setdefault((ref[1], ref[2]), Counter())
                users[node] += step
                if users[node] <= 0:
                    del users[node]
                    if not users:
                        del self.claim_users[(ref[1], ref[2])]
                volume = self.claims.volumes.get((ref[1], ref[2]))
                if volume:
                    counter[("pv", "", volume)] += step
                    if counter[("pv", "", volume)] <= 0:
                        del counter[("pv", "", volume)]
        if not counter:
            self.uses.pop(node, None)

    # -- the pods listener ----------------------------------------------------------------------
    def reset(self) -> None:
        self.uses.clear()
        self.pods.clear()
        self.claim_users.clear()

    def put(self, key: str, pod: dict[str, Any]) -> None:
        self.delete(key)
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return
        metadata = pod.get("metadata") or {}
        namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
        refs = frozenset({("pod", namespace, name)} | {(kind, namespace, ref) for kind, ref in _pod_references(pod)})
        self.pods[key] = (namespace, name, node, refs)
        self._count(node, refs, 1)

    def delete(self, key: str) -> None:
        found = self.pods.pop(key, None)
        if found is not None:
            self._count(found[2], found[3], -1)


class _Claims:
    """The PVC listener: claim -> bound volume, kept in step with the graph's counts."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.volumes: dict[tuple[str, str], str] = {}
        self._keys: dict[str, tuple[str, str]] = {}

    def _users(self, claim: tuple[str, str]) -> list[str]:
        """Each node once per pod of it using the claim."""
        return list(self.graph.claim_users.get(claim, Counter()).elements())

    def _set(self, claim: tuple[str, str], volume: str | None) -> None:
        old = self.volumes.get(claim)
        if old == volume:
            return
        users = self._users(claim)
        for node in users:
            if old:
                self.graph._count(node, frozenset({("pv", "", old)}), -1)
            if volume:
                self.graph._count(node, frozenset({("pv", "", volume)}), 1)
        if volume:
            self.volumes[claim] = volume
        else:
            self.volumes.pop(claim, None)

    def reset(self) -> None:
        for claim in list(self.volumes):
            self._set(claim, None)
        self._keys.clear()

    def put(self, key: str, claim: dict[str, Any]) -> None:
        metadata = claim.get("metadata") or {}
        ident = self._keys[key] = (metadata.get("namespace", ""), metadata.get("name", ""))
        self._set(ident, (claim.get("spec") or {}).get("volumeName") or None)

    def delete(self, key: str) -> None:
        ident = self._keys.pop(key, None)
        if ident is not None:
            self._set(ident, None)


class NodeAuthorizer:
    def __init__(self, hub: Any, pods_prefix: str, claims_prefix: str) -> None:
        self.graph = Graph()
        self.rules = compile_rules(policy.CLUSTER_ROLES["system:node"][0])
        self.mirrors = [Mirror(hub, pods_prefix, self.graph), Mirror(hub, claims_prefix, self.graph.claims)]

    async def start(self) -> None:
        for mirror in self.mirrors:
            await mirror.start()

    async def close(self) -> None:
        for mirror in self.mirrors:
            await mirror.close()

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return self.decide(attributes)

    def decide(self, a: Attributes) -> tuple[Decision, str]:
        node = node_name(a)
        if node is None:
            return Decision.NO_OPINION, ""
        if not node:
            return Decision.NO_OPINION, "unknown node"
        if not a.resource_request:
            return Decision.NO_OPINION, ""
        group, resource, sub, verb = a.api_group, a.resource, a.subresource, a.verb
        if group == "" and resource in _GRAPH_KINDS and not (resource == "serviceaccounts" and sub == "token"):
            if sub or verb not in _READ:
                return Decision.NO_OPINION, f"can only read resources of this type ({resource})"
            if not a.name:
                return Decision.NO_OPINION, "can only get individual resources of this type"
            return self._related(node, _GRAPH_KINDS[resource], a.namespace, a.name)
        if group == "" and resource == "serviceaccounts":  # serviceaccounts/token
            if verb != "create" or not a.name:
                return Decision.NO_OPINION, "can only create tokens for individual service accounts"
            return self._related(node, "serviceaccount", a.namespace, a.name)
        if group == "" and resource == "nodes" and verb in ("update", "patch", "delete") and a.name != node:
            return Decision.NO_OPINION, f"node '{node}' can only modify its own Node object"
        if group == "" and resource == "pods" and (verb == "delete" or sub in ("status", "eviction")):
            if verb in _READ:
                pass
            elif not self.graph.bound_pod(node, a.namespace, a.name):
                return Decision.NO_OPINION, f"node '{node}' can only modify pods bound to it"
        if group == policy.COORDINATION and resource == "leases":
            if a.namespace != NODE_LEASE_NAMESPACE or (verb != "create" and a.name != node):
                return Decision.NO_OPINION, f"node '{node}' can only access its own lease in {NODE_LEASE_NAMESPACE}"
        if group == policy.STORAGE and resource == "csinodes" and a.name and a.name != node:
            return Decision.NO_OPINION, f"node '{node}' can only access its own CSINode"
        if allows(self.rules, a):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""

    def _related(self, node: str, kind: str, namespace: str, name: str) -> tuple[Decision, str]:
        if self.graph.uses_object(node, kind, "" if kind == "pv" else namespace, name):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, f"no relationship found between node '{node}' and this object"
