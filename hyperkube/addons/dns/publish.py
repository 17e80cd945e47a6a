"""The ``kube-system/kube-dns`` Service and Endpoints, so the cluster shows where its DNS is.

As in a kubeadm cluster, ``kubectl -n kube-system get svc kube-dns`` names the DNS service, and
its ports are ``dns`` (UDP) and ``dns-tcp`` (TCP). Here the server is no pod: the Service has no
selector, and its Endpoints (mirrored into an EndpointSlice by the EndpointSliceMirroring
controller) name the address and port the server listens on. The Service port is that same
port, not 53: the userspace proxy binds ``<cluster IP>:<port>``, and a non-root process could
not bind 53. Calling :func:`publish_service` again (a restart on a new port) updates both.
"""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound

LABELS = {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS", "kubernetes.io/cluster-service": "true"}


def _ports(port: int, *, target: bool) -> list[dict[str, Any]]:
    ports = [{"name": "dns", "port": port, "protocol": "UDP"}, {"name": "dns-tcp", "port": port, "protocol": "TCP"}]
    return [{**p, "targetPort": port} for p in ports] if target else ports


async def _put(client: Client, resource: str, body: dict[str, Any], namespace: str,
               keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Create ``body``, or replace the existing object's content with it (keeping ``spec`` keys
    in ``keep``, such as the allocated clusterIP)."""
    try:
        current = await client.get(resource, body["metadata"]["name"], namespace=namespace)
    except NotFound:
        return await client.create(resource, body, namespace=namespace)
    meta = {**body["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
    updated = {**body, "metadata": meta}
    if "spec" in body:
        updated["spec"] = {**{k: v for k, v in (current.get("spec") or {}).items() if k in keep}, **body["spec"]}
    return await client.update(resource, updated, namespace=namespace)


async def publish_service(client: Client, address: str, port: int, *, namespace: str = "kube-system",
                          name: str = "kube-dns") -> dict[str, Any]:
    """Create or update the Service and its Endpoints; returns the Service."""
    service = await _put(client, "v1/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace, "labels": LABELS},
        "spec": {"type": "ClusterIP", "ports": _ports(port, target=True)}},
        namespace, keep=("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"))
    await _put(client, "v1/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace, "labels": LABELS},
        "subsets": [{"addresses": [{"ip": address}], "ports": _ports(port, target=False)}]}, namespace)
    return service
