"""``exec`` over a WebSocket with Kubernetes' channel protocol (v4/v5.channel.k8s.io).

The command runs beside the container's process with the container's environment and
working directory (there is no namespace to enter). Frames from the client carry stdin on
channel 0 (and, under v5, ``\\xff\\x00`` to close it; channel 4 resizes, which a pipe ignores).
stdout and stderr go out on channels 1 and 2. When the command ends, one channel-3 frame
carries a Status: Success, or Failure with reason NonZeroExitCode and the code in
``details.causes`` (what kubectl turns into its own exit code).

With ``tty=true`` the command gets a pseudo-terminal: one output stream (channel 1), and
resize frames set the window size.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import struct
import termios
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from hyperkube.kubelet.runtime import ContainerSpec

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {command}, "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


async def _send(ws: web.WebSocketResponse, channel: int, data: bytes) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await ws.send_bytes(bytes([channel]) + data)


async def run_exec(ws: web.WebSocketResponse, runtime: Any, pod: dict[str, Any], spec: ContainerSpec,
                   command: list[str], *, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
    if tty:
        await _run_tty(ws, spec, command)
        return
    try:
        process = await asyncio.create_subprocess_exec(
            *command, env=spec.env or None, cwd=spec.working_dir or None,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as error:
        message = f'exec: "{command[0]}": {error.strerror or error}'
        await _send(ws, STDERR, message.encode() + b"\n")
        await _send(ws, STATUS, orjson.dumps(exit_status(127 if isinstance(error, FileNotFoundError) else 126,
                                                         command)))
        return

    async def pump(stream: asyncio.StreamReader | None, channel: int, wanted: bool) -> None:
        if stream is None:
            return
        while True:
            data = await stream.read(65536)
            if not data:
                return
            if wanted:
                await _send(ws, channel, data)

    async def feed() -> None:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                data = message.data
            elif message.type == WSMsgType.TEXT:
                data = message.data.encode()
            else:
                break
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDIN and process.stdin is not None and payload:
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    process.stdin.write(payload)
                    await process.stdin.drain()
            elif channel == CLOSE and payload[:1] == bytes([STDIN]) and process.stdin is not None:
                process.stdin.close()
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()

    feeder = asyncio.get_running_loop().create_task(feed())
    try:
        await asyncio.gather(pump(process.stdout, STDOUT, stdout), pump(process.stderr, STDERR, stderr))
        code = await process.wait()
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
    await _send(ws, STATUS, orjson.dumps(exit_status(code, command)))


def _set_size(fd: int, payload: bytes) -> None:
    try:
        size = json.loads(payload)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", int(size.get("Height", 24)),
                                                        int(size.get("Width", 80)), 0, 0))
    except (ValueError, OSError, AttributeError):
        pass


async def _run_tty(ws: web.WebSocketResponse, spec: ContainerSpec, command: list[str]) -> None:
    loop = asyncio.get_running_loop()
    master, slave = os.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *command, env={**spec.env, "TERM": spec.env.get("TERM", "xterm")}, cwd=spec.working_dir or None,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    except OSError as error:
        os.close(master)
        os.close(slave)
        await _send(ws, STDOUT, f'exec: "{command[0]}": {error.strerror or error}\r\n'.encode())
        await _send(ws, STATUS, orjson.dumps(exit_status(127, command)))
        return
    os.close(slave)
    os.set_blocking(master, False)
    output: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data)

    loop.add_reader(master, readable)

    async def pump() -> None:
        while True:
            data = await output.get()
            if not data:
                return
            await _send(ws, STDOUT, data)

    async def feed() -> None:
        async for message in ws:
            if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                break
            data = message.data if message.type == WSMsgType.BINARY else message.data.encode()
            if not data:
                continue
            if data[0] == STDIN:
                with contextlib.suppress(OSError):
                    os.write(master, data[1:])
            elif data[0] == RESIZE:
                _set_size(master, data[1:])

    feeder = loop.create_task(feed())
    pumper = loop.create_task(pump())
    try:
        code = await process.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(pumper), 0.5)
    finally:
        for task in (feeder, pumper):
            task.cancel()
        await asyncio.gather(feeder, pumper, return_exceptions=True)
        loop.remove_reader(master)
        os.close(master)
    await _send(ws, STATUS, orjson.dumps(exit_status(code, command)))
