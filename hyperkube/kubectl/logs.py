"""``kubectl logs``: a container's log through the API server's ``pods/log`` proxy.

The pod is read first to choose the container (the only one, the
``kubectl.kubernetes.io/default-container`` annotation, or the first one with a note on
stderr, as kubectl does). ``TYPE/NAME`` of a workload picks its first pod by the workload's
selector; ``-l`` takes every matching pod, with ``--prefix`` naming each line's source.
``-f`` streams until the container ends or the user interrupts.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl.session import KubectlError, Session

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


@dataclass
class LogOptions:
    container: str | None = None
    follow: bool = False
    previous: bool = False
    tail: int = -1
    since: str | None = None
    timestamps: bool = False
    selector: str | None = None
    all_containers: bool = False
    prefix: bool = False
    limit_bytes: int | None = None


def parse_duration(text: str) -> int:
    total = 0.0
    number = ""
    units = {"s": 1, "m": 60, "h": 3600}
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise KubectlError(f'invalid argument "{text}" for "--since" flag: time: invalid duration "{text}"')
    if number:
        raise KubectlError(f'invalid argument "{text}" for "--since" flag: time: missing unit in duration "{text}"')
    return max(int(total), 1)


async def _pods(session: Session, target: str, options: LogOptions) -> list[dict[str, Any]]:
    client = session.client
    namespace = session.namespace
    if options.selector:
        listed = await client.list("v1/pods", namespace=namespace, label_selector=options.selector)
        return listed.get("items") or []
    kind, sep, name = target.partition("/")
    if not sep:
        from hyperkube.client import NotFound

        try:
            return [await client.get("v1/pods", target, namespace=namespace)]
        except NotFound as error:  # kubectl's wording for a missing pod here
            raise KubectlError(f'error from server (NotFound): pods "{target}" not found in namespace '
                               f'"{namespace}"') from error
    resource = await session.discovery.resolve(kind)
    if resource.name == "pods":
        return [await client.get("v1/pods", name, namespace=namespace)]
    owner = await client.get(resource, name, namespace=namespace)
    selector = (owner.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") if isinstance(selector.get("matchLabels"), dict) else selector
    if not labels:
        raise KubectlError(f"cannot get the logs from {resource.kind.lower()}: selector is empty")
    text = ",".join(f"{k}={v}" for k, v in labels.items() if isinstance(v, str))
    listed = await client.list("v1/pods", namespace=namespace, label_selector=text)
    pods = sorted(listed.get("items") or [], key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""))
    if not pods:
        raise KubectlError("timed out waiting for the condition")
    return pods[:1]


def _containers(pod: dict[str, Any], options: LogOptions, *, many: bool) -> list[str]:
    spec = pod.get("spec") or {}
    names = [c.get("name", "") for c in spec.get("containers") or []]
    name = (pod.get("metadata") or {}).get("name", "")
    if options.container:
        every = names + [c.get("name", "") for c in spec.get("initContainers") or []]
        if options.container not in every:
            raise KubectlError(f"container {options.container} is not valid for pod {name}")
        return [options.container]
    if options.all_containers:
        return [c.get("name", "") for c in spec.get("initContainers") or []] + names
    if len(names) == 1:
        return names
    chosen = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    if chosen in names:
        return [chosen]
    if not names:
        raise KubectlError(f"a container name must be specified for pod {name}")
    if not many:
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return names[:1]


async def logs(session: Session, target: str | None, container_arg: str | None, options: LogOptions) -> int:
    if container_arg and not options.container:
        options.container = container_arg
    if not target and not options.selector:
        raise KubectlError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a "
                           "required argument for the logs command")
    pods = await _pods(session, target or "", options)
    if options.selector and not pods:
        print("No resources found in " + session.namespace + " namespace.", file=sys.stderr)
        return 0
    many = bool(options.selector) or options.all_containers
    streams = [(pod, container) for pod in pods for container in _containers(pod, options, many=many)]
    since = parse_duration(options.since) if options.since else None
    tail = options.tail if options.tail >= 0 else (10 if options.selector else None)
    prefix = options.prefix
    if options.follow and len(streams) > 1:
        await asyncio.gather(*(_follow(session, p, c, tail, since, options, prefix) for p, c in streams))
        return 0
    for pod, container in streams:
        if options.follow:
            await _follow(session, pod, container, tail, since, options, prefix)
        else:
            text = await session.client.logs((pod.get("metadata") or {}).get("name", ""),
                                             namespace=session.namespace, container=container,
                                             previous=options.previous, tail_lines=tail, since_seconds=since,
                                             timestamps=options.timestamps, limit_bytes=options.limit_bytes)
            sys.stdout.write(_prefixed(text, pod, container) if prefix else text)
            sys.stdout.flush()
    return 0


def _prefixed(text: str, pod: dict[str, Any], container: str) -> str:
    tag = f"[pod/{(pod.get('metadata') or {}).get('name', '')}/{container}] "
    return "".join(tag + line for line in text.splitlines(keepends=True))


async def _follow(session: Session, pod: dict[str, Any], container: str, tail: int | None, since: int | None,
                  options: LogOptions, prefix: bool) -> None:
    name = (pod.get("metadata") or {}).get("name", "")
    pending = b""
    async for chunk in session.client.follow_logs(name, namespace=session.namespace, container=container,
                                                  tail_lines=tail, since_seconds=since,
                                                  timestamps=options.timestamps):
        if not prefix:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            continue
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            sys.stdout.write(_prefixed(line.decode(errors="replace") + "\n", pod, container))
        sys.stdout.flush()
    if pending:
        text = pending.decode(errors="replace")
        sys.stdout.write(_prefixed(text, pod, container) if prefix else text)
        sys.stdout.flush()
