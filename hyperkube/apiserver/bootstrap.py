"""What exists before the first client arrives.

The namespaces default, kube-system, kube-public and kube-node-lease (kopf watches
namespaces first and waits for ``default``), the allocators repaired from the Services in
the store, and the ``kubernetes`` Service in default on the first IP of the service range.
Several API servers may bootstrap one store at once: AlreadyExists is success here.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from hyperkube.api.registry import Registry
from hyperkube.apiserver.objects import Objects
from hyperkube.machinery import errors
from hyperkube.storage.interface import RangeRequest, prefix_end

log = logging.getLogger("hyperkube.apiserver")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def kubernetes_service(cluster_ip_range: str, port: int) -> dict[str, Any]:
    network = ipaddress.ip_network(cluster_ip_range, strict=False)
    first = str(network[1]) if network.num_addresses > 2 else str(network[0])
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": first, "clusterIPs": [first], "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    }


async def bootstrap(objects: Objects, registry: Registry, allocators: Any, cluster_ip_range: str,
                    port: int) -> None:
    namespaces = registry.get("", "v1", "namespaces")
    if namespaces is not None:
        for name in SYSTEM_NAMESPACES:
            try:
                await objects.create(namespaces, "", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}})
            except errors.AlreadyExists:
                pass
    services = registry.get("", "v1", "services")
    if services is None:
        return
    if allocators is not None:
        prefix = objects.resource_prefix(services)
        result = await objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
        stored = []
        for kv in result.kvs:
            try:
                stored.append(objects.decode(services, kv.value, kv.mod_revision))
            except errors.APIError:
                continue
        await allocators.repair(stored, result.revision)
    try:
        await objects.create(services, "default", kubernetes_service(cluster_ip_range, port))
    except errors.AlreadyExists:
        pass
    except errors.Invalid as exc:  # its IP taken by a user Service on an old store: keep serving
        log.warning("could not create the kubernetes Service: %s", exc.message)
