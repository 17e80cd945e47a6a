"""Thousands of malformed and random requests: the server answers every one with a Status or
an object, never a 5xx. Seeded, so a failure reproduces; the failing request is in the message."""

from __future__ import annotations

import asyncio
import json
import random
import string
from typing import Any

import aiohttp

SEGMENTS = ["api", "apis", "v1", "v2", "apps", "batch", "namespaces", "default", "kube-system", "pods", "services",
            "deployments", "configmaps", "nodes", "status", "scale", "binding", "finalize", "log", "watch", "..",
            ".", "%2F", "%00", "x" * 300, "Ünï", "events", "leases", "coordination.k8s.io", "", "web", "-", "a.b",
            "rbac.authorization.k8s.io", "clusterroles", "persistentvolumes", "horizontalpodautoscalers"]
QUERY_KEYS = ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "resourceVersionMatch",
              "watch", "timeoutSeconds", "allowWatchBookmarks", "sendInitialEvents", "dryRun", "fieldValidation",
              "propagationPolicy", "gracePeriodSeconds", "orphanDependents", "includeObject", "pretty", "junk"]
QUERY_VALUES = ["", "0", "1", "-1", "99999999999999999999", "true", "false", "All", "Strict", "Warn", "Ignore",
                "Exact", "NotOlderThan", "a=b", "a in (", "!x", "metadata.name=web", "spec.nodeName!=", "=",
                "a==b,c!=d", "x,y", "Object", "None", "Metadata", "Foreground", "Orphan", "%zz", "eyJydiI6MX0",
                "abc\\", "a in (b,c),!d", "status.phase=Running", "involvedObject.name=x"]
CONTENT_TYPES = [None, "application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
                 "application/merge-patch+json", "text/plain", "application/x-www-form-urlencoded", "foo/bar"]


def random_scalar(rng: random.Random) -> Any:
    return rng.choice([None, True, False, 0, -1, 2 ** 70, 1.5, "", "x", "web", "Ünï", "a" * 1000, [], {},
                       "2024-01-01T00:00:00Z", "-", "..", "a/b"])


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.5:
        return random_scalar(rng)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["metadata", "spec", "status", "name", "namespace", "labels", "containers", "image", "ports", "kind",
            "apiVersion", "finalizers", "generateName", "resourceVersion", "replicas", "selector", "type",
            "clusterIP", "nodePort", "ownerReferences", "data", "template", "uid"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutated_pod(rng: random.Random) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": rng.choice(["web", "w1", "w2", "n1", "", "Bad!"]),
                                        "labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    container = obj["spec"]["containers"][0]
    for _ in range(rng.randint(0, 2)):
        targets = [t for t in (obj, obj.get("metadata"), obj.get("spec"), container) if isinstance(t, dict)]
        target = rng.choice(targets)
        key = rng.choice(list(target) + ["extra", "finalizers", "generateName", "namespace", "resourceVersion",
                                         "deletionTimestamp", "ports", "nodeName", "status"])
        target[key] = random_value(rng)
    return obj


def random_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.45:
        return json.dumps(mutated_pod(rng)).encode()
    if roll < 0.6:
        return json.dumps(random_value(rng)).encode()
    if roll < 0.7:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    if roll < 0.78:
        return ("[" * rng.randint(1, 3000)).encode()
    if roll < 0.85:
        return rng.choice([b"a: [b", b"- - -", b"{\"a\": 1, \"a\": 2}", b"!!python/object:os.system x", b"null",
                           b"\xff\xfe", b"k8s\x00\x01\x02", b"{\"metadata\": {\"name\": \"x\"}} trailing",
                           b"&a [*a, *a]", b"{\"metadata\": NaN}", b"1e999999"])
    text = "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 120)))
    return text.encode()


COLLECTIONS = ["/api/v1/namespaces/default/pods", "/api/v1/pods", "/api/v1/namespaces", "/api/v1/nodes",
               "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/configmaps",
               "/apis/apps/v1/namespaces/default/deployments", "/apis/apps/v1/deployments",
               "/api/v1/namespaces/default/events", "/apis/events.k8s.io/v1/namespaces/default/events",
               "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers",
               "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
               "/apis/rbac.authorization.k8s.io/v1/clusterroles", "/api/v1/namespaces/nope/pods",
               "/api/v1/watch/namespaces/default/pods", "/api/v1/namespaces/default/secrets"]
ITEM_NAMES = ["web", "w1", "w2", "default", "kubernetes", "n1", "Bad!", "x" * 260]
SUBRESOURCES = ["status", "scale", "binding", "finalize", "log", "exec", "eviction", "bogus"]


def random_path(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 7)))
    path = rng.choice(COLLECTIONS)
    if roll < 0.4:
        return path
    path += "/" + rng.choice(ITEM_NAMES)
    if roll > 0.85:
        path += "/" + rng.choice(SUBRESOURCES)
    return path


def random_request(rng: random.Random) -> tuple[str, str, bytes | None, dict[str, str]]:
    path = random_path(rng)
    query = "&".join(f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}" for _ in range(rng.randint(0, 4)))
    if query:
        path += "?" + query
    method = rng.choice(["GET", "GET", "POST", "POST", "POST", "PUT", "PUT", "DELETE", "PATCH", "HEAD"])
    body = random_body(rng) if method in ("POST", "PUT", "DELETE", "PATCH") and rng.random() < 0.9 else None
    headers = {}
    content_type = rng.choice(CONTENT_TYPES + ["application/json"] * 4)
    if content_type:
        headers["Content-Type"] = content_type
    if rng.random() < 0.2:
        headers["Accept"] = rng.choice(["application/json;as=Table;v=v1;g=meta.k8s.io", "application/yaml",
                                        "application/vnd.kubernetes.protobuf", "*/*", "text/html", ";;;"])
    return method, path, body, headers


async def test_random_requests_never_get_a_5xx(server):
    rng = random.Random(20261125)
    requests = [random_request(rng) for _ in range(3000)]
    failures: list[str] = []
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        semaphore = asyncio.Semaphore(16)

        async def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
            async with semaphore:
                try:
                    async with session.request(method, server.url + path, data=body, headers=headers,
                                               skip_auto_headers=["Content-Type"]) as response:
                        if response.status >= 500:
                            text = await response.text()
                            failures.append(f"{method} {path} {body[:200] if body else b''!r} "
                                            f"-> {response.status} {text[:300]}")
                        elif response.status >= 400 and method != "HEAD":
                            status = await response.json(content_type=None)
                            assert status["kind"] == "Status", status
                except aiohttp.InvalidURL:
                    pass

        await asyncio.gather(*(send(*request) for request in requests))
    assert not failures, "\n".join(failures[:20])
    async with aiohttp.ClientSession() as session:  # still healthy afterwards
        async with session.get(server.url + "/readyz") as response:
            assert response.status == 200
