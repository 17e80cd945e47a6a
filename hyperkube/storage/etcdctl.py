"""``hyperkube etcdctl``: etcdctl v3's everyday commands over any Store, plus v2's ``ls``.

Each command is one coroutine ``(store, out, ...) -> exit code`` that writes bytes to
``out`` exactly as etcdctl v3 prints them (values are raw bytes, so they go out unchanged);
the click wiring in ``hyperkube.cli.etcdctl`` opens the store, runs one, and turns a
:class:`StorageError` into ``Error: ...`` on stderr and exit code 1, as etcdctl does.

- ``get`` prints ``key`` then ``value`` lines; a missing key prints nothing, exit 0.
  ``-w json`` is etcdctl's JSON (base64 keys and values, numbers for revisions).
- ``ls`` is the seed era's ``etcdctl ls [--recursive] /registry``: the keyspace seen as
  directories split on ``/``.
- ``history`` lists every change of one key the store still holds. Ranges at past revisions
  only see the key's current generation, and a delete leaves nothing a range can find, so
  the history is read the way etcd keeps it: the value at the compaction point, then a watch
  from the revision after it, which replays every stored put and delete in order. The replay
  stops at the key's current mod revision, or when the key is gone now, once the replay has
  been idle for ``idle`` seconds (a replay arrives at once; nothing in it is timed otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import BinaryIO

import orjson

from hyperkube.storage.interface import (
    CompactedError,
    DeleteRequest,
    Event,
    KeyValue,
    PutRequest,
    RangeRequest,
    Store,
    StoreStatus,
    prefix_end,
)


class CommandError(Exception):
    """A failure with etcdctl's own message and exit code (printed on stderr)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _line(out: BinaryIO, data: bytes | str = b"") -> None:
    out.write((data.encode() if isinstance(data, str) else data) + b"\n")


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data).decode()


def kv_json(kv: KeyValue, *, keys_only: bool = False) -> dict:
    """A KeyValue as etcdctl's JSON prints it: Go's encoding/json of the protobuf struct,
    so int64s are numbers, bytes base64, and zero fields left out."""
    entry: dict = {"key": _b64(kv.key)}
    for name in ("create_revision", "mod_revision", "version", "lease"):
        if getattr(kv, name):
            entry[name] = getattr(kv, name)
    if kv.value and not keys_only:
        entry["value"] = _b64(kv.value)
    return entry


def _print_kv(out: BinaryIO, kv: KeyValue, *, print_value_only: bool = False) -> None:
    if not print_value_only:
        _line(out, kv.key.encode("utf-8", "surrogateescape"))
    _line(out, kv.value)


def _key_range(key: str, prefix: bool, from_key: bool = False) -> tuple[str, str | None]:
    if from_key:
        return key, "\0"
    if prefix:
        return (key, prefix_end(key)) if key else ("\0", "\0")
    return key, None


async def get(store: Store, out: BinaryIO, key: str, *, prefix: bool = False, from_key: bool = False,
              revision: int = 0, limit: int = 0, keys_only: bool = False, count_only: bool = False,
              print_value_only: bool = False, write_out: str = "simple") -> int:
    start, end = _key_range(key, prefix, from_key)
    result = await store.range(RangeRequest(start, end, revision=revision, limit=limit, keys_only=keys_only,
                                            count_only=count_only))
    if write_out == "json":
        answer: dict = {"header": {"revision": result.revision}}
        if result.kvs:
            answer["kvs"] = [kv_json(kv, keys_only=keys_only) for kv in result.kvs]
        if result.more:
            answer["more"] = True
        if result.count:
            answer["count"] = result.count
        _line(out, orjson.dumps(answer))
        return 0
    if count_only:
        _line(out, str(result.count))
        return 0
    for kv in result.kvs:
        _print_kv(out, kv, print_value_only=print_value_only)
    return 0


async def put(store: Store, out: BinaryIO, key: str, value: bytes, *, lease: int = 0, prev_kv: bool = False) -> int:
    result = await store.put(PutRequest(key, value, lease=lease, prev_kv=prev_kv))
    _line(out, "OK")
    if prev_kv and result.prev_kv is not None:
        _print_kv(out, result.prev_kv)
    return 0


async def delete(store: Store, out: BinaryIO, key: str, *, prefix: bool = False, from_key: bool = False,
                 prev_kv: bool = False) -> int:
    start, end = _key_range(key, prefix, from_key)
    result = await store.delete_range(DeleteRequest(start, end, prev_kv=prev_kv))
    _line(out, str(result.deleted))
    for kv in result.prev_kvs:
        _print_kv(out, kv)
    return 0


def _print_event(out: BinaryIO, event: Event) -> None:
    _line(out, event.type)
    if event.prev_kv is not None:
        _print_kv(out, event.prev_kv)
    _print_kv(out, event.kv)


