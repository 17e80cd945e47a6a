"""The defaulting plugins: NamespaceLifecycle, ServiceAccount, DefaultTolerationSeconds and
DefaultStorageClass.

Two of them are names only, because the write path already does their work for every write
whatever the plugin list says: the namespace checks (missing namespace 404, terminating 403,
``default``/``kube-system``/``kube-public`` undeletable) live in ``namespaces.py`` and
``deletion.py``, and the pod strategy (``hyperkube/api/strategies/pods.py``) adds the
not-ready/unreachable NoExecute tolerations of 300 s. They are listed so the flags accept
Kubernetes' names, and want no write, so they cost nothing.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.admission import register
from hyperkube.apiserver.admission.common import Object, forbidden, is_pods, listed, metadata
from hyperkube.apiserver.auth import AdmissionRequest
from hyperkube.machinery import errors

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"


class _BuiltIn:
    """A plugin whose work the write path always does (see the module docstring)."""

    name = ""

    def __init__(self, config: Any, objects: Any) -> None:
        pass

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        return False


@register("NamespaceLifecycle")
class NamespaceLifecycle(_BuiltIn):
    name = "NamespaceLifecycle"


@register("DefaultTolerationSeconds")
class DefaultTolerationSeconds(_BuiltIn):
    name = "DefaultTolerationSeconds"


def token_volume(name: str) -> Object:
    """The projected volume Kubernetes mounts for a pod's service account (BoundServiceAccountTokenVolume)."""
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                     "fieldPath": "metadata.namespace"}}]}}]}}


@register("ServiceAccount")
class ServiceAccount:
    """A pod runs as a ServiceAccount that exists (``default`` unless it names one), with the
    account's token, the cluster CA and its namespace mounted at :data:`TOKEN_PATH` unless
    ``automountServiceAccountToken`` (pod's, else the account's) is false, and the account's
    imagePullSecrets when it has none of its own. Mirror pods (static pods of a kubelet) are
    left alone."""

    name = "ServiceAccount"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        return is_pods(resource) and not subresource and operation == "CREATE"

    async def admit(self, request: AdmissionRequest) -> None:
        pod = request.obj or {}
        if MIRROR_ANNOTATION in (metadata(pod).get("annotations") or {}):
            return
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            return
        account_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = account_name
        account = await self._account(request.namespace, account_name)
        if account is None:
            raise forbidden(request, f"error looking up service account {request.namespace}/{account_name}: "
                                     f'serviceaccount "{account_name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is not False:
            self._mount_token(spec)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name")} for s in account["imagePullSecrets"]
                                        if isinstance(s, dict)]

    async def _account(self, namespace: str, name: str) -> Object | None:
        resource = self.objects.registry.get("", "v1", "serviceaccounts")
        if resource is None:
            return {}
        try:
            kv = await self.objects.read(resource, namespace, name, cached=True)
        except errors.NotFound:
            try:  # the feed may lag another server's write: ask the store before saying no
                kv = await self.objects.read(resource, namespace, name)
            except errors.NotFound:
                return None
        return self.objects.decode(resource, kv.value, kv.mod_revision)

    @staticmethod
    def _mount_token(spec: Object) -> None:
        from hyperkube.apiserver.objects import generate_name

        containers = [c for group in ("initContainers", "containers") for c in (spec.get(group) or [])
                      if isinstance(c, dict)]
        needing = [c for c in containers if not any(isinstance(m, dict) and m.get("mountPath") == TOKEN_PATH
                                                    for m in c.get("volumeMounts") or [])]
        if not needing:
            return
        volumes = spec.get("volumes")
        if not isinstance(volumes, list):
            volumes = spec["volumes"] = []
        existing = next((v for v in volumes if isinstance(v, dict) and str(v.get("name", "")).startswith(
            "kube-api-access-") and "projected" in v), None)
        name = existing["name"] if existing else generate_name("kube-api-access-")
        if existing is None:
            volumes.append(token_volume(name))
        for container in needing:
            mounts = container.get("volumeMounts")
            if not isinstance(mounts, list):
                mounts = container["volumeMounts"] = []
            mounts.append({"name": name, "readOnly": True, "mountPath": TOKEN_PATH})


@register("DefaultStorageClass")
class DefaultStorageClass:
    """A PVC that names no class (``storageClassName`` absent or null; ``""`` means none on
    purpose) gets the StorageClass annotated as the default, the newest when several are."""

    name = "DefaultStorageClass"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        return (resource.group == "" and resource.plural == "persistentvolumeclaims" and not subresource
                and operation == "CREATE")

    async def admit(self, request: AdmissionRequest) -> None:
        spec = (request.obj or {}).get("spec")
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return
        classes = await listed(self.objects, "storage.k8s.io", "storageclasses")
        defaults = [c for c in classes if "true" in ((metadata(c).get("annotations") or {}).get(DEFAULT_CLASS),
                                                    (metadata(c).get("annotations") or {}).get(BETA_DEFAULT_CLASS))]
        if defaults:
            newest = max(defaults, key=lambda c: (metadata(c).get("creationTimestamp") or "", metadata(c).get("name")))
            spec["storageClassName"] = metadata(newest).get("name")
