"""Node IPAM: ``--allocate-node-cidrs`` gives every node a ``spec.podCIDR`` from ``--cluster-cidr``.

The cluster range is cut into subnets of ``--node-cidr-mask-size`` bits (24 for IPv4, 64 for
IPv6, as Kubernetes' range allocator does). At start the CIDRs nodes already hold are marked
used (from the informer cache), so a restarted controller manager never hands one out twice;
a deleted node's CIDR is released. Nodes get the lowest free subnet, written once (the API
server forbids changing podCIDR after it is set). One worker, so allocation never races.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from hyperkube.client import NotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import meta

log = logging.getLogger("hyperkube.controllers.nodeipam")
NODES = "v1/nodes"


class NodeIPAMController(Controller):
    name = "nodeipam"
    default_workers = 1

    def __init__(self, ctx: ControllerContext, *, cluster_cidr: str | None = None,
                 mask_size: int | None = None) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.enabled = bool(options.get("allocate_node_cidrs", False)) or cluster_cidr is not None
        text = cluster_cidr or options.get("cluster_cidr") or ""
        self.network = ipaddress.ip_network(text, strict=False) if text else None
        default_mask = 24 if self.network is None or self.network.version == 4 else 64
        self.mask = int(mask_size or options.get("node_cidr_mask_size") or default_mask)
        if self.network is not None and self.mask < self.network.prefixlen:
            raise ValueError(f"--node-cidr-mask-size {self.mask} is larger than --cluster-cidr {text}")
        self.used: dict[str, str] = {}  # CIDR -> node name
        self.nodes = ctx.factory.informer(NODES)
        self.nodes.add_event_handler(self._node, lambda old, new: self._node(new), self._deleted)

    def _node(self, node: Object) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.used[str(ipaddress.ip_network(cidr, strict=False))] = meta(node).get("name", "")
        else:
            self.enqueue(meta(node).get("name", ""))

    def _deleted(self, node: Object) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            key = str(ipaddress.ip_network(cidr, strict=False))
            if self.used.get(key) == meta(node).get("name"):
                del self.used[key]

    def next_free(self) -> str | None:
        assert self.network is not None
        for subnet in self.network.subnets(new_prefix=self.mask):
            if str(subnet) not in self.used:
                return str(subnet)
        return None

    async def sync(self, key: Any) -> None:
        if not self.enabled or self.network is None:
            return
        node = self.nodes.cache.get(key)
        if node is None or (node.get("spec") or {}).get("podCIDR"):
            return
        cidr = self.next_free()
        if cidr is None:
            self.recorder.event({**node, "kind": "Node", "apiVersion": "v1"}, "Normal", "CIDRNotAvailable",
                                f"Node {key} status is now: CIDRNotAvailable")
            return
        self.used[cidr] = key
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except NotFound:
            del self.used[cidr]
        except Exception:
            del self.used[cidr]
            raise
        log.info("node %s: podCIDR %s", key, cidr)