async def watch(store: Store, out: BinaryIO, key: str, *, prefix: bool = False, revision: int = 0,
                prev_kv: bool = False) -> int:
    """Print events until cancelled (Ctrl-C) or the watch fails."""
    start, end = _key_range(key, prefix)
    async with contextlib.aclosing(store.watch(start, end, start_revision=revision, prev_kv=prev_kv)) as events:
        async for response in events:
            for event in response.events:
                _print_event(out, event)
            out.flush()
    return 0


async def ls(store: Store, out: BinaryIO, prefix: str = "/", *, recursive: bool = False) -> int:
    """etcd v2's directory listing over a flat keyspace: ``a/b/c`` is key c in directory a/b."""
    base = "/" + prefix.strip("/") if prefix.strip("/") else ""
    result = await store.range(RangeRequest(base + "/" if base else "\0", prefix_end(base + "/") if base else "\0",
                                            keys_only=True))
    keys = [kv.key for kv in result.kvs if kv.key.startswith(base + "/")]
    if not keys:
        exact = await store.get(base) if base else None
        if exact is not None:
            _line(out, exact.key.encode("utf-8", "surrogateescape"))
            return 0
        if base:  # etcd v2's answer, with its exit code
            raise CommandError(f" 100: Key not found ({base}) [{result.revision}]", 4)
        return 0
    seen: set[str] = set()
    for key in keys:
        parts = key[len(base) + 1:].split("/")
        depth = len(parts) if recursive else 1
        for i in range(1, depth + 1):
            path = base + "/" + "/".join(parts[:i])
            if path not in seen:
                seen.add(path)
                _line(out, path.encode("utf-8", "surrogateescape"))
    return 0


async def compact(store: Store, out: BinaryIO, revision: int) -> int:
    await store.compact(revision)
    _line(out, f"compacted revision {revision}")
    return 0


def human_bytes(size: int) -> str:
    """go-humanize's Bytes, which etcdctl uses for DB SIZE: SI units, e.g. ``20 kB``."""
    if size < 10:
        return f"{size} B"
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    exponent = 0
    while size >= 1000 ** (exponent + 1) and exponent < len(units) - 1:
        exponent += 1
    value = int(size / 1000 ** exponent * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """etcdctl's table style: centred capital headers, ``+---+`` rules."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    head = "|" + "|".join(f" {h.center(w)} " for h, w in zip(headers, widths, strict=True)) + "|"
    body = ["|" + "|".join(f" {c.ljust(w)} " for c, w in zip(r, widths, strict=True)) + "|" for r in rows]
    return [rule, head, rule, *body, rule]


async def endpoint_status(store: Store, out: BinaryIO, *, write_out: str = "table") -> int:
    status: StoreStatus = await store.status()
    if write_out == "json":
        _line(out, orjson.dumps([{"Endpoint": status.endpoint, "Status": {
            "header": {"revision": status.revision}, "version": status.version, "dbSize": status.db_size,
            "compactRevision": status.compact_revision}}]))
        return 0
    row = [status.endpoint, str(status.revision), str(status.compact_revision), human_bytes(status.db_size),
           status.version]
    if write_out == "simple":
        _line(out, ", ".join(row))
        return 0
    for text in _table(["ENDPOINT", "REVISION", "COMPACT REVISION", "DB SIZE", "VERSION"], [row]):
        _line(out, text)
    return 0


async def key_history(store: Store, key: str, *, idle: float = 1.0) -> list[Event]:
    """Every stored change of ``key``, oldest first (see the module docstring)."""
    status = await store.status()
    current = await store.get(key)
    changes: list[Event] = []
    start = 1
    if status.compact_revision:
        start = status.compact_revision + 1
        with contextlib.suppress(CompactedError):
            kept = await store.get(key, revision=status.compact_revision)
            if kept is not None:
                changes.append(Event("PUT", kept))
    if current is not None and current.mod_revision < start:
        return changes
    if current is None and status.revision < start:
        return changes
    async with contextlib.aclosing(store.watch(key, start_revision=start)) as events:
        while True:
            try:
                response = await (anext(events) if current is not None else asyncio.wait_for(anext(events), idle))
            except (TimeoutError, StopAsyncIteration):
                return changes
            for event in response.events:
                if event.kv.mod_revision > status.revision:
                    return changes
                changes.append(event)
                if current is not None and event.kv.mod_revision >= current.mod_revision:
                    return changes


async def history(store: Store, out: BinaryIO, key: str, *, write_out: str = "simple") -> int:
    changes = await key_history(store, key)
    if write_out == "json":
        _line(out, orjson.dumps([{"type": e.type, "revision": e.kv.mod_revision, "kv": kv_json(e.kv)}
                                 for e in changes]))
        return 0
    for event in changes:
        kv = event.kv
        if event.type == "DELETE":
            _line(out, f"revision {kv.mod_revision} DELETE")
            continue
        _line(out, f"revision {kv.mod_revision} PUT version {kv.version} create_revision {kv.create_revision}"
                   + (f" lease {kv.lease:x}" if kv.lease else ""))
        _line(out, kv.value)
    return 0
