"""pods/log, pods/exec, pods/attach, pods/portforward: checked here, then proxied to the
kubelet of the pod's node (``proxy.py``) at the kubelet's own paths::

    log          GET  /containerLogs/{ns}/{pod}/{container}?follow&tailLines&...
    exec         WS   /exec/{ns}/{pod}/{container}?command=..&input=1&output=1&error=1&tty=1
    attach       WS   /attach/{ns}/{pod}/{container}?input=1&output=1&error=1&tty=1
    portforward  WS   /portForward/{ns}/{pod}?ports=..

As Kubernetes' pod REST does before proxying: the container defaults to the pod's only one
(else 400 naming the choices) and must exist; the pod must be on a node; exec and attach need
a pod that hasn't finished, port-forward a Running one. The stream flags are sent both as the
kubelet's names (``input``/``output``/``error``/``tty`` = 1) and as the API's
(``stdin``/``stdout``/``stderr``), so either kind of kubelet reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDict

from hyperkube.apiserver import paths, proxy
from hyperkube.machinery import errors

if TYPE_CHECKING:
    from hyperkube.apiserver.handlers import RestAPI

LOG_OPTIONS = ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream")
INT_OPTIONS = ("sinceSeconds", "tailLines", "limitBytes")
STREAM_FLAGS = {"stdin": "input", "stdout": "output", "stderr": "error"}


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


async def node_of(api: RestAPI, node_name: str) -> dict[str, Any]:
    nodes = api.context.registry.get("", "v1", "nodes")
    assert nodes is not None
    try:
        return await api.objects.get(nodes, "", node_name)
    except errors.NotFound:
        raise errors.NotFound(f'nodes "{node_name}" not found', details={"name": node_name, "kind": "nodes"}) \
            from None


def container_of(pod: dict[str, Any], wanted: str | None) -> str:
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    regular = [c.get("name") for c in spec.get("containers") or [] if isinstance(c, dict)]
    every = regular + [c.get("name") for key in ("initContainers", "ephemeralContainers")
                       for c in spec.get(key) or [] if isinstance(c, dict)]
    if not wanted:
        if len(regular) == 1 and len(every) == 1:
            return regular[0]
        raise errors.BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                                f"[{' '.join(str(c) for c in every)}]")
    if wanted not in every:
        raise errors.BadRequest(f"container {wanted} is not valid for pod {name}")
    return wanted


async def handle(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    sub = target.subresource
    if sub == "log":
        if request.method != "GET":
            raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                          f"({request.method})")
        request["verb"] = "get"
    elif request.method not in ("GET", "POST"):
        raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                      f"({request.method})")
    else:
        request["verb"] = "create" if request.method == "POST" else "get"
    pod = await api.objects.get(target.resource, target.namespace, target.name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    phase = (pod.get("status") or {}).get("phase")
    query = request.query
    namespace, name = quote(target.namespace, safe=""), quote(target.name, safe="")
    kubelet = proxy.kubelet_client(request)
    if sub == "portforward":
        if phase != "Running":
            raise errors.BadRequest(f"pod {target.name} is not running and cannot be port-forwarded; current "
                                    f"phase is {phase}" if phase else "unable to forward port because pod is not "
                                    "running")
        base = proxy.kubelet_base(await node_of(api, _assigned(node_name, target.name)), kubelet.scheme)
        return await _stream(request, f"{base}/portForward/{namespace}/{name}",
                             MultiDict((k, v) for k, v in query.items() if k == "ports"))
    container = container_of(pod, query.get("container"))
    base = proxy.kubelet_base(await node_of(api, _assigned(node_name, target.name)), kubelet.scheme)
    where = f"{namespace}/{name}/{quote(container, safe='')}"
    if sub == "log":
        return await proxy.forward_http(request, f"{base}/containerLogs/{where}", _log_query(query), body=False,
                                        tls=kubelet.ssl)
    if phase in ("Succeeded", "Failed"):
        raise errors.BadRequest(f"cannot {sub} into a container in a completed pod; current phase is {phase}")
    forwarded: MultiDict[str] = MultiDict()
    if sub == "exec":
        commands = query.getall("command", [])
        if not commands:
            raise errors.BadRequest("you must specify at least 1 command")
        for command in commands:
            forwarded.add("command", command)
    for flag, kubelet_name in STREAM_FLAGS.items():
        if _true(query.get(flag)):
            forwarded.add(kubelet_name, "1")
            forwarded.add(flag, "1")
    if _true(query.get("tty")):
        forwarded.add("tty", "1")
    if not any(_true(query.get(flag)) for flag in STREAM_FLAGS):
        raise errors.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    return await _stream(request, f"{base}/{sub}/{where}", forwarded)


def _assigned(node_name: Any, pod_name: str) -> str:
    if not node_name:
        raise errors.BadRequest(f"pod {pod_name} does not have a host assigned")
    return str(node_name)


def _log_query(query: Any) -> MultiDict[str]:
    forwarded: MultiDict[str] = MultiDict()
    for option in LOG_OPTIONS:
        value = query.get(option)
        if value is None or value == "":
            continue
        if option in INT_OPTIONS:
            try:
                number = int(value)
            except ValueError:
                raise errors.BadRequest(f'invalid {option} "{value}": must be an integer') from None
            if number < 0 or (number == 0 and option != "tailLines"):
                raise errors.Invalid.for_object("PodLogOptions", "", [errors.cause(
                    option, f"Invalid value: {number}: must be {'greater than 0' if option != 'tailLines' else 'non-negative'}")])
        if option in ("follow", "previous", "timestamps"):
            if not _true(value):
                continue
            value = "true"
        forwarded.add(option, value)
    return forwarded


async def _stream(request: web.Request, url: str, query: MultiDict[str]) -> web.StreamResponse:
    if not proxy.is_upgrade(request):
        upgrade = request.headers.get("Upgrade")
        if upgrade:  # kubectl's SPDY fallback: say plainly what is missing
            raise errors.BadRequest(f"only WebSocket streams (v5.channel.k8s.io, v4.channel.k8s.io, "
                                    f"portforward.k8s.io) are supported, not Upgrade: {upgrade}")
        raise errors.BadRequest("Upgrade request required")
    return await proxy.forward_websocket(request, url, query, tls=proxy.kubelet_client(request).ssl)
