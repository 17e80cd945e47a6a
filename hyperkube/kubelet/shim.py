"""The container shim: what conmon is to CRI-O, one tiny process per container.

The process runtime never runs a container's command directly. It starts this shim in a new
session (so the shim and the container share one process group the kubelet can signal), and
the shim:

- runs the command with the given env and working directory, in the shim's process group;
- copies the container's stdout and stderr into the CRI log format
  (``<RFC3339Nano> stdout|stderr F|P <text>``), one line per line written, so the kubelet can
  serve ``timestamps`` and ``sinceSeconds`` and the log survives a kubelet restart; the file
  is rotated by size (``maxLogBytes``, default 10 MiB; one older file, ``.1``, is kept);
- writes ``exit.json`` (exitCode, signal, finishedAt) when the command ends.

Because the shim owns the pipes and records the exit, a kubelet that dies (even ``kill -9``)
loses nothing: the container keeps running, its output keeps going to the file, and a
restarted kubelet reads the exit status from disk instead of ``waitpid``. SIGTERM reaches the
shim's whole group; the shim itself survives it (a Python handler, reset by ``exec`` in the
child) so it can still record how the container ended. Only the standard library is used, so
the shim starts fast.

Usage: ``python -m hyperkube.kubelet.shim SPEC.json`` where the spec holds command, env, cwd,
log and exit paths.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time


def rfc3339_nano(now: float) -> str:
    seconds = int(now)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((now - seconds) * 1e9):09d}Z"


def _write_exit(path: str, record: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(record, handle)
    os.replace(tmp, path)


class RotatingLog:
    """The log file, moved to ``<log>.1`` (replacing an older one) when it passes max_bytes."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.handle = open(path, "ab", buffering=0)  # noqa: SIM115 (held for the container's life)
        self.size = self.handle.tell()

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.max_bytes and self.size:
            self.handle.close()
            os.replace(self.path, self.path + ".1")
            self.handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = 0
        self.handle.write(data)
        self.size += len(data)


def main(spec_path: str) -> int:
    with open(spec_path) as handle:
        spec = json.load(handle)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGHUP, lambda *_: None)
    log = RotatingLog(spec["log"], int(spec.get("maxLogBytes") or 10 << 20))
    started = time.time()
    try:
        child = subprocess.Popen(spec["command"], env=spec["env"], cwd=spec.get("cwd") or None,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 close_fds=True)
    except OSError as exc:
        message = f"failed to start container: {exc.strerror or exc}: {spec['command'][0]}"
        log.write(f"{rfc3339_nano(time.time())} stderr F {message}\n".encode())
        _write_exit(spec["exit"], {"exitCode": 128, "reason": "StartError", "message": message,
                                   "startedAt": started, "finishedAt": time.time()})
        return 0
    with open(spec["exit"] + ".pid", "w") as handle:
        handle.write(str(child.pid))
    selector = selectors.DefaultSelector()
    partial: dict[str, bytes] = {}
    for name, stream in (("stdout", child.stdout), ("stderr", child.stderr)):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ, name)
        partial[name] = b""
    open_streams = 2
    while open_streams:
        events = selector.select(timeout=0.2)
        if not events:  # flush an unterminated line after a quiet spell, as a partial (P) entry
            for name, pending in partial.items():
                if pending:
                    log.write(f"{rfc3339_nano(time.time())} {name} P ".encode() + pending + b"\n")
                    partial[name] = b""
            continue
        for key, _ in events:
            name = key.data
            try:
                data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fileobj)
                open_streams -= 1
                if partial[name]:
                    log.write(f"{rfc3339_nano(time.time())} {name} F ".encode() + partial[name] + b"\n")
                    partial[name] = b""
                continue
            *lines, rest = (partial[name] + data).split(b"\n")
            partial[name] = rest
            if lines:
                stamp = f"{rfc3339_nano(time.time())} {name} F ".encode()
                for line in lines:  # one write per line, so rotation happens between lines
                    log.write(stamp + line + b"\n")
    code = child.wait()
    record: dict = {"startedAt": started, "finishedAt": time.time()}
    if code < 0:
        record.update(exitCode=128 - code, signal=-code)
    else:
        record["exitCode"] = code
    _write_exit(spec["exit"], record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
