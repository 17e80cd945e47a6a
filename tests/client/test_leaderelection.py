"""Leader election with two candidates over one Lease: one leader at a time, and takeover."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import orjson
import pytest
from aiohttp import web

from hyperkube.client import Client, LeaderElectionConfig, LeaderElector, RetryPolicy
from tests.client.conftest import Cuttable, status

FAST = {"lease_duration": 1.0, "renew_deadline": 0.5, "retry_period": 0.05}


class LeaseServer:
    """The Lease endpoints as the API server serves them: create, get, conditional update."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.revision = 0
        self.holders: list[str] = []  # every holderIdentity written, in order
        path = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
        self.app = web.Application()
        self.app.router.add_post(path, self.create)
        self.app.router.add_get(path + "/{name}", self.get)
        self.app.router.add_put(path + "/{name}", self.update)

    def _store(self, body: dict[str, Any]) -> web.Response:
        self.revision += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.revision)
        self.lease = body
        self.holders.append(body["spec"].get("holderIdentity", ""))
        return web.json_response(body, status=201 if self.revision == 1 else 200)

    async def create(self, request: web.Request) -> web.Response:
        if self.lease is not None:
            return status(409, "AlreadyExists", 'leases.coordination.k8s.io "lock" already exists')
        return self._store(orjson.loads(await request.read()))

    async def get(self, request: web.Request) -> web.Response:
        if self.lease is None:
            return status(404, "NotFound", 'leases.coordination.k8s.io "lock" not found')
        return web.json_response(self.lease)

    async def update(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            return status(409, "Conflict", "the object has been modified; please apply your changes "
                                           "to the latest version and try again")
        return self._store(body)


class Candidate:
    def __init__(self, server: LeaseServer, identity: str, **options: Any) -> None:
        self.transport = Cuttable(server.app)
        self.client = Client(transport=self.transport, retry=RetryPolicy(max_retries=0))
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.started_at = self.stopped_at = 0.0
        self.leaders_seen: list[str] = []
        self.elector = LeaderElector(
            self.client, LeaderElectionConfig("lock", identity=identity, **{**FAST, **options}),
            on_started_leading=self.work, on_stopped_leading=self.on_stopped,
            on_new_leader=self.leaders_seen.append)
        self.task: asyncio.Task[None] | None = None

    async def work(self) -> None:
        self.started_at = time.monotonic()
        self.started.set()
        await asyncio.Event().wait()  # a controller's work runs until cancelled

    def on_stopped(self) -> None:
        self.stopped_at = time.monotonic()
        self.stopped.set()

    def run(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()
        await self.transport.close()


@pytest.fixture
async def candidates():
    server = LeaseServer()
    made: list[Candidate] = []

    def make(identity: str, **options: Any) -> Candidate:
        candidate = Candidate(server, identity, **options)
        made.append(candidate)
        return candidate

    yield server, make
    for candidate in made:
        await candidate.close()


async def first_leader(*candidates: Candidate) -> Candidate:
    waits = {asyncio.create_task(c.started.wait()): c for c in candidates}
    async with asyncio.timeout(10):
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return waits[done.pop()]


async def test_one_leader_then_clean_handover(candidates):
    server, make = candidates
    a, b = make("a"), make("b")
    a.run()
    b.run()
    leader = await first_leader(a, b)
    other = b if leader is a else a
    for _ in range(5):  # several renew rounds: the other never leads meanwhile
        await asyncio.sleep(FAST["retry_period"])
        assert leader.elector.is_leader() and not other.elector.is_leader()
    assert other.elector.leader == leader.elector.config.identity
    assert server.lease["spec"]["leaseDurationSeconds"] == 1

    assert leader.task is not None
    leader.task.cancel()  # a clean stop releases the lease
    await asyncio.gather(leader.task, return_exceptions=True)
    assert leader.stopped.is_set()
    async with asyncio.timeout(10):
        await other.started.wait()
    assert other.elector.is_leader()
    assert server.lease["spec"]["holderIdentity"] == other.elector.config.identity
    assert server.holders.count("") == 1  # released once, by the old leader
    assert server.lease["spec"]["leaseTransitions"] == 1
    assert other.leaders_seen == [leader.elector.config.identity, other.elector.config.identity]


async def test_partitioned_leader_steps_down_before_the_other_takes_over(candidates):
    server, make = candidates
    a = make("a")
    a.run()
    async with asyncio.timeout(10):
        await a.started.wait()
    b = make("b")
    b.run()
    for _ in range(3):
        await asyncio.sleep(FAST["retry_period"])
    assert not b.started.is_set()

    a.transport.cut = True  # a can no longer renew, nor release
    last_renewal = time.monotonic()
    async with asyncio.timeout(10):
        await a.stopped.wait()
        await b.started.wait()
    assert a.stopped_at <= b.started_at  # never two leaders at once
    # b waited for the lease to expire by its own clock, and no longer than that plus a retry
    assert b.started_at - last_renewal < FAST["lease_duration"] + 10 * FAST["retry_period"]
    assert b.started_at - a.stopped_at > 0
    assert server.lease["spec"]["holderIdentity"] == "b"
    assert "" not in server.holders


def test_config_checks_the_timing_order():
    with pytest.raises(ValueError):
        LeaderElectionConfig("x", lease_duration=10, renew_deadline=15)
    defaults = LeaderElectionConfig("x")
    assert (defaults.lease_duration, defaults.renew_deadline, defaults.retry_period) == (15.0, 10.0, 2.0)
