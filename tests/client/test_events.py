"""The event recorder: created once, then count/lastTimestamp patches; similar events combined."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web

from hyperkube.client import EventRecorder
from tests.client.conftest import status

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "5"}}


class EventServer:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []
        self.app = web.Application()
        self.app.router.add_post("/api/v1/namespaces/{ns}/events", self.create)
        self.app.router.add_patch("/api/v1/namespaces/{ns}/events/{name}", self.patch)
        self.app.router.add_put("/api/v1/namespaces/{ns}/events/{name}", self.update)
        self.patch_supported = True

    async def create(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.events[body["metadata"]["name"]] = body
        self.writes.append(("POST", body["metadata"]["name"]))
        return web.json_response(body, status=201)

    async def update(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.writes.append(("PUT", body["metadata"]["name"]))
        self.events[body["metadata"]["name"]] = body
        return web.json_response(body)

    async def patch(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.writes.append(("PATCH", name))
        if not self.patch_supported:
            return status(415, "UnsupportedMediaType", "PATCH is not supported by this server")
        assert request.content_type == "application/strategic-merge-patch+json"
        if name not in self.events:
            return status(404, "NotFound", f'events "{name}" not found')
        self.events[name].update(orjson.loads(await request.read()))
        return web.json_response(self.events[name])


@pytest.fixture
async def recorder_and_server(serve):
    server = EventServer()
    client = await serve(server.app)
    now = [1_800_000_000.0]
    recorder = EventRecorder(client, "default-scheduler", host="node-1", clock=lambda: now[0])
    yield recorder, server, now
    await recorder.close()


async def test_repeats_patch_count_and_last_timestamp(recorder_and_server):
    recorder, server, now = recorder_and_server
    recorder.event(POD, "Normal", "Scheduled", "Successfully assigned default/web to node-1")
    await recorder.flush()
    (event,) = server.events.values()
    assert event["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "namespace": "default", "name": "web",
                                       "uid": "u-1", "resourceVersion": "5"}
    assert (event["type"], event["reason"], event["count"]) == ("Normal", "Scheduled", 1)
    assert event["source"] == {"component": "default-scheduler", "host": "node-1"}
    assert event["metadata"]["name"].startswith("web.") and event["metadata"]["namespace"] == "default"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2027-01-15T08:00:00Z"

    now[0] += 60
    recorder.event(POD, "Normal", "Scheduled", "Successfully assigned default/web to node-1")
    now[0] += 60
    recorder.eventf(POD, "Normal", "Scheduled", "Successfully assigned %s to %s", "default/web", "node-1")
    await recorder.flush()
    assert [w[0] for w in server.writes] == ["POST", "PATCH", "PATCH"]
    (event,) = server.events.values()
    assert event["count"] == 3
    assert (event["firstTimestamp"], event["lastTimestamp"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:02:00Z")

    server.events.clear()  # the event expired on the server: it is written again, count kept
    recorder.event(POD, "Normal", "Scheduled", "Successfully assigned default/web to node-1")
    await recorder.flush()
    assert [w[0] for w in server.writes[-2:]] == ["PATCH", "POST"]
    (event,) = server.events.values()
    assert event["count"] == 4 and event["firstTimestamp"] == "2027-01-15T08:00:00Z"


async def test_similar_events_are_combined(recorder_and_server):
    recorder, server, now = recorder_and_server
    for i in range(12):
        recorder.event(POD, "Warning", "BackOff", f"Back-off restarting failed container (attempt {i})")
    await recorder.flush()
    messages = sorted(e["message"] for e in server.events.values())
    assert len(server.events) == 10  # nine distinct, then one combined event for the rest
    combined = [e for e in server.events.values() if e["message"].startswith("(combined from similar events): ")]
    assert len(combined) == 1 and combined[0]["count"] == 3
    assert combined[0]["message"].endswith("(attempt 11)")
    assert "Back-off restarting failed container (attempt 0)" in messages


async def test_spam_filter_drops_a_flood_about_one_object(recorder_and_server):
    recorder, server, now = recorder_and_server
    for _ in range(40):
        recorder.event(POD, "Warning", "Failed", "Error: ImagePullBackOff")
    await recorder.flush()
    assert len(server.writes) == 25
    (event,) = server.events.values()
    assert event["count"] == 25
    now[0] += 300  # one token back after five minutes
    recorder.event(POD, "Warning", "Failed", "Error: ImagePullBackOff")
    recorder.event(POD, "Warning", "Failed", "Error: ImagePullBackOff")
    await recorder.flush()
    assert event["count"] == 26


async def test_a_server_without_patch_gets_the_whole_event_put(recorder_and_server):
    recorder, server, now = recorder_and_server
    server.patch_supported = False
    for _ in range(3):
        recorder.event(POD, "Normal", "Pulled", "Container image already present on machine")
    await recorder.flush()
    assert [w[0] for w in server.writes] == ["POST", "PATCH", "PUT", "PATCH", "PUT"]
    (event,) = server.events.values()
    assert event["count"] == 3 and event["reason"] == "Pulled"
