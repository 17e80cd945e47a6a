"""Reading ``-f``: files, directories (``-R``), ``-`` for stdin and URLs, into objects.

Each source may hold several YAML documents (or JSON), and a document of a ``*List`` kind
stands for its items. Every object is matched to the resource serving its apiVersion/kind
through discovery, and gets the namespace kubectl would give it: its own, else ``-n``,
else the context's; a conflict between its own and an explicit ``-n`` is an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from hyperkube.kubectl.printers import kind_prefix
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import load_documents

EXTENSIONS = (".json", ".yaml", ".yml")


@dataclass
class Item:
    obj: dict[str, Any]
    resource: Any  # hyperkube.client.APIResource
    namespace: str | None
    source: str

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name") or ""

    @property
    def ref(self) -> str:
        """``pod/web``, ``deployment.apps/web``."""
        return f"{kind_prefix(self.resource.kind, self.resource.group)}/{self.name}"


def _paths(filename: str, recursive: bool) -> list[str]:
    if filename == "-" or filename.startswith(("http://", "https://")):
        return [filename]
    if os.path.isdir(filename):
        found = []
        for root, dirs, files in os.walk(filename):
            dirs.sort()
            found += [os.path.join(root, f) for f in sorted(files) if f.endswith(EXTENSIONS)]
            if not recursive:
                break
        return found
    if not os.path.exists(filename):
        raise KubectlError(f'the path "{filename}" does not exist')
    return [filename]


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    if path.startswith(("http://", "https://")):
        import urllib.request

        try:
            with urllib.request.urlopen(path, timeout=30) as response:
                return response.read().decode()
        except OSError as error:
            raise KubectlError(f'unable to read URL "{path}", server reported {error}') from error
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def parse(text: str, source: str) -> list[dict[str, Any]]:
    """The objects in one source, Lists expanded."""
    try:
        stripped = text.lstrip()
        documents = [json.loads(text)] if stripped.startswith(("{", "[")) and _is_json(stripped) else \
            load_documents(text)
    except Exception as error:  # noqa: BLE001 - YAML errors of every kind
        raise KubectlError(f'error parsing {source}: {error}') from error
    objects: list[dict[str, Any]] = []
    for document in documents:
        if not isinstance(document, dict):
            raise KubectlError(f'error validating "{source}": error validating data: invalid object')
        if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
            objects += [i for i in document["items"] if isinstance(i, dict)]
        else:
            objects.append(document)
    for obj in objects:
        missing = [field for field in ("apiVersion", "kind") if not obj.get(field)]
        if missing:
            raise KubectlError(f'error validating "{source}": error validating data: '
                               f"[{', '.join(f'{m} not set' for m in missing)}]; if you choose to ignore these "
                               "errors, turn validation off with --validate=false")
    return objects


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def source_name(path: str) -> str:
    return "STDIN" if path == "-" else path


async def load(session: Session, filenames: tuple[str, ...], recursive: bool = False, *,
               set_namespace: bool = True) -> list[Item]:
    """Every object named by ``-f``, resolved against discovery."""
    if not filenames:
        raise KubectlError("must specify one of -f and -k")
    items: list[Item] = []
    for filename in filenames:
        for path in _paths(filename, recursive):
            text = await asyncio.to_thread(_read, path)
            for obj in parse(text, source_name(path)):
                items.append(await _item(session, obj, source_name(path), set_namespace))
    if not items:
        raise KubectlError("no objects passed to apply" if filenames else "no objects")
    return items


async def _item(session: Session, obj: dict[str, Any], source: str, set_namespace: bool) -> Item:
    from hyperkube.client import ResourceNotFound

    metadata = obj.setdefault("metadata", {}) if isinstance(obj.get("metadata"), dict | type(None)) else {}
    if obj.get("metadata") is None:
        obj["metadata"] = metadata
    try:
        resource = await session.discovery.for_kind(obj["apiVersion"], obj["kind"])
    except ResourceNotFound as error:
        raise KubectlError(f'resource mapping not found for name: "{metadata.get("name", "")}" namespace: '
                           f'"{metadata.get("namespace", "")}" from "{source}": {error}\n'
                           "ensure CRDs are installed first") from error
    namespace = None
    if resource.namespaced:
        own = metadata.get("namespace")
        if own and session.namespace_given and own != session.namespace:
            raise KubectlError(f'the namespace from the provided object "{own}" does not match the namespace '
                               f'"{session.namespace}". You must pass \'--namespace={own}\' to perform this '
                               "operation.")
        namespace = own or session.namespace
        if set_namespace:
            metadata["namespace"] = namespace
    return Item(obj, resource, namespace, source)


async def requests_from_files(session: Session, filenames: tuple[str, ...], recursive: bool) -> list[Any]:
    """``get -f``: one request per object, by name."""
    from hyperkube.kubectl.get import Request

    requests = []
    for item in await load(session, filenames, recursive):
        requests.append(Request(item.resource, [item.name]))
    return requests
