"""The ``kubernetes`` Service's endpoints, kept by the API servers themselves (the lease reconciler).

Each API server holds a key ``<prefix>/masterleases/<ip>`` in the store, attached to a store
lease of :data:`TTL` seconds that it renews every :data:`RENEW` seconds. The live keys are the
API servers of the cluster: each server writes the Endpoints and the EndpointSlice named
``kubernetes`` in ``default`` from them (sorted, so every server computes the same object and
a write happens only on a change), with the port the clients use (the secure port when TLS is
served, else the plain one). A server that stops revokes its lease and rewrites the list
without itself; one that dies drops out when its lease expires.

This is Kubernetes' ``--endpoint-reconciler-type=lease``. Before it, the controller-manager's
endpoints controllers wrote these objects from the one server they talked to; they now leave
the ``kubernetes`` Service to the API servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hyperkube.apiserver.objects import Objects
from hyperkube.machinery import errors
from hyperkube.storage.interface import (
    DeleteRequest,
    PutRequest,
    RangeRequest,
    StorageError,
    Store,
    prefix_end,
)

log = logging.getLogger("hyperkube.apiserver")

TTL = 15
RENEW = 5.0
SERVICE = "kubernetes"


class MasterLeases:
    def __init__(self, store: Store, objects: Objects, prefix: str, ip: str, port: int) -> None:
        self.store = store
        self.objects = objects
        self.key_prefix = f"{prefix.rstrip('/')}/masterleases/"
        self.ip = ip
        self.port = port
        self.lease_id = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._renew()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="master-leases")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW)
            try:
                await self._renew()
            except (StorageError, errors.APIError) as error:
                log.warning("renewing the master lease failed: %s", error)
                self.lease_id = 0

    async def _renew(self) -> None:
        if self.lease_id:
            try:
                await self.store.lease_keepalive(self.lease_id)
            except StorageError:
                self.lease_id = 0
        if not self.lease_id:
            self.lease_id = (await self.store.lease_grant(TTL)).id
            await self.store.put(PutRequest(self.key_prefix + self.ip, str(self.port).encode(), lease=self.lease_id))
        await self.reconcile()

    async def masters(self) -> list[tuple[str, int]]:
        result = await self.store.range(RangeRequest(self.key_prefix, prefix_end(self.key_prefix)))
        found = []
        for kv in result.kvs:
            with contextlib.suppress(ValueError):
                found.append((kv.key[len(self.key_prefix):], int(kv.value)))
        return sorted(found)

    async def reconcile(self, without_me: bool = False) -> None:
        masters = [m for m in await self.masters() if not (without_me and m[0] == self.ip)]
        port = masters[0][1] if masters else self.port
        ips = sorted({ip for ip, _ in masters})
        endpoints = self.objects.registry.get("", "v1", "endpoints")
        if endpoints is not None:
            subsets = [{"addresses": [{"ip": ip} for ip in ips],
                        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}] if ips else []
            await self._put(endpoints, {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": SERVICE, "namespace": "default",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": subsets}, lambda live: (live.get("subsets") or []) == subsets)
        slices = self.objects.registry.get("discovery.k8s.io", "v1", "endpointslices")
        if slices is not None:
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": SERVICE, "namespace": "default",
                                 "labels": {"kubernetes.io/service-name": SERVICE}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
            await self._put(slices, body, lambda live: (live.get("endpoints") or [], live.get("ports")) == (
                body["endpoints"], body["ports"]))

    async def _put(self, resource: Any, body: dict[str, Any], same: Any) -> None:
        for _ in range(3):
            try:
                live = await self.objects.get(resource, "default", SERVICE)
            except errors.NotFound:
                try:
                    await self.objects.create(resource, "default", body)
                    return
                except errors.AlreadyExists:
                    continue
            if same(live):
                return
            meta = live.get("metadata") or {}
            body["metadata"]["resourceVersion"] = meta.get("resourceVersion")
            try:
                await self.objects.update(resource, "default", SERVICE, body)
                return
            except errors.Conflict:
                body["metadata"].pop("resourceVersion", None)
                continue

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(StorageError, errors.APIError):
            if self.lease_id:
                await self.store.lease_revoke(self.lease_id)
                await self.store.delete_range(DeleteRequest(self.key_prefix + self.ip))
            await self.reconcile(without_me=True)
