"""``kubectl exec``: run a command in a container over the channel protocol (WebSocket).

Frames carry one leading channel byte: 0 stdin, 1 stdout, 2 stderr, 3 the final Status,
4 terminal resize. With ``-i`` stdin is read in a thread (the event loop never blocks on
it) and its end is signalled with v5's close frame (``0xff 0x00``). A non-zero exit of the
command becomes ours, with kubectl's "command terminated with exit code N" on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from hyperkube.kubectl.logs import LogOptions, _containers
from hyperkube.kubectl.session import KubectlError, Session


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


async def _pump_stdin(ws: Any) -> None:
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.run_in_executor(None, sys.stdin.buffer.read1, 65536)  # type: ignore[attr-defined]
        if not data:
            await ws.send_bytes(b"\xff\x00")
            return
        await ws.send_bytes(b"\x00" + data)


async def exec_command(session: Session, pod_name: str, command: list[str], *, container: str | None,
                       stdin: bool, tty: bool) -> int:
    import aiohttp

    if not command:
        raise KubectlError("you must specify at least one command for the container")
    pod = await session.client.get("v1/pods", pod_name, namespace=session.namespace)
    chosen = _containers(pod, LogOptions(container=container), many=False)[0]
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise KubectlError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    params = [("command", part) for part in command] + [("container", chosen), ("stdout", "true"),
                                                        ("stderr", "false" if tty else "true")]
    if stdin:
        params.append(("stdin", "true"))
    if tty:
        params.append(("tty", "true"))
    path = f"/api/v1/namespaces/{session.namespace}/pods/{pod_name}/exec"
    ws = await session.client.websocket(path, params=params)
    code = 0
    feeder = asyncio.create_task(_pump_stdin(ws)) if stdin else None
    try:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == 1:
                sys.stdout.buffer.write(payload)
                sys.stdout.buffer.flush()
            elif channel == 2:
                sys.stderr.buffer.write(payload)
                sys.stderr.buffer.flush()
            elif channel == 3:
                code = _exit_code(json.loads(payload or b"{}"))
    finally:
        if feeder is not None:
            feeder.cancel()
        await ws.close()
    if code:
        raise KubectlError(f"command terminated with exit code {code}", code=code, raw=True)
    return 0
