"""Reading container logs in the CRI format the shim writes, as ``kubectl logs`` asks for them.

Each line on disk is ``<RFC3339Nano> <stdout|stderr> <F|P> <text>``: F ends a line, P is a
part of a longer one. Options follow the kubelet's ``/containerLogs`` query: ``tailLines``
(the last N whole lines), ``sinceSeconds``/``sinceTime`` (lines stamped at or after),
``timestamps`` (prefix each line with its stamp), ``limitBytes`` (stop after N bytes) and
``follow`` (keep reading as the file grows, until the container stops).

Files are read in a thread; following polls the file's size every 100 ms.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from hyperkube.machinery.durations import parse_rfc3339


@dataclass
class LogOptions:
    tail_lines: int | None = None
    since: float | None = None  # Unix time
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False


def _entries(data: bytes) -> list[tuple[bytes, bytes]]:
    """(stamp, text with its newline) per complete log line; partial parts are joined."""
    result: list[tuple[bytes, bytes]] = []
    pending = b""
    stamp_of_pending = b""
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        stamp, _stream, tag = parts[0], parts[1], parts[2]
        text = parts[3] if len(parts) > 3 else b""
        if tag == b"P":
            stamp_of_pending = stamp_of_pending or stamp
            pending += text
            continue
        result.append((stamp_of_pending or stamp, pending + text + b"\n"))
        pending, stamp_of_pending = b"", b""
    if pending:
        result.append((stamp_of_pending, pending))
    return result


def _render(entries: list[tuple[bytes, bytes]], options: LogOptions) -> bytes:
    if options.since is not None:
        entries = [e for e in entries if _stamp(e[0]) >= options.since]
    if options.tail_lines is not None:
        entries = entries[-options.tail_lines:] if options.tail_lines > 0 else []
    if options.timestamps:
        return b"".join(stamp + b" " + text for stamp, text in entries)
    return b"".join(text for _, text in entries)


def _stamp(value: bytes) -> float:
    try:
        return parse_rfc3339(value.decode())
    except ValueError:
        return 0.0


def read_log(path: str, options: LogOptions) -> tuple[bytes, int]:
    """The rendered log and the file offset read up to (a whole line boundary)."""
    older = b""
    try:
        with open(path + ".1", "rb") as handle:  # the rotated part, when there is one
            older = handle.read()
    except FileNotFoundError:
        pass
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return _render(_entries(older), options), 0
    end = data.rfind(b"\n") + 1
    return _render(_entries(older + data[:end]), options), end


def _read_from(path: str, offset: int) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < offset:  # rotated since: the new file is all new
                offset = 0
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return b"", offset
    end = data.rfind(b"\n") + 1
    return data[:end], offset + end


async def stream_log(path: str, options: LogOptions, running: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Yield the log, then (``follow``) what is appended while ``running()`` stays true."""
    budget = options.limit_bytes
    first, offset = await asyncio.to_thread(read_log, path, options)

    def spend(chunk: bytes) -> bytes:
        nonlocal budget
        if budget is None:
            return chunk
        chunk = chunk[:budget]
        budget -= len(chunk)
        return chunk

    if first:
        yield spend(first)
    if not options.follow:
        return
    later = LogOptions(timestamps=options.timestamps)
    while budget is None or budget > 0:
        alive = running()
        data, offset = await asyncio.to_thread(_read_from, path, offset)
        if data:
            yield spend(_render(_entries(data), later))
            continue
        if not alive:
            return
        await asyncio.sleep(0.1)


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


async def follow_entries(path: str, running: Callable[[], bool]) -> AsyncIterator[tuple[bytes, bytes]]:
    """(stream, text) for each line written from now on, while ``running()`` (attach)."""
    offset = await asyncio.to_thread(file_size, path)
    while True:
        alive = running()
        data, offset = await asyncio.to_thread(_read_from, path, offset)
        for raw in data.split(b"\n"):
            parts = raw.split(b" ", 3)
            if len(parts) >= 3:
                yield parts[1], (parts[3] if len(parts) > 3 else b"") + (b"\n" if parts[2] == b"F" else b"")
        if not data and not alive:
            return
        if not data:
            await asyncio.sleep(0.1)
