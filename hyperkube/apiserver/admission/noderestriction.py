"""NodeRestriction: a kubelet (user ``system:node:<name>`` in ``system:nodes``) may change only
its own Node and the pods bound to it, as Kubernetes' plugin of the same name says.

- pods: it creates only mirror pods (annotated ``kubernetes.io/config.mirror``) bound to itself
  that reference no service account, secret, configmap or claim; it deletes and evicts only
  pods on itself; it writes ``pods/status`` only of pods on itself; nothing else.
- nodes: only the Node of its own name, and of the labels only those a kubelet may set
  (outside the kubernetes.io and k8s.io namespaces, or under kubelet.kubernetes.io and
  node.kubernetes.io, or the well-known topology/instance labels); never
  ``node-restriction.kubernetes.io/``.
- leases in ``kube-node-lease``: only its own.
Every other user passes untouched. The checks run in the mutating phase, on the object as
sent: the pod strategy's defaults (``serviceAccountName: default``) must not count as a
reference the kubelet made.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.admission import register
from hyperkube.apiserver.admission.basic import MIRROR_ANNOTATION
from hyperkube.apiserver.admission.common import Object, forbidden, metadata
from hyperkube.apiserver.auth import AdmissionRequest, User

NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
KUBELET_LABELS = {"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
                  "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
                  "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                  "topology.kubernetes.io/region", "topology.kubernetes.io/zone"}
KUBELET_PREFIXES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def node_name(user: User) -> str:
    if user.name.startswith(NODE_PREFIX) and NODES_GROUP in user.groups:
        return user.name[len(NODE_PREFIX):]
    return ""


def kubelet_may_set(label: str) -> bool:
    domain = label.partition("/")[0] if "/" in label else ""
    if not any(domain == d or domain.endswith("." + d) for d in ("kubernetes.io", "k8s.io")):
        return True
    if label in KUBELET_LABELS:
        return True
    return any(domain == p or domain.endswith("." + p) for p in KUBELET_PREFIXES)


def _references(spec: Object) -> list[str]:
    found = []
    if spec.get("serviceAccountName") or spec.get("serviceAccount"):
        found.append("a service account")
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    sources = volumes + [s for v in volumes for s in (v.get("projected") or {}).get("sources") or []]
    envs = [e for group in ("initContainers", "containers") for c in spec.get(group) or []
            for e in [*(c.get("env") or []), *(c.get("envFrom") or [])] if isinstance(e, dict)]
    text = repr(envs)
    if any("secret" in s for s in sources) or "secretKeyRef" in text or "secretRef" in text:
        found.append("secrets")
    if any("configMap" in s for s in sources) or "configMapKeyRef" in text or "configMapRef" in text:
        found.append("configmaps")
    if any("persistentVolumeClaim" in v for v in volumes):
        found.append("persistentvolumeclaims")
    return found


@register("NodeRestriction")
class NodeRestriction:
    name = "NodeRestriction"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        if resource.group == "coordination.k8s.io":
            return resource.plural == "leases"
        return resource.group == "" and resource.plural in ("pods", "nodes")

    async def admit(self, request: AdmissionRequest) -> None:
        node = node_name(request.user)
        if not node:
            return
        plural = request.resource.plural
        if plural == "pods":
            self._pod(request, node)
        elif plural == "nodes":
            self._node(request, node)
        elif request.namespace == "kube-node-lease" and request.name != node and \
                metadata(request.obj).get("name", request.name) != node:
            raise forbidden(request, "can only access node lease with the same name as the requesting node")

    def _pod(self, request: AdmissionRequest, node: str) -> None:
        operation, subresource = request.operation, request.subresource
        current = request.old if request.old is not None else request.obj
        bound = ((current or {}).get("spec") or {}).get("nodeName")
        if subresource == "status":
            if bound != node:
                raise forbidden(request, f'node "{node}" can only update pod status for pods with spec.nodeName '
                                         "set to itself")
            return
        if subresource == "eviction":
            if bound != node:
                raise forbidden(request, f'node "{node}" can only evict pods with spec.nodeName set to itself')
            return
        if subresource:
            raise forbidden(request, f'unexpected operation "{operation}", node "{node}" can only create and '
                                     "delete mirror pods")
        if operation == "DELETE":
            if bound != node:
                raise forbidden(request, f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return
        if operation != "CREATE":
            raise forbidden(request, f'unexpected operation "{operation}", node "{node}" can only create and '
                                     "delete mirror pods")
        pod = request.obj or {}
        if MIRROR_ANNOTATION not in (metadata(pod).get("annotations") or {}):
            raise forbidden(request, f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can '
                                     "only create mirror pods")
        spec = pod.get("spec") or {}
        if spec.get("nodeName") != node:
            raise forbidden(request, f'node "{node}" can only create pods with spec.nodeName set to itself')
        for what in _references(spec):
            raise forbidden(request, f'node "{node}" can not create pods that reference {what}')

    def _node(self, request: AdmissionRequest, node: str) -> None:
        target = request.name or metadata(request.obj).get("name", "")
        if target != node:
            raise forbidden(request, f'node "{node}" is not allowed to modify node "{target}"')
        if request.operation == "DELETE" or request.subresource:
            return
        labels = metadata(request.obj).get("labels") or {}
        if request.operation == "CREATE":
            refused = sorted(k for k in labels if not kubelet_may_set(k))
            if refused:
                raise forbidden(request, f'node "{node}" is not allowed to set the following labels: '
                                         f"{', '.join(refused)}")
            return
        old = metadata(request.old).get("labels") or {}
        changed = {k for k in set(labels) | set(old) if labels.get(k) != old.get(k)}
        refused = sorted(k for k in changed if not kubelet_may_set(k))
        if refused:
            raise forbidden(request, f'node "{node}" is not allowed to modify labels: {", ".join(refused)}')
