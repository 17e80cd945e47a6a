"""The kubelet's HTTP server: what the API server proxies ``kubectl logs`` and ``exec`` to.

Routes (the kubelet's own paths, so the API server's pods/log and pods/exec proxy maps 1:1)::

    GET  /healthz                                   "ok"
    GET  /pods                                      PodList of the pods this kubelet runs
    POST /pods                                      a manifest (YAML/JSON, one or more Pods) to run
                                                    as static pods (replacing same-named ones)
    DELETE /pods/{ns}/{name}                        stop such a pod
    GET  /stats/summary                             CPU and memory per container, pod and node
    GET  /metrics                                   Prometheus text: pods, containers, restarts
    GET  /containerLogs/{ns}/{pod}/{container}      follow, tailLines, timestamps, previous,
                                                    limitBytes, sinceSeconds, sinceTime
    GET  /exec/{ns}/{pod}/{container}?command=..    WebSocket, v5/v4.channel.k8s.io
    POST /run/{ns}/{pod}/{container}?cmd=..         run a command, answer its output
    GET  /attach/{ns}/{pod}/{container}             WebSocket: the container's output from now on
                                                    (stdout on 1, stderr on 2) until it ends, and
                                                    channel 0 to its stdin (``stdin: true``
                                                    containers; no tty)
    GET  /portForward/{ns}/{pod}?ports=P            WebSocket, v4 channels (see portforward.py), or
                                                    SPDY/3.1 inside it for the real kubectl (spdy.py)

The channel protocol: each binary frame starts with its channel (0 stdin, 1 stdout, 2 stderr,
3 status as a JSON Status, 4 terminal resize); under v5 the frame ``\\xff\\x00`` closes stdin.
The read-only port (``--read-only-port``) serves only /healthz and /pods.

It binds the node IP only (loopback by default), never all addresses. With a serving
certificate (``--tls-cert-file``) it speaks HTTPS and authenticates and authorizes every
request on the main port (auth.py); the read-only port never does, and serves nothing secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from hyperkube.kubelet.containers import ContainerConfigError
from hyperkube.kubelet.logs import LogOptions, stream_log
from hyperkube.machinery.durations import parse_rfc3339

if TYPE_CHECKING:
    from hyperkube.kubelet.kubelet import Kubelet

log = logging.getLogger("hyperkube.kubelet.server")
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _status_error(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1", "yes")


#: the kubelet's own names for the stream flags (the API server's proxy sends both spellings)
KUBELET_NAMES = {"stdin": "input", "stdout": "output", "stderr": "error"}


def _stream_flag(request: web.Request, name: str) -> bool:
    """stdin/stdout/stderr, or input/output/error; stdout and stderr default on when neither is set."""
    given = [key for key in (name, KUBELET_NAMES[name]) if key in request.query]
    if not given:
        return name != "stdin" and not any(k in request.query for k in (*KUBELET_NAMES, *KUBELET_NAMES.values()))
    return any(_flag(request, key) for key in given)


def _int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


class KubeletServer:
    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.port = 0
        self.read_only_port = 0
        self._runners: list[web.AppRunner] = []

    def _app(self, read_only: bool) -> web.Application:
        auth = self.kubelet.config.auth
        middlewares = []
        if auth is not None and auth.enabled and not read_only:
            from hyperkube.kubelet.auth import KubeletAuth

            middlewares.append(KubeletAuth(self.kubelet.client, auth, self.kubelet.node_name).middleware())
        app = web.Application(middlewares=middlewares)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods)
        app.router.add_get("/pods/", self.pods)
        app.router.add_get("/stats/summary", self.stats_summary)
        app.router.add_get("/metrics", self.metrics)
        if not read_only:
            app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
            app.router.add_get("/exec/{namespace}/{pod}/{container}", self.exec)
            app.router.add_post("/exec/{namespace}/{pod}/{container}", self.exec)
            app.router.add_post("/run/{namespace}/{pod}/{container}", self.run)
            app.router.add_post("/pods", self.add_pods)
            app.router.add_delete("/pods/{namespace}/{pod}", self.remove_pod)
            app.router.add_get("/attach/{namespace}/{pod}/{container}", self.attach)
            app.router.add_get("/portForward/{namespace}/{pod}", self.port_forward)
            app.router.add_post("/attach/{namespace}/{pod}/{container}", self.attach)
        return app

    async def _serve(self, app: web.Application, port: int, secure: bool = False) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        context = None
        if secure:
            from hyperkube.kubelet.auth import server_ssl_context

            context = await asyncio.to_thread(server_ssl_context, self.kubelet.config.auth)
        site = web.TCPSite(runner, self.kubelet.node_ip, port, ssl_context=context)
        await site.start()
        self._runners.append(runner)
        server = site._server  # noqa: SLF001 (aiohttp keeps the bound socket there)
        return server.sockets[0].getsockname()[1] if server and server.sockets else port  # type: ignore[union-attr]

    async def start(self) -> None:
        config = self.kubelet.config
        secure = config.auth is not None and config.auth.enabled
        self.port = await self._serve(self._app(False), config.port or 0, secure)
        log.info("kubelet serving%s on %s:%d", " securely" if secure else "", self.kubelet.node_ip, self.port)
        if config.read_only_port is not None:
            self.read_only_port = await self._serve(self._app(True), config.read_only_port)
            log.info("kubelet read-only port on %s:%d", self.kubelet.node_ip, self.read_only_port)

    async def stop(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()

    # -- handlers ---------------------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods(self, request: web.Request) -> web.Response:
        items = []
        for pod in self.kubelet.pods():
            worker = self.kubelet.workers.get(pod["metadata"]["uid"])
            status = worker.shown if worker is not None and worker.shown else pod.get("status")
            items.append({**pod, "status": status or {}})
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def stats_summary(self, request: web.Request) -> web.Response:
        from hyperkube.kubelet.stats import StatsCollector

        if not hasattr(self, "_stats"):
            self._stats = StatsCollector()
        runtime, items = self.kubelet.runtime, []
        for pod in self.kubelet.pods():
            uid = pod["metadata"]["uid"]
            worker = self.kubelet.workers.get(uid)
            containers = []
            for container in (pod.get("spec") or {}).get("containers") or []:
                current = await runtime.container_status(uid, container["name"])
                if current is not None:
                    containers.append((container["name"], current.started_at,
                                       runtime.process_group(uid, container["name"])))
            items.append({"pod": pod, "containers": containers,
                          "started_at": worker.start_time if worker is not None else None})
        body = await asyncio.to_thread(self._stats.summary, self.kubelet.node_name, self.kubelet.started_at, items)
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        running = restarts = containers = 0
        for worker in list(self.kubelet.workers.values()):
            shown = worker.shown or {}
            if shown.get("phase") == "Running":
                running += 1
            for status in shown.get("containerStatuses") or []:
                restarts += int(status.get("restartCount") or 0)
                containers += 1 if "running" in (status.get("state") or {}) else 0
        node = self.kubelet.node_name
        lines = [
            "# HELP kubelet_running_pods Number of pods that have a running pod sandbox",
            "# TYPE kubelet_running_pods gauge", f"kubelet_running_pods {running}",
            "# HELP kubelet_running_containers Number of containers currently running",
            "# TYPE kubelet_running_containers gauge",
            f'kubelet_running_containers{{container_state="running"}} {containers}',
            "# HELP kubelet_container_restarts_total Restarts of the containers of the pods on this node",
            "# TYPE kubelet_container_restarts_total counter", f"kubelet_container_restarts_total {restarts}",
            "# HELP kubelet_node_name The node's name. The count is always 1.",
            "# TYPE kubelet_node_name gauge", f'kubelet_node_name{{node="{node}"}} 1', "",
        ]
        return web.Response(text="\n".join(lines), content_type="text/plain")

    def _find(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        wanted = request.match_info["container"]
        for pod in self.kubelet.pods():
            meta = pod["metadata"]
            if meta.get("namespace") == namespace and meta.get("name") == name:
                spec = pod.get("spec") or {}
                for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                    if container.get("name") == wanted:
                        return pod, container
                raise web.HTTPNotFound(text=f'container "{wanted}" not found in pod "{name}"')
        raise web.HTTPNotFound(text=f'pod "{namespace}/{name}" not found')

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        pod, container = self._find(request)
        runtime, uid, name = self.kubelet.runtime, pod["metadata"]["uid"], container["name"]
        current = await runtime.container_status(uid, name)
        if current is None:
            return _status_error(400, "BadRequest", f'container "{name}" in pod "{pod["metadata"]["name"]}" '
                                                    "is waiting to start: ContainerCreating")
        attempt = current.attempt
        if _flag(request, "previous"):
            if attempt == 0:
                return _status_error(400, "BadRequest", f'previous terminated container "{name}" in pod '
                                                        f'"{pod["metadata"]["name"]}" not found')
            attempt -= 1
        options = LogOptions(tail_lines=_int(request, "tailLines"), timestamps=_flag(request, "timestamps"),
                             limit_bytes=_int(request, "limitBytes"), follow=_flag(request, "follow"))
        since = _int(request, "sinceSeconds")
        if since is not None:
            options.since = time.time() - since
        elif request.query.get("sinceTime"):
            try:
                options.since = parse_rfc3339(request.query["sinceTime"])
            except ValueError:
                return _status_error(400, "BadRequest", "sinceTime must be an RFC 3339 time")
        path = runtime.log_path(uid, name, attempt)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        if path is None:
            await response.write_eof()
            return response
        try:
            async for chunk in stream_log(path, options, lambda: runtime.is_running(uid, name, attempt)):
                await response.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        await response.write_eof()
        return response

    async def _spec(self, pod: dict[str, Any], container: dict[str, Any]) -> Any:
        try:
            return await self.kubelet.container_spec(pod, container)
        except ContainerConfigError:
            from hyperkube.kubelet.runtime import ContainerSpec

            return ContainerSpec(container["name"], [], {"PATH": "/usr/local/bin:/usr/bin:/bin"})

    async def run(self, request: web.Request) -> web.Response:
        pod, container = self._find(request)
        command = request.query.get("cmd", "").split()
        if not command:
            return _status_error(400, "BadRequest", "cmd is required")
        spec = await self._spec(pod, container)
        try:
            process = await asyncio.create_subprocess_exec(
                *command, env=spec.env or None, cwd=spec.working_dir or None, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        except OSError as error:
            return _status_error(500, "InternalError", f"running {command[0]}: {error.strerror or error}")
        output, _ = await process.communicate()
        return web.Response(body=output, content_type="text/plain")

    async def exec(self, request: web.Request) -> web.StreamResponse:
        pod, container = self._find(request)
        command = request.query.getall("command", [])
        if not command:
            return _status_error(400, "BadRequest", "you must specify at least one command for the container")
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS)
        await ws.prepare(request)
        from hyperkube.kubelet.exec import run_exec
        from hyperkube.kubelet.runtime import FakeRuntime

        if isinstance(self.kubelet.runtime, FakeRuntime):  # a hollow node has no process to run beside
            failure = {"metadata": {}, "status": "Failure", "reason": "InternalError",
                       "message": "exec is not supported on a hollow node (fake runtime)"}
            await ws.send_bytes(bytes([STATUS]) + orjson.dumps(failure))
            await ws.close()
            return ws

        spec = await self._spec(pod, container)
        try:
            await run_exec(ws, self.kubelet.runtime, pod, spec, command, stdin=_stream_flag(request, "stdin"),
                           stdout=_stream_flag(request, "stdout"), stderr=_stream_flag(request, "stderr"),
                           tty=_flag(request, "tty"))
        finally:
            await ws.close()
        return ws

    async def attach(self, request: web.Request) -> web.StreamResponse:
        pod, container = self._find(request)
        runtime, uid, name = self.kubelet.runtime, pod["metadata"]["uid"], container["name"]
        current = await runtime.container_status(uid, name)
        if current is None or not runtime.is_running(uid, name, current.attempt):
            return _status_error(400, "BadRequest", f"container {name} is not running")
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS)
        await ws.prepare(request)
        from hyperkube.kubelet.exec import exit_status
        from hyperkube.kubelet.logs import follow_entries

        path = runtime.log_path(uid, name, current.attempt)
        want = {b"stdout": _stream_flag(request, "stdout"), b"stderr": _stream_flag(request, "stderr")}
        fifo = getattr(runtime, "stdin_path", lambda *_: None)(uid, name, current.attempt) \
            if _stream_flag(request, "stdin") else None
        feeder = asyncio.ensure_future(self._attach_stdin(ws, fifo, bool(container.get("stdinOnce"))))
        try:
            async for stream, text in follow_entries(path, lambda: runtime.is_running(uid, name, current.attempt)):
                if want.get(stream):
                    await ws.send_bytes(bytes([STDOUT if stream == b"stdout" else STDERR]) + text)
            ended = await runtime.container_status(uid, name)
            code = ended.exit_code if ended is not None and ended.exit_code is not None else 0
            await ws.send_bytes(bytes([STATUS]) + orjson.dumps(exit_status(code, [name])))
        except ConnectionResetError:
            pass
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
            await ws.close()
        return ws

    @staticmethod
    async def _attach_stdin(ws: web.WebSocketResponse, fifo: str | None, once: bool) -> None:
        """Frames on channel 0 go to the container's stdin FIFO (when it has one), until the
        client closes stdin (v5) or leaves; a ``stdinOnce`` container then gets end-of-file."""
        import os

        from aiohttp import WSMsgType

        transport = None
        if fifo is not None:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            transport, _ = await asyncio.get_running_loop().connect_write_pipe(
                asyncio.Protocol, os.fdopen(fd, "wb", buffering=0))
        try:
            async for message in ws:
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
                if message.type != WSMsgType.BINARY or not message.data:
                    continue
                channel, payload = message.data[0], message.data[1:]
                if channel == STDIN and transport is not None and payload:
                    transport.write(payload)
                elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                    break
        finally:
            if transport is not None:
                transport.close()
                if once:
                    await asyncio.to_thread(lambda: open(fifo + ".closed", "w").close())

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        from hyperkube.kubelet import spdy
        from hyperkube.kubelet.portforward import PROTOCOLS, forward, parse_ports

        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        if not any(p["metadata"].get("namespace") == namespace and p["metadata"].get("name") == name
                   for p in self.kubelet.pods()):
            raise web.HTTPNotFound(text=f'pod "{namespace}/{name}" not found')
        try:
            ports = parse_ports(request.query.getall("ports", []) + request.query.getall("port", []))
        except ValueError as error:
            return _status_error(400, "BadRequest", str(error))
        offered = {p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")}
        if not ports and spdy.PROTOCOL not in offered:  # under SPDY each stream names its port
            return _status_error(400, "BadRequest", "query parameter \"port\" is required")
        ws = web.WebSocketResponse(protocols=(spdy.PROTOCOL, *PROTOCOLS), max_msg_size=0)
        await ws.prepare(request)
        try:
            if ws.ws_protocol == spdy.PROTOCOL:  # the real kubectl: SPDY inside the WebSocket
                await spdy.serve_port_forward(ws, self.kubelet.node_ip)
            else:
                await forward(ws, self.kubelet.node_ip, ports)
        finally:
            await ws.close()
        return ws

    async def add_pods(self, request: web.Request) -> web.Response:
        """The kubelet's own pod source: static pods posted to it (mirrored like the others)."""
        from hyperkube.kubelet.sources import ManifestError, parse_manifests, static_pod

        try:
            manifests = parse_manifests(await request.text())
        except ManifestError as error:
            return _status_error(400, "BadRequest", str(error))
        current = dict(self.kubelet.sources["server"])
        added = []
        for manifest in manifests:
            pod = static_pod(manifest, self.kubelet.node_name, "server", "kubelet-server")
            meta = pod["metadata"]
            for uid, old in list(current.items()):
                if (old["metadata"]["namespace"], old["metadata"]["name"]) == (meta["namespace"], meta["name"]):
                    del current[uid]
            current[meta["uid"]] = pod
            added.append(pod)
        self.kubelet.set_source("server", current)
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": added}
        return web.Response(status=201, body=orjson.dumps(body), content_type="application/json")

    async def remove_pod(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        current = {uid: pod for uid, pod in self.kubelet.sources["server"].items()
                   if (pod["metadata"]["namespace"], pod["metadata"]["name"]) != (namespace, name)}
        if len(current) == len(self.kubelet.sources["server"]):
            return _status_error(404, "NotFound", f'pods "{name}" not found')
        self.kubelet.set_source("server", current)
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return web.Response(body=orjson.dumps(body), content_type="application/json")
