"""The root CA publisher: a ConfigMap ``kube-root-ca.crt`` (key ``ca.crt``) in every namespace.

Pods read the cluster's CA from it (projected service account volumes mount it). The CA is
``--root-ca-file``, else the one the controller manager itself trusts for the API server
(its kubeconfig's certificate authority); with neither (a plain-HTTP test cluster) there is
nothing to publish and the controller idles. A changed or deleted ConfigMap is put back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.client import AlreadyExists, Conflict, NotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta

NAMESPACES = "v1/namespaces"
CONFIGMAPS = "v1/configmaps"
NAME = "kube-root-ca.crt"
DESCRIPTION = "kubernetes.io/description"
TEXT = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
        "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
        "distributions of Kubernetes clusters.")


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers_option = "root-ca-cert-publisher"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, root_ca: str | None = None) -> None:
        super().__init__(ctx)
        self.root_ca = root_ca
        self.namespaces = ctx.factory.informer(NAMESPACES)
        self.configmaps = ctx.factory.informer(CONFIGMAPS, field_selector=f"metadata.name={NAME}")
        self.namespaces.add_event_handler(self._namespace, lambda old, new: self._namespace(new), None)
        self.configmaps.add_event_handler(None, lambda old, new: self._configmap(new), self._configmap)

    async def start(self) -> None:
        if self.root_ca is None:
            path = self.ctx.options.get("root_ca_file") or self.client.config.ca_file
            if path:
                self.root_ca = (await asyncio.to_thread(_read, path)).decode()
            elif self.client.config.ca_data:
                self.root_ca = self.client.config.ca_data.decode()

    def _namespace(self, namespace: Object) -> None:
        if not is_terminating(namespace):
            self.enqueue(meta(namespace).get("name", ""))

    def _configmap(self, configmap: Object) -> None:
        self.enqueue(meta(configmap).get("namespace", ""))

    async def sync(self, key: Any) -> None:
        if not self.root_ca:
            return
        namespace = self.namespaces.cache.get(key)
        if namespace is None or is_terminating(namespace):
            return
        current = self.configmaps.cache.get(f"{key}/{NAME}")
        data = {"ca.crt": self.root_ca}
        try:
            if current is None:
                await self.client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": NAME, "annotations": {DESCRIPTION: TEXT}}, "data": data}, namespace=key)
            elif current.get("data") != data:
                await self.client.update(CONFIGMAPS, {**current, "data": data}, namespace=key)
        except (AlreadyExists, Conflict):
            self.enqueue_after(key, 0.5)
        except NotFound:
            pass


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
