"""Round robin over a Service port's ready endpoints, with ClientIP session affinity.

The balancer is the only state shared between the sync loop (which replaces endpoint lists)
and the listeners (which ask for the next endpoint per connection or UDP session), all on
one event loop, so it needs no locks. Replacing a port's endpoints keeps the rotation
position and every affinity entry whose endpoint is still there; connections already open to
a removed endpoint are not touched (they drain), but it is never picked again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hyperkube.proxy.table import Endpoint, ServicePortName


@dataclass
class _PortState:
    endpoints: list[Endpoint] = field(default_factory=list)
    index: int = 0
    affinity_timeout: float | None = None
    #: client IP -> (endpoint, monotonic time last used)
    affinity: dict[str, tuple[Endpoint, float]] = field(default_factory=dict)


class NoEndpoints(LookupError):
    """The Service port has no ready endpoint (the connection is refused)."""


class RoundRobin:
    def __init__(self, clock=time.monotonic) -> None:
        self._ports: dict[ServicePortName, _PortState] = {}
        self._clock = clock

    def update(self, name: ServicePortName, endpoints: list[Endpoint], affinity_timeout: float | None) -> None:
        state = self._ports.setdefault(name, _PortState())
        if state.endpoints != endpoints:
            alive = set(endpoints)
            state.affinity = {ip: entry for ip, entry in state.affinity.items() if entry[0] in alive}
            state.endpoints = list(endpoints)
            if state.endpoints:
                state.index %= len(state.endpoints)
        if affinity_timeout is None:
            state.affinity.clear()
        state.affinity_timeout = affinity_timeout

    def remove(self, name: ServicePortName) -> None:
        self._ports.pop(name, None)

    def names(self) -> list[ServicePortName]:
        return list(self._ports)

    def endpoints(self, name: ServicePortName) -> list[Endpoint]:
        state = self._ports.get(name)
        return list(state.endpoints) if state else []

    def has_endpoints(self, name: ServicePortName) -> bool:
        state = self._ports.get(name)
        return bool(state and state.endpoints)

    def next(self, name: ServicePortName, client_ip: str | None = None, *,
             exclude: frozenset[Endpoint] = frozenset()) -> Endpoint:
        """The endpoint for a new connection from ``client_ip``.

        ``exclude`` lists endpoints that just failed for this connection: they are skipped
        (and an affinity entry to one is dropped) so a retry goes elsewhere.
        """
        state = self._ports.get(name)
        if state is None or not state.endpoints:
            raise NoEndpoints(str(name))
        now = self._clock()
        sticky = state.affinity_timeout is not None and client_ip is not None
        if sticky:
            entry = state.affinity.get(client_ip)  # type: ignore[arg-type]
            if entry is not None:
                endpoint, last = entry
                if now - last <= state.affinity_timeout and endpoint not in exclude:  # type: ignore[operator]
                    state.affinity[client_ip] = (endpoint, now)  # type: ignore[index]
                    return endpoint
                del state.affinity[client_ip]  # type: ignore[arg-type]
        count = len(state.endpoints)
        for _ in range(count):
            endpoint = state.endpoints[state.index % count]
            state.index = (state.index + 1) % count
            if endpoint not in exclude:
                break
        else:
            raise NoEndpoints(str(name))
        if sticky:
            state.affinity[client_ip] = (endpoint, now)  # type: ignore[index]
        return endpoint

    def expire_affinity(self) -> None:
        """Forget affinity entries older than their port's timeout (called periodically)."""
        now = self._clock()
        for state in self._ports.values():
            if state.affinity_timeout is None or not state.affinity:
                continue
            limit = state.affinity_timeout
            state.affinity = {ip: entry for ip, entry in state.affinity.items() if now - entry[1] <= limit}
