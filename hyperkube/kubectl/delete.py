"""``kubectl delete``: by name, ``TYPE/NAME``, ``-f``, ``-l``, ``--field-selector`` or ``--all``.

Each object gets its own DELETE carrying ``propagationPolicy`` (``--cascade``) and
``gracePeriodSeconds``; selections are listed first and deleted one by one, as kubectl
does. With ``--wait`` (the default) we then wait until every object is really gone, which
matters for objects with finalizers: a watch on the object's name reports DELETED, and a
GET answering 404 ends the wait at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl.printers import kind_prefix
from hyperkube.kubectl.session import KubectlError, Session


@dataclass
class DeleteOptions:
    filenames: tuple[str, ...] = ()
    recursive: bool = False
    selector: str | None = None
    field_selector: str | None = None
    all: bool = False
    all_namespaces: bool = False
    cascade: str = "background"
    grace_period: int = -1
    now: bool = False
    force: bool = False
    wait: bool = True
    timeout: float | None = None
    ignore_not_found: bool = False
    output: str = ""
    dry_run: str = "none"


@dataclass
class Target:
    resource: Any
    name: str
    namespace: str | None


def _policy(cascade: str) -> str | None:
    value = cascade.lower()
    if value in ("background", "true"):
        return "Background"
    if value == "foreground":
        return "Foreground"
    if value in ("orphan", "false"):
        return "Orphan"
    raise KubectlError(f'invalid cascade value ({cascade}). Must be "background", "foreground", or "orphan".')


async def targets(session: Session, args: list[str], options: DeleteOptions) -> tuple[list[Target], bool]:
    """The objects to delete, and whether they came from a selection (``--all``/``-l``)."""
    if options.filenames:
        from hyperkube.kubectl.manifests import load

        items = await load(session, options.filenames, options.recursive)
        return [Target(i.resource, i.name, i.namespace) for i in items], False
    if not args:
        raise KubectlError("You must provide one or more resources by argument or filename.\n"
                           "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
                           "   '<resource> <name>'\n   '<resource>'")
    from hyperkube.kubectl.get import resolve_requests

    requests = await resolve_requests(session, args)
    selecting = options.all or bool(options.selector) or bool(options.field_selector)
    found: list[Target] = []
    for request in requests:
        resource = request.resource
        namespace = None if not resource.namespaced or options.all_namespaces else session.namespace
        if request.names:
            if selecting and options.selector:
                raise KubectlError("name cannot be provided when a selector is specified")
            found += [Target(resource, name, namespace) for name in request.names]
        elif selecting:
            listed = await session.client.list_all(resource, namespace=namespace, label_selector=options.selector,
                                                   field_selector=options.field_selector)
            found += [Target(resource, (i.get("metadata") or {}).get("name", ""),
                               (i.get("metadata") or {}).get("namespace") or None) for i in listed.get("items") or []]
        else:
            raise KubectlError("resource(s) were provided, but no name was specified")
    return found, selecting


async def delete(session: Session, args: list[str], options: DeleteOptions) -> int:
    from hyperkube.client import NotFound

    policy = _policy(options.cascade)
    grace = options.grace_period
    if options.now:
        grace = 1
    if options.force and grace < 0:
        grace = 0
    targets_, selecting = await targets(session, args, options)
    if not targets_ and selecting:
        print("No resources found")  # kubectl says it on stdout here
        return 0
    deleted: list[Target] = []
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(options.dry_run, "")
    for target in targets_:
        try:
            if options.dry_run != "client":
                await session.client.delete(target.resource, target.name, namespace=target.namespace,
                                            propagation_policy=policy,
                                            grace_period_seconds=grace if grace >= 0 else None,
                                            dry_run=options.dry_run == "server")
        except NotFound as error:
            if not options.ignore_not_found:
                session.report(error)
            continue
        except Exception as error:  # noqa: BLE001
            session.report(error)
            continue
        deleted.append(target)
        if options.output == "name":
            print(f"{kind_prefix(target.resource.kind, target.resource.group)}/{target.name}", flush=True)
        else:
            where = f" from {target.namespace} namespace" if target.namespace else ""
            print(f'{target.resource.kind.lower()} "{target.name}" deleted{where}{suffix}', flush=True)
    if options.wait and options.dry_run == "none" and deleted:
        timeout = options.timeout if options.timeout else 7 * 24 * 3600.0
        for target in deleted:
            await wait_deleted(session, target.resource, target.name, target.namespace, timeout)
    return 0


async def wait_deleted(session: Session, resource: Any, name: str, namespace: str | None, limit: float) -> None:
    """Return once ``name`` no longer exists (a KubectlError after ``limit`` seconds)."""
    from hyperkube.client import NotFound

    client = session.client

    async def gone() -> None:
        while True:
            try:
                current = await client.get(resource, name, namespace=namespace)
            except NotFound:
                return
            version = (current.get("metadata") or {}).get("resourceVersion")
            try:
                async with client.watch(resource, namespace=namespace, field_selector=f"metadata.name={name}",
                                        resource_version=version, timeout_seconds=60) as stream:
                    async for event in stream:
                        if event.type == "DELETED":
                            return
            except Exception:  # noqa: BLE001 - a 410 or a dropped stream: look again
                await asyncio.sleep(0.2)

    try:
        async with asyncio.timeout(limit):
            await gone()
    except TimeoutError as error:
        raise KubectlError(f'timed out waiting for the condition on {resource.name}/{name}') from error
