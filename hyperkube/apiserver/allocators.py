"""Service cluster IP and node port allocation, shared by every API server on one store.

The state is two RangeAllocation objects, as in Kubernetes:

    <prefix>/ranges/serviceips        {"kind":"RangeAllocation","range":"127.64.0.0/16","data":...}
    <prefix>/ranges/servicenodeports  {"kind":"RangeAllocation","range":"30000-32767","data":...}

``data`` is the base64 of a bitmap in Kubernetes' encoding (a big-endian big integer whose bit
``i`` is offset ``i`` of the range). IP offset 0 is the first usable address (``.1`` of an IPv4
range); it is left to the ``kubernetes`` Service, so random allocation never picks it.

Every change is read -> compute -> one txn that compares the ``mod_revision`` of both keys it
read and puts the new bitmaps; a failed compare means another server (or task) changed them
meanwhile, so it re-reads and tries again. Thus two servers never hand out the same IP or port,
and a service's IP and node ports are taken together or not at all. Random picks start at a
random offset and scan forward (skipping full bytes), so a busy /16 is not scanned from 0.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from hyperkube.machinery.errors import InternalError, Invalid, cause
from hyperkube.storage.interface import Compare, PutRequest, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 64
MAX_IP_RANGE_SIZE = 1 << 20
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
_CLUSTER_IP_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")


class Bitmap:
    """A fixed-size bitmap; little-endian bytes inside, Kubernetes' big-integer encoding outside."""

    __slots__ = ("bits", "size")

    def __init__(self, size: int, data: str = "") -> None:
        self.size = size
        nbytes = (size + 7) // 8
        raw = base64.b64decode(data) if data else b""
        value = int.from_bytes(raw, "big") & ((1 << size) - 1)
        self.bits = bytearray(value.to_bytes(nbytes, "little"))

    def encode(self) -> str:
        value = int.from_bytes(self.bits, "little")
        return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()

    def __contains__(self, offset: int) -> bool:
        return bool(self.bits[offset >> 3] >> (offset & 7) & 1)

    def set(self, offset: int) -> None:
        self.bits[offset >> 3] |= 1 << (offset & 7)

    def clear(self, offset: int) -> None:
        self.bits[offset >> 3] &= ~(1 << (offset & 7)) & 0xFF

    def count(self) -> int:
        return sum(bin(b).count("1") for b in self.bits)

    def find_free(self, start: int, skip: int = -1) -> int | None:
        """The first clear offset at or after ``start`` (wrapping), never ``skip``; None when full."""
        offset, scanned = start % self.size, 0
        while scanned < self.size:
            if offset & 7 == 0 and offset + 8 <= self.size and self.bits[offset >> 3] == 0xFF:
                step = 8
            else:
                if offset != skip and offset not in self:
                    return offset
                step = 1
            scanned += step
            offset += step
            if offset >= self.size:
                offset = 0
        return None


class IPRange:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        reserved = 2 if self.network.version == 4 else 1  # network (and broadcast) addresses
        self.size = max(0, min(self.network.num_addresses - reserved, MAX_IP_RANGE_SIZE))
        if self.size == 0:
            raise ValueError(f"service IP range {cidr} has no usable addresses")
        self.first = int(self.network.network_address) + 1

    def offset(self, text: str) -> int | None:
        try:
            offset = int(ipaddress.ip_address(text)) - self.first
        except ValueError:
            return None
        return offset if 0 <= offset < self.size else None

    def address(self, offset: int) -> str:
        return str(ipaddress.ip_address(self.first + offset))


class PortRange:
    def __init__(self, text: str) -> None:
        low, _, high = text.partition("-")
        if "+" in text:
            low, _, extra = text.partition("+")
            high = str(int(low) + int(extra))
        self.base, last = int(low), int(high or low)
        if not 0 < self.base <= last <= 65535:
            raise ValueError(f"invalid port range {text!r}")
        self.size = last - self.base + 1
        self.text = f"{self.base}-{last}"

    def offset(self, port: Any) -> int | None:
        if not isinstance(port, int) or isinstance(port, bool):
            return None
        offset = port - self.base
        return offset if 0 <= offset < self.size else None


