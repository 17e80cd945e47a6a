"""Lists: one consistent snapshot, selectors, limit/continue paging, resourceVersion rules.

Every page of a paged list is read at the revision of the first page, so a client that
follows ``continue`` tokens sees one snapshot even while writes go on. The token is
base64 JSON ``{"rv": R, "start": key}``; once the store has compacted R it answers 410
Expired, as Kubernetes does.

resourceVersion, as Kubernetes defines it for lists:

- unset: the latest state (a consistent read).
- ``"0"``: any state (we have no cache, so also the latest).
- ``N`` with resourceVersionMatch unset or ``NotOlderThan``: at least N (the latest).
- ``N`` with ``Exact``: the state at revision N (410 when compacted).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from multidict import MultiMapping

from hyperkube.apiserver.selection import Filter, split_key
from hyperkube.machinery import errors
from hyperkube.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyValue,
    RangeRequest,
    Store,
    prefix_end,
)

CHUNK = 1000  # how many keys a filtered paged list reads per store range


@dataclass(slots=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str | None = None
    resource_version_match: str = ""
    watch: bool = False
    allow_bookmarks: bool = False
    send_initial_events: bool | None = None
    timeout_seconds: int | None = None


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def _int(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.BadRequest(f'invalid {name} parameter "{value}": must be an integer') from None
    if number < 0:
        raise errors.BadRequest(f'invalid {name} parameter "{value}": must not be negative')
    return number


def invalid_options(field_name: str, value: str, message: str) -> errors.Invalid:
    causes = [errors.cause(field_name, f'Invalid value: "{value}": {message}')]
    return errors.Invalid(f'ListOptions.meta.k8s.io "" is invalid: {field_name}: Invalid value: '
                          f'"{value}": {message}', details={"group": "meta.k8s.io", "kind": "ListOptions",
                                                              "causes": causes})


def parse_options(query: MultiMapping[str], legacy_watch: bool = False) -> ListOptions:
    options = ListOptions(
        label_selector=query.get("labelSelector", ""),
        field_selector=query.get("fieldSelector", ""),
        limit=_int(query, "limit") or 0,
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion"),
        resource_version_match=query.get("resourceVersionMatch", ""),
        watch=legacy_watch or _bool(query.get("watch")),
        allow_bookmarks=_bool(query.get("allowWatchBookmarks")),
        timeout_seconds=_int(query, "timeoutSeconds"),
    )
    if "sendInitialEvents" in query:
        options.send_initial_events = _bool(query.get("sendInitialEvents"))
    rv = options.resource_version
    if rv not in (None, ""):
        try:
            if int(rv) < 0:
                raise ValueError
        except ValueError:
            raise errors.BadRequest(f'invalid resource version "{rv}"') from None
    match = options.resource_version_match
    if match:
        if match not in ("NotOlderThan", "Exact"):
            raise invalid_options("resourceVersionMatch", match, 'supported values: "Exact", "NotOlderThan"')
        if options.send_initial_events is None:
            if rv in (None, ""):
                raise invalid_options("resourceVersionMatch", match,
                                      "resourceVersionMatch is forbidden unless resourceVersion is provided")
            if match == "Exact" and rv == "0":
                raise invalid_options("resourceVersionMatch", match,
                                      "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
    if options.continue_token and rv not in (None, "", "0"):
        raise invalid_options("resourceVersion", rv or "",
                              "specifying resource version is not allowed when using continue")
    if options.send_initial_events is not None:
        if not options.watch:
            raise invalid_options("sendInitialEvents", "true", "sendInitialEvents is forbidden for list")
        if options.send_initial_events and match != "NotOlderThan":
            raise invalid_options("resourceVersionMatch", match,
                                  "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
    return options


def encode_continue(revision: int, start: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"rv": revision, "start": start})).decode()


def decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        revision, start = int(data["rv"]), str(data["start"])
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError, UnicodeError):
        raise errors.BadRequest("invalid continue token: not a token this server issued") from None
    if revision <= 0 or not start.startswith(prefix):
        raise errors.BadRequest("invalid continue token: it belongs to another list")
    return revision, start


@dataclass(slots=True)
class Page:
    kvs: list[KeyValue]
    revision: int
    objects: list[dict[str, Any]] | None = None  # decoded, when the filter needed them
    continue_token: str = ""
    remaining: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def read_page(store: Store, resource_prefix: str, namespaced: bool, filt: Filter,
                    options: ListOptions, decode: Callable[[Any, KeyValue], Any] | None = None) -> Page:
    """The matching objects of one resource (``resource_prefix`` = ``/registry/pods/``)."""
    prefix = f"{resource_prefix}{filt.namespace}/" if filt.namespace else resource_prefix
    end = prefix_end(prefix)
    revision = 0
    start = prefix
    if options.continue_token:
        revision, start = decode_continue(options.continue_token, prefix)
    else:
        rv = options.resource_version
        if rv not in (None, "", "0"):
            wanted = int(rv)
            if options.resource_version_match == "Exact":
                revision = wanted
            else:
                current = await store.current_revision()
                if wanted > current:
                    raise errors.Timeout(f"Too large resource version: {wanted}, current: {current}",
                                         details={"retryAfterSeconds": 1})
    if filt.name is not None and (filt.namespace or not namespaced):
        key = prefix + filt.name  # one key at most: read just that
        if key < start:
            return Page([], revision or await store.current_revision(), [] if filt.needs_object else None)
        start, end = key, key + "\0"

    limit = options.limit
    kept: list[KeyValue] = []
    objects: list[dict[str, Any]] | None = [] if filt.needs_object else None
    token = ""
    remaining: int | None = None
    while True:
        if not limit:
            chunk = 0
        elif filt.everything:
            chunk = limit - len(kept)
        else:
            chunk = max(CHUNK, limit)
        try:
            result = await store.range(RangeRequest(start, end, revision=revision, limit=chunk))
        except CompactedError:
            if options.continue_token:
                raise errors.Gone.expired(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter.") from None
            raise errors.Gone.expired("The resourceVersion for the provided list is too old.") from None
        except FutureRevisionError as exc:
            raise errors.Timeout(f"Too large resource version: {exc.requested}, current: {exc.current}",
                                 details={"retryAfterSeconds": 1}) from None
        if revision == 0:
            revision = result.revision
        full = False
        for index, kv in enumerate(result.kvs):
            if not filt.everything:
                namespace, name = split_key(kv.key, resource_prefix, namespaced)
                if not filt.matches_key(namespace, name):
                    continue
            if objects is not None:
                obj = _decode(kv) if decode is None else _shared(decode, filt.resource, kv)
                if not filt.matches(obj):
                    continue
                objects.append(obj)  # type: ignore[arg-type]
            kept.append(kv)
            if limit and len(kept) >= limit:
                if index + 1 < len(result.kvs) or result.more:
                    token = encode_continue(revision, kv.key + "\0")
                    if filt.everything:
                        remaining = result.count - (index + 1)
                full = True
                break
        if full or not result.more or not result.kvs:
            break
        start = result.kvs[-1].key + "\0"
    return Page(kept, revision, objects, token, remaining if remaining else None)


def _shared(decode: Callable[[Any, KeyValue], Any], resource: Any, kv: KeyValue) -> dict[str, Any] | None:
    try:
        return decode(resource, kv)
    except errors.APIError:
        return None


def _decode(kv: KeyValue) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(kv.value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata["resourceVersion"] = str(kv.mod_revision)
    return obj
