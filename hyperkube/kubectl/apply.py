"""``create -f``, ``apply -f`` (client-side three-way and ``--server-side``), ``replace -f``.

Client-side apply keeps the configuration it applied in the
``kubectl.kubernetes.io/last-applied-configuration`` annotation: compact sorted JSON of the
object (without that annotation, with an ``annotations`` map even if empty) plus a newline,
byte for byte what kubectl writes, so either tool can take over from the other. An existing
object gets a three-way patch (last applied -> file for deletions, live -> file for
additions and changes): a strategic merge patch for built-in kinds, a merge patch for custom
resources, and no request at all when the patch is empty ("unchanged"). A 409 retries from a
fresh GET, as kubectl does.

Every object is tried; failures are reported at the end and make the exit code 1.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl.manifests import Item, load
from hyperkube.kubectl.printers import ObjectPrinter
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import compact_json

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONFLICT_RETRIES = 5
PARALLEL = 8  # objects applied at once


@dataclass
class WriteOptions:
    filenames: tuple[str, ...] = ()
    recursive: bool = False
    dry_run: str = "none"  # none | client | server
    output: str = ""
    server_side: bool = False
    force_conflicts: bool = False
    field_manager: str | None = None
    validate: str = "strict"
    force: bool = False
    save_config: bool = False
    prune: bool = False
    selector: str | None = None
    all: bool = False
    prune_allowlist: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        return {"client": " (dry run)", "server": " (server dry run)"}.get(self.dry_run, "")

    @property
    def field_validation(self) -> str:
        return {"true": "Strict", "strict": "Strict", "warn": "Warn", "false": "Ignore", "ignore": "Ignore"}.get(
            self.validate, "Strict")


def check_dry_run(value: str) -> str:
    if value in ("", "none", "false"):
        return "none"
    if value in ("client", "server"):
        return value
    if value == "true":
        return "client"
    raise KubectlError(f'Invalid dry-run value ({value}). Must be "none", "server", or "client".')


def with_source(error: BaseException, verb: str, source: str) -> BaseException:
    """kubectl's AddSourceToErr: ``error when creating "file.yaml": <message>``."""
    from hyperkube.client import APIError

    if isinstance(error, APIError) and source:
        return type(error)(f'error when {verb} "{source}": {error.message}', details=error.details,
                           reason=error.reason, code=error.code)
    return error


class Results:
    """What a write verb prints: ``pod/web created`` lines, or the objects with ``-o``."""

    def __init__(self, options: WriteOptions) -> None:
        self.options = options
        self.printer = ObjectPrinter(options.output) if options.output else None
        self.objects: list[dict[str, Any]] = []

    def done(self, item: Item, verb: str, obj: dict[str, Any] | None) -> None:
        if self.printer is None:
            sys.stdout.write(f"{item.ref} {verb}{self.options.suffix}\n")
        elif self.printer.format == "name":
            sys.stdout.write(f"{item.ref}\n")
        else:
            self.objects.append(obj if obj is not None else item.obj)

    def pruned(self, ref: str, obj: dict[str, Any]) -> None:
        if self.printer is None:
            sys.stdout.write(f"{ref} pruned{self.options.suffix}\n")
        elif self.printer.format == "name":
            sys.stdout.write(f"{ref}\n")
        else:
            self.objects.append(obj)

    def finish(self) -> None:
        if self.printer is not None and self.objects:
            sys.stdout.write(self.printer.render(self.objects, single=len(self.objects) == 1))


