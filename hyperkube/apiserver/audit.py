"""The audit log: ``--audit-log-path`` and ``--audit-policy-file``, as Kubernetes writes it.

Every request is matched against the audit.k8s.io/v1 Policy (first matching rule wins; users,
userGroups, verbs, resources with resourceNames and ``*``/``pods/*``/``*/scale``, namespaces,
nonResourceURLs with a trailing ``*``, omitStages at policy and rule level); its level says what
is written: None nothing, Metadata who/what/when/how it ended, Request that plus the request
body, RequestResponse that plus the response body. Without a policy file every request is
logged at Metadata (Kubernetes logs nothing without one; a path alone here means "log it").

Events are audit.k8s.io/v1 ``Event`` objects, one JSON object a line, with a ``RequestReceived``
and a ``ResponseComplete`` stage (each omissible) sharing one auditID (the ``Audit-ID`` header,
which the response echoes). The middleware sits outside the error middleware, so 401, 403 and
500 answers are recorded with their Status. The user and the request's attributes are read
after the handler from what the security middleware stored on the request.

Nothing is encoded or written on the event loop: the middleware queues raw parts (bytes of the
bodies, the status code) and a writer thread decodes, encodes and appends them, flushing after
each batch. Bodies are read only for requests whose level may be Request or above; the body is
then put back on the request for the handler.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
import yaml
from aiohttp import web
from aiohttp.streams import StreamReader

from hyperkube.apiserver.auth import Attributes, User, request_attributes
from hyperkube.machinery import errors

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
BODY_METHODS = ("POST", "PUT", "PATCH")


def timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1e6):06d}Z"


@dataclass
class Rule:
    level: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    namespaces: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()

    def matches(self, user: User, attributes: Attributes) -> bool:
        if self.users and user.name not in self.users:
            return False
        if self.groups and not set(self.groups) & set(user.groups):
            return False
        if self.verbs and attributes.verb not in self.verbs:
            return False
        if not attributes.resource_request:
            if self.resources or self.namespaces:
                return False
            return not self.paths or any(
                attributes.path == p or (p.endswith("*") and attributes.path.startswith(p[:-1])) for p in self.paths)
        if self.paths:
            return False
        if self.namespaces and attributes.namespace not in self.namespaces:
            return False
        return not self.resources or any(self._resource(entry, attributes) for entry in self.resources)

    @staticmethod
    def _resource(entry: dict[str, Any], attributes: Attributes) -> bool:
        if (entry.get("group") or "") != attributes.api_group:
            return False
        names = entry.get("resourceNames") or []
        if names and attributes.name not in names:
            return False
        wanted = entry.get("resources") or []
        if not wanted:
            return True
        resource, sub = attributes.resource, attributes.subresource
        combined = f"{resource}/{sub}" if sub else resource
        return any(r in ("*", combined) or (sub and r == f"*/{sub}") or (r.endswith("/*") and r[:-2] == resource)
                   for r in wanted)


@dataclass
class Policy:
    rules: list[Rule] = field(default_factory=lambda: [Rule("Metadata")])
    omit_stages: frozenset[str] = frozenset()

    def decide(self, user: User, attributes: Attributes) -> tuple[str, frozenset[str]]:
        for rule in self.rules:
            if rule.matches(user, attributes):
                return rule.level, self.omit_stages | rule.omit_stages
        return "None", self.omit_stages

    @property
    def wants_bodies(self) -> bool:
        return any(LEVELS.index(rule.level) >= 2 for rule in self.rules)

    @classmethod
    def parse(cls, text: str) -> Policy:
        body = yaml.safe_load(text)
        if not isinstance(body, dict) or body.get("kind") != "Policy":
            raise ValueError("the audit policy must be an audit.k8s.io/v1 Policy")
        rules = []
        for index, raw in enumerate(body.get("rules") or []):
            level = raw.get("level")
            if level not in LEVELS:
                raise ValueError(f"audit policy rules[{index}].level: {level!r} is not one of {', '.join(LEVELS)}")
            rules.append(Rule(level, tuple(raw.get("users") or ()), tuple(raw.get("userGroups") or ()),
                              tuple(raw.get("verbs") or ()), tuple(raw.get("resources") or ()),
                              tuple(raw.get("namespaces") or ()), tuple(raw.get("nonResourceURLs") or ()),
                              frozenset(raw.get("omitStages") or ())))
        return cls(rules, frozenset(body.get("omitStages") or ()))


class AuditLog:
    """A policy and a writer thread appending events to a file (or stdout)."""

    def __init__(self, handle: BinaryIO, policy: Policy) -> None:
        self.handle = handle
        self.policy = policy
        self.queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._write, name="audit-log", daemon=True)
        self.thread.start()

    def record(self, *parts: Any) -> None:
        self.queue.put(parts)

    def _write(self) -> None:
        handle = self.handle
        try:
            while True:
                item = self.queue.get()
                batch = [item]
                while item is not None:
                    try:
                        item = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    batch.append(item)
                handle.write(b"".join(line for parts in batch if parts is not None for line in self._lines(*parts)))
                handle.flush()
                if batch[-1] is None:
                    return
        finally:
            if handle is not sys.stdout.buffer:
                handle.close()

    @staticmethod
    def _lines(event: dict[str, Any], omit: frozenset[str], level: str, received: float, completed: float,
               code: int, request_body: bytes | None, response_body: bytes | None) -> list[bytes]:
        status: dict[str, Any] = {"metadata": {}, "code": code}
        decoded = _json(response_body) if response_body is not None and code >= 400 else None
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            status.update({k: decoded[k] for k in ("status", "message", "reason") if k in decoded})
        if level in ("Request", "RequestResponse") and request_body:
            event["requestObject"] = _json(request_body)
        lines = []
        if "RequestReceived" not in omit:
            lines.append(orjson.dumps({**event, "stage": "RequestReceived", "stageTimestamp": timestamp(received)}))
        if "ResponseComplete" not in omit:
            complete = {**event, "stage": "ResponseComplete", "stageTimestamp": timestamp(completed),
                        "responseStatus": status}
            if level == "RequestResponse" and response_body:
                complete["responseObject"] = _json(response_body)
            lines.append(orjson.dumps(complete))
        return [line + b"\n" for line in lines]

    async def close(self) -> None:
        self.queue.put(None)
        await asyncio.to_thread(self.thread.join, 10)

    def middleware(self) -> Any:
        policy = self.policy
        wants_bodies = policy.wants_bodies

        @web.middleware
        async def audit(request: web.Request, handler: Any) -> web.StreamResponse:
            received = time.time()
            audit_id = request.headers.get("Audit-ID") or str(uuid.uuid4())
            request_body = None
            if wants_bodies and request.method in BODY_METHODS:
                request_body = await _keep_body(request)  # None: over the limit
            code, response_body = 500, None
            try:
                if request_body is None and wants_bodies and request.method in BODY_METHODS:
                    raise errors.RequestEntityTooLarge("the request body is too large (limit 3145728 bytes)")
                response = await handler(request)
                code = response.status
                if isinstance(response, web.Response) and isinstance(response.body, bytes):
                    response_body = response.body
                if not response.prepared:
                    response.headers["Audit-ID"] = audit_id
                return response
            except web.HTTPException as exc:
                code = exc.status
                raise
            except errors.APIError as exc:  # only the body limit above: the handler's leave as responses
                code, response_body = exc.code, orjson.dumps(exc.to_status())
                return web.Response(body=response_body, status=exc.code, content_type="application/json")
            finally:
                user = request.get("user") or User("")
                attributes = request.get("attributes") or request_attributes(request, user)
                level, omit = policy.decide(user, attributes)
                if level != "None":
                    self.record(_event(request, audit_id, level, user, attributes, received), omit, level, received,
                                time.time(), code, request_body if level != "Metadata" else None,
                                response_body if level == "RequestResponse" or code >= 400 else None)

        return audit


def _json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


async def _keep_body(request: web.Request) -> bytes | None:
    """Read the body for the log and put it back for the handler; None when it is too large."""
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    reader = StreamReader(request.protocol, 2 ** 16, loop=asyncio.get_running_loop())
    reader.feed_data(data)
    reader.feed_eof()
    request._payload = reader  # type: ignore[attr-defined]  # aiohttp keeps the body stream here
    return data


def _event(request: web.Request, audit_id: str, level: str, user: User, attributes: Attributes,
           received: float) -> dict[str, Any]:
    event: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": audit_id,
        "requestURI": request.path_qs, "verb": attributes.verb, "user": user.to_dict(),
        "sourceIPs": [request.remote or ""], "requestReceivedTimestamp": timestamp(received),
    }
    agent = request.headers.get("User-Agent")
    if agent:
        event["userAgent"] = agent
    if attributes.resource_request and attributes.resource:
        ref = {"resource": attributes.resource, "namespace": attributes.namespace, "name": attributes.name,
               "apiGroup": attributes.api_group, "apiVersion": attributes.api_version,
               "subresource": attributes.subresource}
        event["objectRef"] = {k: v for k, v in ref.items() if v}
    return event


async def build(config: Any) -> AuditLog | None:
    """The audit log ``config`` asks for, or None."""
    if not config.audit_log_path:
        return None
    policy = Policy()
    if config.audit_policy_file:
        def read() -> str:
            with open(config.audit_policy_file, encoding="utf-8") as handle:
                return handle.read()
        policy = Policy.parse(await asyncio.to_thread(read))
    path = config.audit_log_path
    if path == "-":
        return AuditLog(sys.stdout.buffer, policy)

    def open_log() -> BinaryIO:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return open(path, "ab")  # noqa: SIM115 - the writer thread owns and closes it

    return AuditLog(await asyncio.to_thread(open_log), policy)
