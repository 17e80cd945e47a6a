"""Round robin and ClientIP affinity, with a fake clock."""

import pytest

from hyperkube.proxy.balancer import NoEndpoints, RoundRobin
from hyperkube.proxy.table import Endpoint, ServicePortName

NAME = ServicePortName("ns", "web", "")
A, B, C = Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)


def test_round_robin_and_endpoint_changes():
    lb = RoundRobin()
    with pytest.raises(NoEndpoints):
        lb.next(NAME)
    lb.update(NAME, [A, B, C], None)
    assert [lb.next(NAME, "1.1.1.1") for _ in range(6)] == [A, B, C, A, B, C]
    lb.update(NAME, [A, C], None)
    assert {lb.next(NAME) for _ in range(4)} == {A, C}
    assert lb.next(NAME, exclude=frozenset({A})) == C
    with pytest.raises(NoEndpoints):
        lb.next(NAME, exclude=frozenset({A, C}))
    lb.update(NAME, [], None)
    with pytest.raises(NoEndpoints):
        lb.next(NAME)


def test_client_ip_affinity_expires_and_follows_removal():
    now = [0.0]
    lb = RoundRobin(clock=lambda: now[0])
    lb.update(NAME, [A, B, C], 10)
    first = lb.next(NAME, "1.1.1.1")
    other = lb.next(NAME, "2.2.2.2")
    assert first != other
    assert all(lb.next(NAME, "1.1.1.1") == first for _ in range(5))
    now[0] = 9.0
    assert lb.next(NAME, "1.1.1.1") == first  # used at 9: timeout counts from last use
    now[0] = 19.5
    lb.expire_affinity()
    assert lb._ports[NAME].affinity.get("1.1.1.1") is None
    sticky = lb.next(NAME, "1.1.1.1")
    lb.update(NAME, [e for e in (A, B, C) if e != sticky], 10)
    moved = lb.next(NAME, "1.1.1.1")
    assert moved != sticky and all(lb.next(NAME, "1.1.1.1") == moved for _ in range(3))
    lb.update(NAME, [A, B, C], None)  # affinity turned off
    assert len({lb.next(NAME, "1.1.1.1") for _ in range(3)}) == 3