def modified_configuration(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as it will be sent by client-side apply: with its last-applied annotation."""
    stripped = copy.deepcopy(obj)
    metadata = stripped.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    metadata["annotations"] = annotations
    text = compact_json(stripped) + "\n"
    modified = copy.deepcopy(obj)
    modified["metadata"]["annotations"] = {**annotations, LAST_APPLIED: text}
    return modified


async def create(session: Session, options: WriteOptions) -> int:
    items = await load(session, options.filenames, options.recursive)
    results = Results(options)
    for item in items:
        body = modified_configuration(item.obj) if options.save_config else item.obj
        try:
            if options.dry_run == "client":
                created = body
            else:
                created = await session.client.create(
                    item.resource, body, namespace=item.namespace, dry_run=options.dry_run == "server",
                    field_manager=options.field_manager or "kubectl-create",
                    field_validation=options.field_validation)
        except Exception as error:  # noqa: BLE001 - report and go on with the next object
            session.report(with_source(error, "creating", item.source))
            continue
        results.done(item, "created", created)
    results.finish()
    return 0


async def apply(session: Session, options: WriteOptions) -> int:
    from hyperkube.kubectl import prune

    prune.check(options.prune, options.selector, options.all)
    items = await load(session, options.filenames, options.recursive)
    if options.selector:  # -l also chooses which objects of the files are applied
        from hyperkube.machinery.selectors import parse_label_selector

        wanted = parse_label_selector(options.selector)
        items = [item for item in items if wanted.matches((item.obj.get("metadata") or {}).get("labels") or {})]
    results = Results(options)
    await _apply_all(session, items, options, results)
    if options.prune:
        await prune.prune(session, items, selector=options.selector, allowlist=options.prune_allowlist,
                          dry_run=options.dry_run, done=results.pruned)
    results.finish()
    return 0


async def _apply_all(session: Session, items: list[Item], options: WriteOptions, results: Results) -> None:
    """Apply every item, up to :data:`PARALLEL` at once, reporting in file order.

    Requests overlap (each object costs a GET and a write: round trips dominate), but a
    cluster-scoped object (a Namespace, a CRD ...) is a barrier: everything before it is done
    first and everything after it waits, so objects that need it find it, as they would
    with kubectl's one-at-a-time. Two documents naming the same object never overlap."""
    semaphore = asyncio.Semaphore(PARALLEL)
    write = _server_side if options.server_side else _client_side

    async def one(item: Item) -> tuple[str, dict[str, Any]]:
        async with semaphore:
            return await write(session, item, options)

    pending: list[tuple[Item, asyncio.Task[tuple[str, dict[str, Any]]]]] = []
    keys: set[tuple[str, str | None, str]] = set()

    async def drain() -> None:
        for item, task in pending:
            try:
                verb, obj = await task
            except Exception as error:  # noqa: BLE001 - report and go on, as kubectl does
                session.report(error)
                continue
            results.done(item, verb, obj)
        pending.clear()
        keys.clear()

    for item in items:
        key = (item.resource.name, item.namespace, item.name)
        barrier = not item.resource.namespaced
        if barrier or key in keys:
            await drain()
        pending.append((item, asyncio.create_task(one(item))))
        keys.add(key)
        if barrier:
            await drain()
    await drain()


async def _server_side(session: Session, item: Item, options: WriteOptions) -> tuple[str, dict[str, Any]]:
    if options.dry_run == "client":
        return "serverside-applied", item.obj
    try:
        obj = await session.client.patch(
            item.resource, item.name, item.obj, namespace=item.namespace, patch_type="apply",
            field_manager=options.field_manager or "kubectl", force=options.force_conflicts,
            dry_run=options.dry_run == "server", field_validation=options.field_validation)
    except Exception as error:  # noqa: BLE001
        raise with_source(error, "applying patch", item.source) from error
    return "serverside-applied", obj


async def _client_side(session: Session, item: Item, options: WriteOptions) -> tuple[str, dict[str, Any]]:
    from hyperkube.client import Conflict, NotFound

    client = session.client
    modified = modified_configuration(item.obj)
    manager = options.field_manager or "kubectl-client-side-apply"
    for attempt in range(CONFLICT_RETRIES):
        try:
            current = await client.get(item.resource, item.name, namespace=item.namespace)
        except NotFound:
            if options.dry_run == "client":
                return "created", modified
            try:
                created = await client.create(item.resource, modified, namespace=item.namespace,
                                              dry_run=options.dry_run == "server", field_manager=manager,
                                              field_validation=options.field_validation)
            except Exception as error:  # noqa: BLE001
                raise with_source(error, "creating", item.source) from error
            return "created", created
        except Exception as error:  # noqa: BLE001
            raise with_source(error, "retrieving current configuration of", item.source) from error
        patch, patch_type = three_way_patch(item, modified, current)
        if not patch:
            return "unchanged", current
        if options.dry_run == "client":
            return "configured", modified
        try:
            patched = await client.patch(item.resource, item.name, patch, namespace=item.namespace,
                                         patch_type=patch_type, field_manager=manager,
                                         dry_run=options.dry_run == "server",
                                         field_validation=options.field_validation)
        except Conflict:
            if attempt + 1 < CONFLICT_RETRIES:
                continue
            raise
        except Exception as error:  # noqa: BLE001
            raise with_source(error, "applying patch", item.source) from error
        return "configured", patched
    raise KubectlError(f"failed to apply {item.ref} after {CONFLICT_RETRIES} conflicts")


def three_way_patch(item: Item, modified: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The patch client-side apply sends, and its type (strategic for built-ins)."""
    import orjson

    from hyperkube.api.strategicpatch import create_three_way_patch, lookup_for

    text = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    original = None
    if text:
        try:
            original = orjson.loads(text)
        except orjson.JSONDecodeError:
            original = None
    resource = item.resource
    lookup = lookup_for(resource.group, resource.version, resource.kind)
    patch = create_three_way_patch(original, modified, current, lookup)
    return patch, "strategic" if lookup is not None else "merge"


async def replace(session: Session, options: WriteOptions) -> int:
    from hyperkube.client import NotFound

    items = await load(session, options.filenames, options.recursive)
    results = Results(options)
    client = session.client
    for item in items:
        try:
            if options.force:
                try:
                    await client.delete(item.resource, item.name, namespace=item.namespace,
                                        propagation_policy="Background")
                    from hyperkube.kubectl.delete import wait_deleted

                    await wait_deleted(session, item.resource, item.name, item.namespace, 60.0)
                    sys.stdout.write(f'{item.resource.kind.lower()} "{item.name}" deleted\n')
                except NotFound:
                    pass
                obj = await client.create(item.resource, item.obj, namespace=item.namespace,
                                          field_manager=options.field_manager or "kubectl-replace")
            elif options.dry_run == "client":
                obj = item.obj
            else:
                obj = await client.update(item.resource, item.obj, namespace=item.namespace,
                                          dry_run=options.dry_run == "server",
                                          field_manager=options.field_manager or "kubectl-replace",
                                          field_validation=options.field_validation)
        except Exception as error:  # noqa: BLE001
            session.report(with_source(error, "replacing", item.source))
            continue
        results.done(item, "replaced", obj)
    results.finish()
    return 0


async def diff(session: Session, options: WriteOptions) -> int:
    """``kubectl diff``: live objects against what ``apply`` would make of them (a server dry
    run), shown by ``$KUBECTL_EXTERNAL_DIFF`` or ``diff -u -N``; exit 1 when they differ."""
    import asyncio
    import os
    import shlex
    import subprocess
    import tempfile

    from hyperkube.client import NotFound
    from hyperkube.kubectl.printers import strip_managed_fields
    from hyperkube.kubectl.yamlout import to_yaml

    items = await load(session, options.filenames, options.recursive)
    with tempfile.TemporaryDirectory(prefix="kubectl-diff-") as root:
        live_dir, merged_dir = os.path.join(root, "LIVE"), os.path.join(root, "MERGED")
        os.mkdir(live_dir)
        os.mkdir(merged_dir)
        for item in items:
            try:
                live: dict[str, Any] | None = await session.client.get(item.resource, item.name,
                                                                       namespace=item.namespace)
            except NotFound:
                live = None
            dry = WriteOptions(dry_run="server", server_side=options.server_side,
                               force_conflicts=options.force_conflicts, field_manager=options.field_manager)
            if options.server_side:
                _, merged = await _server_side(session, item, dry)
            else:
                _, merged = await _client_side(session, item, dry)
            name = f"{item.resource.group_version.replace('/', '.')}.{item.resource.kind}.{item.namespace or ''}." \
                   f"{item.name}"
            for directory, obj in ((live_dir, live), (merged_dir, merged)):
                if obj is None:
                    continue
                obj = strip_managed_fields(obj)
                metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "generation"}
                with open(os.path.join(directory, name), "w") as handle:  # noqa: ASYNC230 - temp files
                    handle.write(to_yaml({**obj, "metadata": metadata}))
        program = shlex.split(os.environ.get("KUBECTL_EXTERNAL_DIFF") or "diff -u -N")
        result = await asyncio.to_thread(subprocess.run, [*program, live_dir, merged_dir], check=False)
    if result.returncode > 1:
        raise KubectlError(f"exit status {result.returncode}")
    return result.returncode
