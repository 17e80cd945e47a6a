"""Changing live objects in place: ``patch``, ``label``, ``annotate``, ``scale``.

Targets are chosen as for ``delete`` (names, ``TYPE/NAME``, ``-f``, ``-l``, ``--all``).
``label``/``annotate`` read each object, check ``--overwrite``, and send a merge patch of
just the keys that change (nothing at all when none do: "not labeled"). ``patch`` sends
the user's patch as given and reports "(no change)" when the resourceVersion did not move.
``scale`` patches the ``scale`` subresource, after checking ``--current-replicas``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl.delete import DeleteOptions, Target, targets
from hyperkube.kubectl.printers import ObjectPrinter, kind_prefix
from hyperkube.kubectl.session import KubectlError, Session


@dataclass
class Selection:
    filenames: tuple[str, ...] = ()
    recursive: bool = False
    selector: str | None = None
    field_selector: str | None = None
    all: bool = False
    all_namespaces: bool = False
    output: str = ""
    dry_run: str = "none"

    def as_delete(self) -> DeleteOptions:
        return DeleteOptions(filenames=self.filenames, recursive=self.recursive, selector=self.selector,
                             field_selector=self.field_selector, all=self.all, all_namespaces=self.all_namespaces)


def ref(target: Target) -> str:
    return f"{kind_prefix(target.resource.kind, target.resource.group)}/{target.name}"


class _Out:
    def __init__(self, selection: Selection) -> None:
        self.selection = selection
        self.printer = ObjectPrinter(selection.output) if selection.output else None
        self.objects: list[dict[str, Any]] = []
        self.suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(selection.dry_run, "")

    def done(self, target: Target, verb: str, obj: dict[str, Any]) -> None:
        if self.printer is None:
            print(f"{ref(target)} {verb}{self.suffix}", flush=True)
        elif self.printer.format == "name":
            print(ref(target), flush=True)
        else:
            self.objects.append(obj)

    def finish(self) -> None:
        if self.printer is not None and self.objects:
            sys.stdout.write(self.printer.render(self.objects, single=len(self.objects) == 1))


def split_changes(args: list[str], what: str) -> tuple[list[str], dict[str, str | None]]:
    """``pod web a=b c-`` -> (["pod", "web"], {"a": "b", "c": None})."""
    resources: list[str] = []
    changes: dict[str, str | None] = {}
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            changes[key] = value
        elif arg.endswith("-") and resources:
            changes[arg[:-1]] = None
        elif changes:
            raise KubectlError(f"all resources must be specified before {what} changes: {arg}")
        else:
            resources.append(arg)
    if not changes:
        raise KubectlError(f"at least one {what} update is required")
    return resources, changes


async def set_metadata(session: Session, args: list[str], selection: Selection, *, field: str, overwrite: bool,
                       resource_version: str | None = None) -> int:
    """``label`` (field "labels") and ``annotate`` (field "annotations")."""
    what = "label" if field == "labels" else "annotation"
    resources, changes = split_changes(args, what)
    chosen, _ = await targets(session, resources, selection.as_delete())
    out = _Out(selection)
    client = session.client
    for target in chosen:
        try:
            current = await client.get(target.resource, target.name, namespace=target.namespace)
            existing = (current.get("metadata") or {}).get(field) or {}
            patch: dict[str, str | None] = {}
            for key, value in changes.items():
                if value is None:
                    if key not in existing:
                        print(f'{what} "{key}" not found.')
                        continue
                    patch[key] = None
                elif existing.get(key) != value:
                    if key in existing and not overwrite:
                        raise KubectlError(f"'{key}' already has a value ({existing[key]}), and --overwrite is false")
                    patch[key] = value
            verb = "labeled" if field == "labels" else "annotated"
            if not patch:
                out.done(target, f"not {verb}" if field == "labels" else verb, current)
                continue
            if field == "labels" and all(v is None for v in patch.values()):
                verb = "unlabeled"
            metadata: dict[str, Any] = {field: patch}
            if resource_version:
                metadata["resourceVersion"] = resource_version
            if selection.dry_run == "client":
                result = current
            else:
                result = await client.patch(target.resource, target.name, {"metadata": metadata},
                                            namespace=target.namespace, patch_type="merge",
                                            dry_run=selection.dry_run == "server",
                                            field_manager=f"kubectl-{what.replace('annotation', 'annotate')}")
            out.done(target, verb, result)
        except Exception as error:  # noqa: BLE001
            if isinstance(error, KubectlError):
                raise
            session.report(error)
    out.finish()
    return 0


def _parse_patch(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        from hyperkube.kubectl.yamlout import load_documents

        try:
            documents = load_documents(text)
        except Exception as error:  # noqa: BLE001
            raise KubectlError(f"unable to parse \"{text}\": {error}") from error
        if len(documents) != 1:
            raise KubectlError(f'unable to parse "{text}": yaml: not a single document') from None
        return documents[0]


async def patch(session: Session, args: list[str], selection: Selection, *, patch_text: str | None,
                patch_file: str | None, patch_type: str, subresource: str | None) -> int:
    if patch_file:
        from pathlib import Path

        patch_text = await asyncio.to_thread(Path(patch_file).read_text)
    if not patch_text:
        raise KubectlError("must specify -p to patch")
    body = _parse_patch(patch_text)
    if patch_type not in ("json", "merge", "strategic"):
        raise KubectlError(f'--type must be one of [json merge strategic], not "{patch_type}"')
    chosen, _ = await targets(session, args, selection.as_delete())
    out = _Out(selection)
    client = session.client
    for target in chosen:
        try:
            current = await client.get(target.resource, target.name, namespace=target.namespace,
                                       subresource=subresource)
            if selection.dry_run == "client":
                out.done(target, "patched", current)
                continue
            result = await client.patch(target.resource, target.name, body, namespace=target.namespace,
                                        patch_type=patch_type, subresource=subresource,
                                        dry_run=selection.dry_run == "server", field_manager="kubectl-patch")
        except Exception as error:  # noqa: BLE001
            session.report(error)
            continue
        before = (current.get("metadata") or {}).get("resourceVersion")
        after = (result.get("metadata") or {}).get("resourceVersion")
        out.done(target, "patched" if before != after or selection.dry_run == "server" else "patched (no change)",
                 result)
    out.finish()
    return 0


async def scale(session: Session, args: list[str], selection: Selection, *, replicas: int,
                current_replicas: int | None, resource_version: str | None) -> int:
    if replicas < 0:
        raise KubectlError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    chosen, _ = await targets(session, args, selection.as_delete())
    out = _Out(selection)
    client = session.client
    for target in chosen:
        try:
            if current_replicas is not None or resource_version:
                current = await client.get(target.resource, target.name, namespace=target.namespace,
                                           subresource="scale")
                now = (current.get("spec") or {}).get("replicas", 0)
                if current_replicas is not None and current_replicas != now:
                    raise KubectlError(f"Expected replicas to be {current_replicas}, was {now}")
            body: dict[str, Any] = {"spec": {"replicas": replicas}}
            if resource_version:
                body["metadata"] = {"resourceVersion": resource_version}
            if selection.dry_run == "client":
                result = body
            else:
                result = await client.patch(target.resource, target.name, body, namespace=target.namespace,
                                            patch_type="merge", subresource="scale",
                                            dry_run=selection.dry_run == "server", field_manager="kubectl-scale")
        except KubectlError:
            raise
        except Exception as error:  # noqa: BLE001
            session.report(error)
            continue
        out.done(target, "scaled", result)
    out.finish()
    return 0