@dataclass
class _State:
    key: str
    range: str
    bitmap: Bitmap
    mod_revision: int
    created: str


@dataclass
class _Change:
    """What one service operation does to the two bitmaps; filled in by _commit."""

    reserve_ips: list[tuple[str, int]] = field(default_factory=list)  # (field path, offset)
    random_ip: bool = False
    release_ips: list[int] = field(default_factory=list)
    reserve_ports: list[tuple[str, int]] = field(default_factory=list)
    random_ports: int = 0
    release_ports: list[int] = field(default_factory=list)
    got_ip: int | None = None
    got_ports: list[int] = field(default_factory=list)


class ServiceAllocators:
    """Cluster IPs and node ports for Services; see the module docstring for the protocol."""

    def __init__(self, store: Store, prefix: str = "/registry", cluster_ip_range: str = "127.64.0.0/16",
                 node_port_range: str = "30000-32767") -> None:
        self.store = store
        self.ips = IPRange(cluster_ip_range)
        self.ports = PortRange(node_port_range)
        # tasks of one server take turns (so they don't lose CAS races to each other); other
        # servers on the same store are kept apart by the compare-and-swap alone
        self._turn = asyncio.Lock()
        self.ip_key = f"{prefix.rstrip('/')}/ranges/serviceips"
        self.port_key = f"{prefix.rstrip('/')}/ranges/servicenodeports"

    @property
    def kubernetes_service_ip(self) -> str:
        """The first usable address, kept for the ``kubernetes`` Service in default."""
        return self.ips.address(0)

    # --- the API
    async def allocate(self, service: dict[str, Any]) -> None:
        """Fill spec.clusterIP(s) and node ports of a new Service, reserving them in the store.

        Raises Invalid (422) for an explicit IP or port that is taken or out of range and
        InternalError when a range is full."""
        spec = service.setdefault("spec", {})
        change = _Change()
        ip_text = self._requested_ip(spec)
        wants_ip = spec.get("type", "ClusterIP") in _CLUSTER_IP_TYPES and ip_text != "None"
        if wants_ip and ip_text:
            change.reserve_ips.append((ip_text, self._ip_offset(service, ip_text)))
        elif wants_ip:
            change.random_ip = True
        port_slots = self._port_slots(service, spec, change)
        await self._commit(service, change)
        if change.got_ip is not None:
            ip_text = self.ips.address(change.got_ip)
        if wants_ip:
            spec["clusterIP"], spec["clusterIPs"] = ip_text, [ip_text]
            family = "IPv4" if self.ips.network.version == 4 else "IPv6"
            spec.setdefault("ipFamilies", [family])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        elif ip_text == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        for (target, key), offset in zip(port_slots, change.got_ports, strict=True):
            target[key] = self.ports.base + offset

    async def update(self, new: dict[str, Any], old: dict[str, Any], *, release: bool = True) -> None:
        """Carry a Service's allocations across an update, as Kubernetes does: an omitted
        clusterIP or nodePort keeps the old one (ports matched by port and protocol), what the
        new spec needs beyond the old is reserved in one txn (Invalid when taken), fields the
        new type does not use are dropped, and a changed clusterIP is Invalid (immutable).

        With ``release`` (the default) what ``old`` holds and ``new`` no longer uses is freed in
        the same txn. The safer two-phase form is ``release=False``: nothing is freed, so a
        failed object write takes nothing from the old object; the caller then finishes with
        :meth:`release_dropped`, ``(old, new)`` after the write succeeded or ``(new, old)`` to
        give back what this reserved when it failed."""
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        new_type, old_type = spec.get("type", "ClusterIP"), old_spec.get("type", "ClusterIP")
        old_ip = self._requested_ip(old_spec) if old_type in _CLUSTER_IP_TYPES else ""
        if new_type not in _CLUSTER_IP_TYPES and old_ip and self._requested_ip(spec) == old_ip:
            spec.pop("clusterIP", None)  # dropped with the type that needed it
            spec.pop("clusterIPs", None)
        requested = self._requested_ip(spec)
        wants_ip = new_type in _CLUSTER_IP_TYPES and requested != "None"
        if not requested and old_ip:
            requested = old_ip
            wants_ip = new_type in _CLUSTER_IP_TYPES and requested != "None"
        if requested and old_ip and new_type in _CLUSTER_IP_TYPES and requested != old_ip:
            raise self._invalid(new, "spec.clusterIPs[0]", f'["{requested}"]', "may not change once set")
        change = _Change()
        if wants_ip and requested and requested != old_ip:
            change.reserve_ips.append((requested, self._ip_offset(new, requested)))
        elif wants_ip and not requested:
            change.random_ip = True

        if new_type in _NODE_PORT_TYPES and old_type in _NODE_PORT_TYPES:
            previous = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                        for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if not port.get("nodePort") and previous.get((port.get("port"), port.get("protocol", "TCP"))):
                    port["nodePort"] = previous[(port.get("port"), port.get("protocol", "TCP"))]
        if (new_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
                and not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort")):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
        old_ports = [p.get("nodePort") for p in old_spec.get("ports") or []]
        if new_type not in _NODE_PORT_TYPES:
            for port in spec.get("ports") or []:
                if port.get("nodePort") and port["nodePort"] in old_ports:
                    port.pop("nodePort")
        if not (new_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"):
            if spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
                spec.pop("healthCheckNodePort", None)
        owned = frozenset(self._used_ports(old_spec))
        slots = self._port_slots(new, spec, change, owned)
        if release:
            change.release_ports = sorted(owned - set(self._used_ports(spec)))
            kept = self._used_ips({"clusterIP": requested}) if wants_ip else []
            change.release_ips = sorted(set(self._used_ips(old_spec)) - set(kept))
        if change.random_ip or change.reserve_ips or change.random_ports or change.reserve_ports \
                or change.release_ips or change.release_ports:
            await self._commit(new, change)
        if change.got_ip is not None:
            requested = self.ips.address(change.got_ip)
        if wants_ip:
            spec["clusterIP"], spec["clusterIPs"] = requested, [requested]
        elif requested == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        for (target, key), offset in zip(slots, change.got_ports, strict=True):
            target[key] = self.ports.base + offset

    async def release(self, service: dict[str, Any]) -> None:
        """Give back the Service's IP and node ports (after it is deleted)."""
        spec = service.get("spec") or {}
        await self._release(service, set(self._used_ips(spec)), set(self._used_ports(spec)))

    async def release_dropped(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Give back what ``old`` holds and ``new`` no longer uses (see :meth:`update`)."""
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        await self._release(old, set(self._used_ips(old_spec)) - set(self._used_ips(new_spec)),
                            set(self._used_ports(old_spec)) - set(self._used_ports(new_spec)))

    async def _release(self, service: dict[str, Any], ips: set[int], ports: set[int]) -> None:
        change = _Change(release_ips=sorted(ips), release_ports=sorted(ports))
        if change.release_ips or change.release_ports:
            await self._commit(service, change)

    async def repair(self, services: Iterable[dict[str, Any]], list_revision: int | None = None) -> None:
        """Rebuild both bitmaps from the Services that exist (at start): leaked entries are
        released and every IP and port in use is reserved.

        With ``list_revision`` (the store revision the services were listed at), a bitmap that
        changed after that revision keeps its stored bits, so an allocation made meanwhile by
        another server survives; its leaks, if any, go at the next repair."""
        ip_bits, port_bits = Bitmap(self.ips.size), Bitmap(self.ports.size)
        for service in services:
            spec = service.get("spec") or {}
            meta = service.get("metadata") or {}
            name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
            for text in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if not isinstance(text, str) or text in ("", "None"):
                    continue
                offset = self.ips.offset(text)
                if offset is None:
                    log.warning("service %s: cluster IP %s is not within %s", name, text, self.ips.cidr)
                elif offset in ip_bits:
                    log.warning("service %s: cluster IP %s is allocated to more than one service", name, text)
                else:
                    ip_bits.set(offset)
            for port in set(self._used_ports(spec)):
                port_bits.set(port)
        async with self._turn:
            await self._write_repaired(ip_bits, port_bits, list_revision)

    async def _write_repaired(self, ip_bits: Bitmap, port_bits: Bitmap, list_revision: int | None) -> None:
        for _ in range(MAX_ATTEMPTS):
            ip_state, port_state = await self._load(self.ip_key, self.ips), await self._load(self.port_key, self.ports)
            new_ip, new_port = Bitmap(self.ips.size), Bitmap(self.ports.size)
            new_ip.bits[:], new_port.bits[:] = ip_bits.bits, port_bits.bits
            for state, new in ((ip_state, new_ip), (port_state, new_port)):
                if list_revision is not None and state.mod_revision > list_revision:
                    new.bits[:] = bytes(a | b for a, b in zip(new.bits, state.bitmap.bits, strict=True))
                leaked = state.bitmap.count() - new.count()
                if leaked > 0:
                    log.info("repair %s: releasing %d leaked allocation(s)", state.key, leaked)
                state.bitmap = new
            if await self._write(ip_state, port_state):
                return
        raise InternalError("failed to repair service allocations: too many concurrent updates")

    # --- helpers
    @staticmethod
    def _requested_ip(spec: dict[str, Any]) -> str:
        ip_text = spec.get("clusterIP") or ""
        if not ip_text and spec.get("clusterIPs"):
            ip_text = spec["clusterIPs"][0] or ""
        return ip_text

    def _ip_offset(self, service: dict[str, Any], text: str) -> int:
        offset = self.ips.offset(text)
        if offset is None:
            try:
                ipaddress.ip_address(text)
                why = (f"failed to allocate IP {text}: the provided IP ({text}) is not in the valid range. "
                       f"The range of valid IPs is {self.ips.cidr}")
            except ValueError:
                why = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            raise self._invalid(service, "spec.clusterIPs", f'["{text}"]', why)
        return offset

    def _port_slots(self, service: dict[str, Any], spec: dict[str, Any], change: _Change,
                    owned: frozenset[int] = frozenset()) -> list[tuple[dict[str, Any], str]]:
        """Queue explicit node ports for reservation (except ``owned`` offsets, which the
        service already holds); return the slots that need a random one."""
        slots: list[tuple[dict[str, Any], str]] = []
        kind = spec.get("type", "ClusterIP")
        if kind not in _NODE_PORT_TYPES:
            return slots
        random_allowed = kind == "NodePort" or spec.get("allocateLoadBalancerNodePorts", True) is not False
        seen: set[int] = set()
        for index, port in enumerate(spec.get("ports") or []):
            node_port = port.get("nodePort")
            if node_port:
                self._reserve_port(service, f"spec.ports[{index}].nodePort", node_port, seen, change, owned)
            elif random_allowed:
                slots.append((port, "nodePort"))
        if kind == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
            if spec.get("healthCheckNodePort"):
                self._reserve_port(service, "spec.healthCheckNodePort", spec["healthCheckNodePort"], seen, change,
                                   owned)
            else:
                slots.append((spec, "healthCheckNodePort"))
        change.random_ports = len(slots)
        return slots

    def _reserve_port(self, service: dict[str, Any], path: str, port: Any, seen: set[int],
                      change: _Change, owned: frozenset[int] = frozenset()) -> None:
        offset = self.ports.offset(port)
        if offset is None:
            raise self._invalid(service, path, str(port),
                                f"provided port is not in the valid range. The range of valid ports is "
                                f"{self.ports.text}")
        if offset not in seen and offset not in owned:  # one port may serve TCP and UDP of a service
            seen.add(offset)
            change.reserve_ports.append((path, offset))

    def _used_ips(self, spec: dict[str, Any]) -> list[int]:
        values = spec.get("clusterIPs") or [spec.get("clusterIP")]
        return [o for o in (self.ips.offset(v) for v in values if isinstance(v, str)) if o is not None]

    def _used_ports(self, spec: dict[str, Any]) -> list[int]:
        values = [p.get("nodePort") for p in spec.get("ports") or []] + [spec.get("healthCheckNodePort")]
        return [o for o in (self.ports.offset(v) for v in values) if o is not None]

    @staticmethod
    def _invalid(service: dict[str, Any], path: str, value: str, why: str) -> Invalid:
        name = (service.get("metadata") or {}).get("name", "")
        return Invalid.for_object("Service", name, [cause(path, f"Invalid value: {value}: {why}")])

    async def _load(self, key: str, space: IPRange | PortRange) -> _State:
        text = space.cidr if isinstance(space, IPRange) else space.text
        kv = await self.store.get(key)
        if kv is None:
            return _State(key, text, Bitmap(space.size), 0, _now())
        obj = orjson.loads(kv.value)
        created = (obj.get("metadata") or {}).get("creationTimestamp") or _now()
        if obj.get("range") != text:
            log.warning("%s: stored range %s differs from the configured %s; starting afresh (repair refills it)",
                        key, obj.get("range"), text)
            return _State(key, text, Bitmap(space.size), kv.mod_revision, created)
        return _State(key, text, Bitmap(space.size, obj.get("data", "")), kv.mod_revision, created)

    async def _write(self, *states: _State) -> bool:
        compares = [Compare(s.key, "mod", "=", s.mod_revision) for s in states]
        puts = [PutRequest(s.key, orjson.dumps({
            "kind": "RangeAllocation", "apiVersion": "v1",
            "metadata": {"creationTimestamp": s.created}, "range": s.range, "data": s.bitmap.encode()}))
            for s in states]
        return (await self.store.txn(compares, puts)).succeeded

    async def _commit(self, service: dict[str, Any], change: _Change) -> None:
        async with self._turn:
            await self._commit_now(service, change)

    async def _commit_now(self, service: dict[str, Any], change: _Change) -> None:
        touches_ip = change.random_ip or change.reserve_ips or change.release_ips
        touches_ports = change.random_ports or change.reserve_ports or change.release_ports
        for attempt in range(MAX_ATTEMPTS):
            states: list[_State] = []
            change.got_ip, change.got_ports = None, []
            if touches_ip:
                state = await self._load(self.ip_key, self.ips)
                self._apply_ips(service, state.bitmap, change)
                states.append(state)
            if touches_ports:
                state = await self._load(self.port_key, self.ports)
                self._apply_ports(service, state.bitmap, change)
                states.append(state)
            if await self._write(*states):
                return
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
        raise InternalError("failed to allocate service addresses: too many concurrent updates")

    def _apply_ips(self, service: dict[str, Any], bitmap: Bitmap, change: _Change) -> None:
        for offset in change.release_ips:
            bitmap.clear(offset)
        for text, offset in change.reserve_ips:
            if offset in bitmap:
                raise self._invalid(service, "spec.clusterIPs", f'["{text}"]',
                                    f"failed to allocate IP {text}: provided IP is already allocated")
            bitmap.set(offset)
        if change.random_ip:
            offset = bitmap.find_free(random.randrange(bitmap.size), skip=0)
            if offset is None:
                raise InternalError("failed to allocate a serviceIP: range is full")
            bitmap.set(offset)
            change.got_ip = offset

    def _apply_ports(self, service: dict[str, Any], bitmap: Bitmap, change: _Change) -> None:
        for offset in change.release_ports:
            bitmap.clear(offset)
        for path, offset in change.reserve_ports:
            if offset in bitmap:
                raise self._invalid(service, path, str(self.ports.base + offset), "provided port is already allocated")
            bitmap.set(offset)
        for _ in range(change.random_ports):
            offset = bitmap.find_free(random.randrange(bitmap.size))
            if offset is None:
                raise InternalError("failed to allocate a nodePort: range is full")
            bitmap.set(offset)
            change.got_ports.append(offset)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
