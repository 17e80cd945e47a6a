"""The async REST client: one method per Kubernetes verb, typed errors, careful retries.

Objects are plain dicts, exactly as on the wire. A failed request raises the
:mod:`hyperkube.machinery.errors` class named by the Status body (NotFound, Conflict, ...),
carrying that body; a request that got no response raises :class:`TransportError`.

Retries (:class:`RetryPolicy`) follow what is safe, not what is convenient:

- a connection that could not be opened (:class:`ConnectError`): the request was never
  sent, so any request is retried;
- 429 TooManyRequests: the server refused the request before running it, so any request is
  retried, after ``Retry-After`` seconds when the server gives them;
- 503 ServiceUnavailable with ``Retry-After``: likewise an explicit "not processed, come back";
- a 503 without it, or a connection lost after sending: only *idempotent* requests are
  retried: GET, HEAD, PUT, DELETE, server-side apply, and PATCHes carrying a precondition
  (a json-patch ``test`` or a ``metadata.resourceVersion``). A POST or a blind PATCH might
  have been applied already, so the error goes to the caller instead.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from hyperkube.client._auth import ExecCredentials
from hyperkube.client._config import Config
from hyperkube.client._resources import GroupVersionResource, ResourceLike, resource_of
from hyperkube.client._transport import ConnectError, HTTPTransport, Response, Transport, TransportError
from hyperkube.client._watch import Watch
from hyperkube.client._workqueue import BucketRateLimiter
from hyperkube.machinery.errors import APIError, Gone, error_from_status

PATCH_CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
#: exec/attach channel protocols, newest first (v5 adds the close-stdin signal)
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PODS = GroupVersionResource("", "v1", "pods")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class RetryPolicy:
    """How often and how long to retry; ``sleep`` is injectable so tests can see the waits."""

    max_retries: int = 5
    backoff_base: float = 0.2
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        backoff = min(self.backoff_base * (2 ** attempt), self.backoff_max)
        return backoff * (0.5 + random.random() / 2)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _has_precondition(body: Any, content_type: str) -> bool:
    if content_type == PATCH_CONTENT_TYPES["apply"]:
        return True  # server-side apply is declarative: applying twice gives the same object
    if isinstance(body, list):
        return any(op.get("op") == "test" for op in body if isinstance(op, dict))
    if isinstance(body, dict):
        return bool((body.get("metadata") or {}).get("resourceVersion"))
    return False


def _selector(value: str | dict[str, str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(f"{k}={v}" for k, v in value.items())


def _query(**values: Any) -> list[tuple[str, str]]:
    params = []
    for key, value in values.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        params.append((key, str(value)))
    return params


class Client:
    """An async Kubernetes API client. Use as ``async with Client(config) as client:``.

    ``transport`` replaces the network (see :class:`AppTransport`); ``retry`` the retry
    policy; ``qps``/``burst`` throttle requests client-side with a token bucket. Namespaced
    calls take ``namespace`` explicitly; :attr:`namespace` is the kubeconfig context's.
    """

    def __init__(self, config: Config | None = None, *, transport: Transport | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 60.0, qps: float | None = None,
                 burst: int = 10) -> None:
        if config is None and transport is None:
            raise ValueError("Client needs a config, a transport, or both")
        self.config = config or Config(server="http://127.0.0.1")
        if transport is None:
            transport = HTTPTransport(self.config.server, ssl_context=self.config.ssl_context(),
                                      server_hostname=self.config.tls_server_name)
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        #: client-side throttle (client-go's --kube-api-qps/--kube-api-burst); None = unlimited
        self.throttle = BucketRateLimiter(qps, burst) if qps else None
        use_exec = self.config.exec_plugin and not self.config.token and not self.config.token_file
        self._exec = ExecCredentials(self.config.exec_plugin) if use_exec else None  # type: ignore[arg-type]

    @property
    def namespace(self) -> str:
        return self.config.namespace

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    # -- the raw request ------------------------------------------------------------------------

    def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": self.config.user_agent, **self.config.extra_headers}
        token = self.config.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.config.username is not None:
            import base64

            pair = f"{self.config.username}:{self.config.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def open(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                   json: Any = None, content_type: str | None = None, accept: str = "application/json",
                   stream: bool = False, read_timeout: float | None = None,
                   idempotent: bool | None = None) -> Response:
        """Send a request with retries and return the successful response unread (for streams).

        Raises the typed :class:`APIError` for a 4xx/5xx answer. ``stream=True`` lifts the
        overall request timeout (watches, ``logs -f``); ``read_timeout`` then bounds each wait
        for more data.
        """
        body = None
        if json is not None:
            body = orjson.dumps(json)
            content_type = content_type or "application/json"
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or (
                method == "PATCH" and _has_precondition(json, content_type or ""))
        headers = self._headers(accept, content_type)
        total = None if stream else self.timeout
        attempt = 0
        refreshed = False
        while True:
            retry_after: float | None = None
            if self._exec is not None:
                headers["Authorization"] = f"Bearer {await self._exec.token()}"
            if self.throttle is not None:
                wait = self.throttle.when(path)
                if wait > 0:
                    await self.retry.sleep(wait)
            try:
                response = await self.transport.send(method, path, params=params, headers=headers,
                                                     body=body, request_timeout=total,
                                                     read_timeout=read_timeout)
            except ConnectError:
                if attempt >= self.retry.max_retries:
                    raise
            except TransportError:
                if not idempotent or attempt >= self.retry.max_retries:
                    raise
            else:
                if response.status < 400:
                    return response
                error = await self._error(response)
                if response.status == 401 and self._exec is not None and not refreshed:
                    self._exec.invalidate()  # the plugin's token was revoked or expired early
                    refreshed = True
                    continue
                retry_after = _retry_after(response.headers)
                retryable = response.status == 429 or (
                    response.status == 503 and (idempotent or retry_after is not None))
                if not retryable or attempt >= self.retry.max_retries:
                    raise error
            await self.retry.sleep(self.retry.delay(attempt, retry_after))
            attempt += 1

    @staticmethod
    async def _error(response: Response) -> APIError:
        data = await response.read()
        status: dict[str, Any] | None = None
        try:
            decoded = orjson.loads(data) if data else None
            if isinstance(decoded, dict) and decoded.get("kind") == "Status":
                status = decoded
        except orjson.JSONDecodeError:
            pass
        if status is None:
            text = data.decode(errors="replace").strip()
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                      "message": text or f"the server responded with HTTP {response.status}",
                      "code": response.status}
        error = error_from_status(status, response.status)
        error.retry_after = _retry_after(response.headers)  # type: ignore[attr-defined]
        return error

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request (see :meth:`open`) and decode the answer: JSON as Python, else text."""
        response = await self.open(method, path, **kwargs)
        data = await response.read()
        if not data:
            return None
        if "json" in response.content_type:
            return orjson.loads(data)
        return data.decode(errors="replace")

    # -- verbs --------------------------------------------------------------------------------

    async def get(self, resource: ResourceLike, name: str, *, namespace: str | None = None,
                  subresource: str | None = None, accept: str = "application/json", **params: Any) -> dict[str, Any]:
        """GET one object; extra keyword arguments become query parameters as written."""
        path = resource_of(resource).path(namespace, name, subresource)
        return await self.request("GET", path, params=_query(**params), accept=accept)

    async def list(self, resource: ResourceLike, *, namespace: str | None = None,
                   label_selector: str | dict[str, str] | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_token: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None,
                   timeout_seconds: int | None = None, accept: str = "application/json") -> dict[str, Any]:
        """One page of a list; ``namespace=None`` lists across namespaces (or cluster-scoped).
        ``accept`` may ask for a server-side Table (``as=Table;v=v1;g=meta.k8s.io``)."""
        params = _query(labelSelector=_selector(label_selector), fieldSelector=field_selector,
                        limit=limit, resourceVersion=resource_version,
                        resourceVersionMatch=resource_version_match, timeoutSeconds=timeout_seconds)
        params += _query(**{"continue": continue_token})
        return await self.request("GET", resource_of(resource).path(namespace), params=params, accept=accept)

    async def pages(self, resource: ResourceLike, *, page_size: int = 500,
                    **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """Every page of a list, following ``metadata.continue`` (a stale token raises Gone)."""
        token: str | None = None
        while True:
            page = await self.list(resource, limit=page_size or None, continue_token=token, **kwargs)
            yield page
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    async def list_all(self, resource: ResourceLike, *, page_size: int = 500, **kwargs: Any) -> dict[str, Any]:
        """The whole list, paged behind the scenes. If a continue token expires (410) midway,
        the list starts over once without paging, as client-go's pager does; the result's
        ``metadata.resourceVersion`` is the version the list was read at."""
        result: dict[str, Any] = {}
        items: list[dict[str, Any]] = []
        try:
            async for page in self.pages(resource, page_size=page_size, **kwargs):
                items.extend(page.get("items") or [])
                result = page
        except Gone:
            if not items:
                raise
            result = await self.list(resource, **kwargs)
            items = result.get("items") or []
        metadata = {k: v for k, v in (result.get("metadata") or {}).items()
                    if k not in ("continue", "remainingItemCount")}
        return {**result, "metadata": metadata, "items": items}

    async def create(self, resource: ResourceLike, body: dict[str, Any], *, namespace: str | None = None,
                     subresource: str | None = None, name: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None, field_validation: str | None = None) -> dict[str, Any]:
        """POST; the namespace defaults to ``body.metadata.namespace``. Subresource creates
        (``pods/NAME/binding``, ``eviction``) pass ``name`` and ``subresource``."""
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        path = resource_of(resource).path(namespace, name, subresource)
        params = _query(dryRun="All" if dry_run else None, fieldManager=field_manager,
                        fieldValidation=field_validation)
        return await self.request("POST", path, params=params, json=body)

    async def update(self, resource: ResourceLike, body: dict[str, Any], *, namespace: str | None = None,
                     subresource: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None, field_validation: str | None = None) -> dict[str, Any]:
        """PUT the whole object; a ``metadata.resourceVersion`` makes it conditional (409 on a race)."""
        metadata = body.get("metadata") or {}
        namespace = namespace or metadata.get("namespace")
        path = resource_of(resource).path(namespace, metadata["name"], subresource)
        params = _query(dryRun="All" if dry_run else None, fieldManager=field_manager,
                        fieldValidation=field_validation)
        return await self.request("PUT", path, params=params, json=body)

    async def update_status(self, resource: ResourceLike, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return await self.update(resource, body, subresource="status", **kwargs)

    async def patch(self, resource: ResourceLike, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: str = "merge", subresource: str | None = None, dry_run: bool = False,
                    field_manager: str | None = None, force: bool | None = None,
                    field_validation: str | None = None) -> dict[str, Any]:
        """PATCH with ``patch_type`` json, merge, strategic or apply (server-side apply)."""
        content_type = PATCH_CONTENT_TYPES[patch_type]
        params = _query(dryRun="All" if dry_run else None, fieldManager=field_manager, force=force,
                        fieldValidation=field_validation)
        path = resource_of(resource).path(namespace, name, subresource)
        return await self.request("PATCH", path, params=params, json=patch, content_type=content_type)

    async def patch_status(self, resource: ResourceLike, name: str, patch: Any, **kwargs: Any) -> dict[str, Any]:
        return await self.patch(resource, name, patch, subresource="status", **kwargs)

    async def delete(self, resource: ResourceLike, name: str, *, namespace: str | None = None,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """DELETE; returns the object (still there with finalizers) or a Success Status."""
        path = resource_of(resource).path(namespace, name)
        return await self.request("DELETE", path, json=_delete_options(
            propagation_policy, grace_period_seconds, preconditions, dry_run))

    async def delete_collection(self, resource: ResourceLike, *, namespace: str | None = None,
                                label_selector: str | dict[str, str] | None = None,
                                field_selector: str | None = None, propagation_policy: str | None = None,
                                grace_period_seconds: int | None = None, dry_run: bool = False) -> dict[str, Any]:
        path = resource_of(resource).path(namespace)
        params = _query(labelSelector=_selector(label_selector), fieldSelector=field_selector)
        return await self.request("DELETE", path, params=params, json=_delete_options(
            propagation_policy, grace_period_seconds, None, dry_run))

    # -- streams: logs and channels ----------------------------------------------------------------

    async def logs(self, name: str, *, namespace: str, container: str | None = None, previous: bool = False,
                   tail_lines: int | None = None, since_seconds: int | None = None, timestamps: bool = False,
                   limit_bytes: int | None = None) -> str:
        """A container's log as text (``kubectl logs``)."""
        params = _query(container=container, previous=previous or None, tailLines=tail_lines,
                        sinceSeconds=since_seconds, timestamps=timestamps or None, limitBytes=limit_bytes)
        path = PODS.path(namespace, name, "log")
        response = await self.open("GET", path, params=params, accept="text/plain, */*")
        return (await response.read()).decode(errors="replace")

    async def follow_logs(self, name: str, *, namespace: str, container: str | None = None,
                          tail_lines: int | None = None, since_seconds: int | None = None,
                          timestamps: bool = False) -> AsyncIterator[bytes]:
        """A container's log as it is written (``kubectl logs -f``), chunk by chunk."""
        params = _query(container=container, follow=True, tailLines=tail_lines, sinceSeconds=since_seconds,
                        timestamps=timestamps or None)
        response = await self.open("GET", PODS.path(namespace, name, "log"), params=params,
                                   accept="text/plain, */*", stream=True)
        try:
            async for chunk in response.chunks():
                yield chunk
        finally:
            response.close()

    async def websocket(self, path: str, *, params: list[tuple[str, str]] | None = None,
                        protocols: tuple[str, ...] = CHANNEL_PROTOCOLS) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket to ``path`` with this client's credentials: exec, attach and
        port-forward speak Kubernetes' channel protocol over it (first byte = channel)."""
        return await self.transport.websocket(path, params=params, headers=self._headers("*/*", None),
                                              protocols=protocols)

    def watch(self, resource: ResourceLike, *, namespace: str | None = None,
              label_selector: str | dict[str, str] | None = None, field_selector: str | None = None,
              resource_version: str | None = None, timeout_seconds: int | None = None,
              allow_bookmarks: bool = True, send_initial_events: bool = False,
              yield_bookmarks: bool = False, accept: str = "application/json") -> Watch:
        """An async iterator of watch events (see :class:`Watch`); nothing is sent until iterated."""
        params = _query(labelSelector=_selector(label_selector), fieldSelector=field_selector,
                        timeoutSeconds=timeout_seconds, allowWatchBookmarks=allow_bookmarks or None)
        if send_initial_events:
            params += _query(sendInitialEvents=True, resourceVersionMatch="NotOlderThan")
        return Watch(self, resource_of(resource).path(namespace), params,
                     resource_version=resource_version, yield_bookmarks=yield_bookmarks, accept=accept)


def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                    preconditions: dict[str, str] | None, dry_run: bool) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    if propagation_policy:
        options["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        options["preconditions"] = preconditions
    if dry_run:
        options["dryRun"] = ["All"]
    if not options:
        return None
    return {"kind": "DeleteOptions", "apiVersion": "v1", **options}
