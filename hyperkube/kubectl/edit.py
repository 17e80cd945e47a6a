"""``kubectl edit``: the object in an editor, then an update if it changed.

The object (without managedFields) is written to a temporary file as YAML (or JSON) under
kubectl's comment header; ``$KUBE_EDITOR``, ``$EDITOR`` or ``vi`` runs on it in a thread (the
event loop stays free); an unchanged file cancels the edit, a changed one is PUT back with
the resourceVersion it was read at, so a concurrent change is a 409 rather than lost.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from typing import Any

from hyperkube.kubectl.printers import kind_prefix, strip_managed_fields
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import load_documents, to_json, to_yaml

HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
          "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
          "# reopened with the relevant failures.\n#\n")


def _run_editor(path: str) -> None:
    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    result = subprocess.run([*shlex.split(editor), path], check=False)
    if result.returncode != 0:
        raise KubectlError(f"there was a problem with the editor \"{editor}\"")


async def edit(session: Session, args: list[str], *, output: str) -> int:
    from hyperkube.kubectl.get import resolve_requests

    requests = await resolve_requests(session, args)
    for request in requests:
        if not request.names:
            raise KubectlError("edit needs the name of each object to edit")
        resource = request.resource
        namespace = session.namespace if resource.namespaced else None
        for name in request.names:
            current: dict[str, Any] = strip_managed_fields(await session.client.get(resource, name, namespace=namespace))
            text = HEADER + (to_json(current) if output == "json" else to_yaml(current))
            handle, path = tempfile.mkstemp(prefix="kubectl-edit-", suffix=".json" if output == "json" else ".yaml")
            try:
                with os.fdopen(handle, "w") as stream:
                    stream.write(text)
                await asyncio.to_thread(_run_editor, path)
                with open(path, encoding="utf-8") as stream:  # noqa: ASYNC230 - a small temp file, once
                    edited_text = stream.read()
            finally:
                os.unlink(path)
            lines = [line for line in edited_text.splitlines() if not line.lstrip().startswith("#")]
            documents = load_documents("\n".join(lines))
            ref = f"{kind_prefix(resource.kind, resource.group)}/{name}"
            if not documents:
                print("Edit cancelled, no changes made.")
                continue
            edited = documents[0]
            if edited == current:
                print("Edit cancelled, no changes made.")
                continue
            await session.client.update(resource, edited, namespace=namespace, field_manager="kubectl-edit")
            print(f"{ref} edited")
    return 0
