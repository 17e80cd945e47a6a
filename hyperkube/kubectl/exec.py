"""``kubectl exec`` and ``attach``: a container's streams over the channel protocol (WebSocket).

Frames carry one leading channel byte: 0 stdin, 1 stdout, 2 stderr, 3 the final Status,
4 terminal resize. With ``-i`` stdin is read in a thread (the event loop never blocks on
it) and its end is signalled with v5's close frame (``0xff 0x00``). With ``-t`` on a real
terminal, the local terminal goes into raw mode for the session (restored after, whatever
happens) and its size is sent on channel 4 at the start and on every SIGWINCH. A non-zero
exit of the command becomes ours, with kubectl's "command terminated with exit code N" on
stderr. :func:`run_captured` runs a command to completion with bytes in and out (``cp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hyperkube.kubectl.logs import LogOptions, _containers
from hyperkube.kubectl.session import KubectlError, Session

STDIN, STDOUT, STDERR, STATUS, RESIZE = range(5)
NO_TTY = "Unable to use a TTY - input is not a terminal or the right kind of file"


def _exit_code(status: dict[str, Any]) -> int:
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", "1"))
            except ValueError:
                return 1
    raise KubectlError(status.get("message") or "command failed")


async def _pump_stdin(ws: Any, read: Callable[[], bytes]) -> None:
    """Send what ``read`` returns until it returns nothing. The reads happen in a daemon
    thread, not the loop's executor: a read blocked on a terminal must not keep the process
    alive once the command has ended."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def reader() -> None:
        while True:
            try:
                data = read()
            except (OSError, ValueError):
                data = b""
            loop.call_soon_threadsafe(chunks.put_nowait, data)
            if not data:
                return

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    while True:
        data = await chunks.get()
        if not data:
            await ws.send_bytes(b"\xff\x00")
            return
        await ws.send_bytes(bytes([STDIN]) + data)


def _size_frame() -> bytes:
    columns, lines = os.get_terminal_size(sys.stdout.fileno() if sys.stdout.isatty() else sys.stdin.fileno())
    return bytes([RESIZE]) + json.dumps({"Width": columns, "Height": lines}).encode()


@contextlib.contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _stream(ws: Any, *, stdin: bool, tty: bool, read: Callable[[], bytes] | None = None,
                  out: Callable[[bytes], None] | None = None, err: Callable[[bytes], None] | None = None) -> int:
    """Copy the socket's channels until it closes; the command's exit code."""
    import aiohttp

    def write(stream: Any) -> Callable[[bytes], None]:
        def put(data: bytes) -> None:
            stream.buffer.write(data)
            stream.buffer.flush()
        return put

    out, err = out or write(sys.stdout), err or write(sys.stderr)
    loop = asyncio.get_running_loop()
    resized = False
    if tty:
        await ws.send_bytes(_size_frame())
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, lambda: asyncio.ensure_future(ws.send_bytes(_size_frame())))
            resized = True
    # the raw descriptor: a daemon thread must hold no lock of sys.stdin's buffer at exit
    reader = read or (lambda: os.read(sys.stdin.fileno(), 65536))
    feeder = asyncio.create_task(_pump_stdin(ws, reader)) if stdin else None
    code = 0
    try:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == STDOUT:
                out(payload)
            elif channel == STDERR:
                err(payload)
            elif channel == STATUS:
                code = _exit_code(json.loads(payload or b"{}"))
    finally:
        if resized:
            loop.remove_signal_handler(signal.SIGWINCH)
        if feeder is not None:
            feeder.cancel()
        await ws.close()
    return code


def _terminal(stdin: bool, tty: bool) -> bool:
    """Whether ``-t`` can have a terminal: it needs ``-i`` and a terminal on stdin."""
    if not tty:
        return False
    if stdin and sys.stdin.isatty():
        return True
    print(NO_TTY, file=sys.stderr, flush=True)
    return False


async def _open(session: Session, pod_name: str, kind: str, params: list[tuple[str, str]], container: str | None,
                namespace: str | None = None) -> tuple[Any, str]:
    namespace = namespace or session.namespace
    pod = await session.client.get("v1/pods", pod_name, namespace=namespace)
    chosen = _containers(pod, LogOptions(container=container), many=False)[0]
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise KubectlError(f"cannot {kind} into a container in a completed pod; current phase is {phase}")
    path = f"/api/v1/namespaces/{namespace}/pods/{pod_name}/{kind}"
    return await session.client.websocket(path, params=[*params, ("container", chosen)]), chosen


def _channels(stdin: bool, tty: bool) -> list[tuple[str, str]]:
    params = [("stdout", "true"), ("stderr", "false" if tty else "true")]
    if stdin:
        params.append(("stdin", "true"))
    if tty:
        params.append(("tty", "true"))
    return params


async def exec_command(session: Session, pod_name: str, command: list[str], *, container: str | None,
                       stdin: bool, tty: bool) -> int:
    if not command:
        raise KubectlError("you must specify at least one command for the container")
    tty = _terminal(stdin, tty)
    ws, _ = await _open(session, pod_name, "exec", [("command", part) for part in command] + _channels(stdin, tty),
                        container)
    return await _finish(ws, stdin, tty)


async def _finish(ws: Any, stdin: bool, tty: bool) -> int:
    """Stream until the container side ends (in raw terminal mode with ``-t``); its exit code
    is ours, as kubectl reports it."""
    if tty:
        with _raw_terminal(sys.stdin.fileno()):
            code = await _stream(ws, stdin=stdin, tty=True)
    else:
        code = await _stream(ws, stdin=stdin, tty=False)
    if code:
        raise KubectlError(f"command terminated with exit code {code}", code=code, raw=True)
    return 0


async def attach(session: Session, pod_name: str, *, container: str | None, stdin: bool, tty: bool,
                 quiet: bool) -> int:
    """``attach POD``: the running container's output from now on (and stdin with ``-i``),
    until it exits; its exit code is ours, as with exec."""
    tty = _terminal(stdin, tty)
    ws, chosen = await _open(session, pod_name, "attach", _channels(stdin, tty), container)
    if not quiet and tty:
        print("If you don't see a command prompt, try pressing enter.", file=sys.stderr, flush=True)
    return await _finish(ws, stdin, tty)


async def run_captured(session: Session, pod_name: str, namespace: str, container: str | None, command: list[str],
                       data: bytes | None = None) -> tuple[bytes, bytes, int]:
    """Run ``command`` in the container with ``data`` as its stdin: (stdout, stderr, exit code)."""
    params = [("command", part) for part in command] + _channels(data is not None, False)
    ws, _ = await _open(session, pod_name, "exec", params, container, namespace)
    out: list[bytes] = []
    err: list[bytes] = []
    pending = [data] if data is not None else []

    def read() -> bytes:
        return pending.pop() if pending else b""

    code = await _stream(ws, stdin=data is not None, tty=False, read=read, out=out.append, err=err.append)
    return b"".join(out), b"".join(err), code
