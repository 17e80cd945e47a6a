"""The add-on manager: every manifest in a directory is applied to the cluster, and kept so.

The way of k3s' auto-deploy manifests, with pruning: each ``*.yaml``, ``*.yml`` or ``*.json``
file directly in the directory (multi-document YAML, a JSON object, or a ``kind: List``) is
applied at start and again whenever its content changes; removing a file, or an object from a
file, deletes what it had created.

How it works:

- A poll every ``poll_interval`` seconds stats the directory in a thread (no inotify, nothing
  blocking on the loop). A file whose stat changed is read and parsed in a thread; when its
  content hash differs from what was last applied, its objects are applied.
- Applying is server-side apply (``fieldManager=hyperkube-addons``, ``force``), so fields
  dropped from a file are dropped from the object and edits by others are overwritten.
  Namespaces and CustomResourceDefinitions go first; a file that fails part-way (a namespace
  or a custom kind not there yet, the API down) is retried on every poll.
- Every applied object carries the label ``addons.hyperkube.io/manifest=<file name>`` (names
  that are no valid label value are shortened and hashed). Pruning needs no state on disk: a
  sweep lists every listable kind the server serves with that label selector, and deletes
  (background propagation) what no present file declares any more. It runs at start (files
  removed while nothing ran) and after any file is removed or changes its set of objects.
  Objects of a malformed file are kept as they are until the file is fixed or removed.
- A malformed file (bad YAML, a document without apiVersion/kind/metadata.name) is reported
  once per content, as a log line and a Warning Event in ``kube-system`` about
  ``AddonManifest/<label>``, and skipped; the other files keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from hyperkube.client import (
    WARNING,
    APIError,
    Client,
    Discovery,
    EventRecorder,
    NotFound,
    ResourceNotFound,
    TransportError,
)

log = logging.getLogger("hyperkube.addons")

LABEL = "addons.hyperkube.io/manifest"
FIELD_MANAGER = "hyperkube-addons"
SUFFIXES = (".yaml", ".yml", ".json")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}
_NOT_SWEPT = {"events", "bindings", "componentstatuses"}

Identity = tuple[str, str, str, str]  # API group, kind, namespace, name


@dataclass
class AddonConfig:
    directory: str
    poll_interval: float = 2.0
    default_namespace: str = "default"


class ManifestError(ValueError):
    """The file cannot be applied as written; the message says where and why."""


def label_value(filename: str) -> str:
    """The file's label value: the name itself when it is a valid one (<= 63 characters of
    ``[A-Za-z0-9_.-]``, alphanumeric at both ends), else a cleaned prefix and a hash."""
    if len(filename) <= 63 and _LABEL_VALUE.fullmatch(filename):
        return filename
    digest = hashlib.sha256(filename.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", filename)[:52].strip("-_.")
    return f"{cleaned}-{digest}" if cleaned else digest


def parse_manifest(name: str, data: bytes) -> list[dict[str, Any]]:
    """The objects of one file (blocking: call it in a thread). Raises :class:`ManifestError`."""
    try:
        text = data.decode()
        if name.endswith(".json"):
            documents = [json.loads(text)]
        else:
            documents = list(yaml.safe_load_all(text))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise ManifestError(f"{name}: {error}") from None
    objects: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if isinstance(document, dict) and document.get("kind") == "List" and isinstance(document.get("items"), list):
            candidates = document["items"]
        else:
            candidates = [document]
        for obj in candidates:
            if not isinstance(obj, dict):
                raise ManifestError(f"{name}: document {index + 1} is not an object")
            missing = [f for f, v in (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
                                      ("metadata.name", (obj.get("metadata") or {}).get("name"))) if not v]
            if missing or not isinstance(obj.get("metadata"), dict):
                raise ManifestError(f"{name}: document {index + 1} has no {', '.join(missing) or 'metadata'}")
            objects.append(obj)
    return sorted(objects, key=lambda o: _FIRST.get(o["kind"], 2))


def _scan(directory: str) -> dict[str, tuple[int, int, int]]:
    """{file name: (mtime_ns, size, inode)} of the manifests in the directory ({} if none)."""
    found: dict[str, tuple[int, int, int]] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(SUFFIXES):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file():
                stat = entry.stat()
                found[entry.name] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return found


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _identity(obj: dict[str, Any], namespace: str) -> Identity:
    group = obj["apiVersion"].rpartition("/")[0]
    return group, obj["kind"], namespace, obj["metadata"]["name"]


def _declares(desired: set[Identity], resource: Any, metadata: dict[str, Any]) -> bool:
    name = metadata.get("name", "")
    if resource.namespaced:
        return (resource.group, resource.kind, metadata.get("namespace", ""), name) in desired
    return any((g, k, n) == (resource.group, resource.kind, name) for g, k, _, n in desired)


@dataclass
class _File:
    stat: tuple[int, int, int] | None = None
    applied: str = ""  # content hash last applied in full
    reported: str = ""  # content hash last reported as malformed
    desired: set[Identity] | None = None  # None: never parsed well (a malformed file keeps its objects)
    retry: bool = False


@dataclass
class AddonManager:
    client: Client
    config: AddonConfig
    files: dict[str, _File] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.discovery = Discovery(self.client)
        self.recorder = EventRecorder(self.client, FIELD_MANAGER)
        self._task: asyncio.Task[None] | None = None
        self._prune_pending = True  # at start: files may have gone while nothing ran
        #: set after every poll that did its work (tests wait on it)
        self.synced = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="addon-manager")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.recorder.close()

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (APIError, TransportError) as error:
                log.warning("add-ons: %s (retrying)", error)
            except Exception:
                log.exception("add-ons: sync failed")
            await asyncio.sleep(self.config.poll_interval)

    async def sync(self) -> None:
        """One poll: apply changed files, then prune if any file's set of objects changed."""
        stats = await asyncio.to_thread(_scan, self.config.directory)
        for name in sorted(set(self.files) - set(stats)):
            log.info("add-ons: %s removed", name)
            self.files.pop(name)
            self._prune_pending = True
        for name in sorted(stats):
            state = self.files.setdefault(name, _File())
            if state.stat == stats[name] and not state.retry:
                continue
            state.stat = stats[name]
            if await self._sync_file(name, state):
                self._prune_pending = True
        if self._prune_pending:
            await self.prune()  # an error leaves it pending for the next poll
            self._prune_pending = False
        self.synced.set()

    async def _sync_file(self, name: str, state: _File) -> bool:
        """Apply one file if its content changed; True when its set of objects changed."""
        path = os.path.join(self.config.directory, name)
        try:
            data = await asyncio.to_thread(_read, path)
        except OSError as error:
            log.warning("add-ons: cannot read %s: %s", path, error)
            return False
        digest = hashlib.sha256(data).hexdigest()
        if digest == state.applied and not state.retry:
            return False
        try:
            objects = await asyncio.to_thread(parse_manifest, name, data)
        except ManifestError as error:
            state.retry = False
            if state.reported != digest:
                state.reported = digest
                self._report(name, "InvalidManifest", f"skipped: {error}")
            return False
        desired = {_identity(o, (o.get("metadata") or {}).get("namespace") or self.config.default_namespace)
                   for o in objects}
        changed = desired != state.desired
        state.desired = desired
        failed = []
        for obj in objects:
            try:
                await self.apply(name, obj)
            except (APIError, TransportError, ResourceNotFound) as error:
                failed.append(f"{obj['kind']} {obj['metadata']['name']}: {error}")
        if failed:
            if not state.retry or state.reported != digest:
                state.reported = digest
                self._report(name, "ApplyFailed", "not applied (retrying): " + "; ".join(failed))
            state.retry = True
        else:
            if state.retry or state.applied != digest:
                log.info("add-ons: applied %s (%d objects)", name, len(objects))
            state.retry = False
            state.applied = digest
        return changed

    async def apply(self, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of one object, labelled with its file."""
        resource = await self.discovery.for_kind(obj["apiVersion"], obj["kind"])
        metadata = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "uid", "managedFields")}
        metadata["labels"] = {**(metadata.get("labels") or {}), LABEL: label_value(name)}
        namespace = None
        if resource.namespaced:
            namespace = metadata.setdefault("namespace", self.config.default_namespace)
        else:
            metadata.pop("namespace", None)
        body = {**obj, "metadata": metadata}
        result = await self.client.patch(resource, metadata["name"], body, namespace=namespace, patch_type="apply",
                                         field_manager=FIELD_MANAGER, force=True)
        if obj["kind"] == "CustomResourceDefinition":
            self.discovery.invalidate()  # its kind is served from now on
        return result

    async def prune(self) -> None:
        """Delete every labelled object that no present file declares."""
        present = {label_value(n): s for n, s in self.files.items()}
        self.discovery.invalidate()
        resources = [r for r in await self.discovery.resources()
                     if r.preferred and "list" in r.verbs and "delete" in r.verbs and r.name not in _NOT_SWEPT]
        lists = await asyncio.gather(*(self.client.list(r, label_selector=LABEL) for r in resources),
                                     return_exceptions=True)
        seen: set[str] = set()
        for resource, result in zip(resources, lists, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, APIError):
                    raise result
                continue  # a kind that does not filter by label, or went away
            for obj in result.get("items") or []:
                metadata = obj.get("metadata") or {}
                owned = any(r.get("controller") for r in metadata.get("ownerReferences") or [])
                if owned or metadata.get("uid") in seen:
                    continue  # a controller's (its owner goes, it goes), or served twice
                seen.add(metadata.get("uid"))
                state = present.get((metadata.get("labels") or {}).get(LABEL, ""))
                if state is not None and (state.desired is None or _declares(state.desired, resource, metadata)):
                    continue
                log.info("add-ons: pruning %s %s%s", resource.kind,
                         f"{metadata['namespace']}/" if metadata.get("namespace") else "", metadata.get("name"))
                with contextlib.suppress(NotFound):
                    await self.client.delete(resource, metadata["name"], namespace=metadata.get("namespace"),
                                             propagation_policy="Background")

    def _report(self, name: str, reason: str, message: str) -> None:
        path = os.path.join(self.config.directory, name)
        log.warning("add-ons: %s: %s", path, message)
        self.recorder.event({"apiVersion": "addons.hyperkube.io/v1", "kind": "AddonManifest",
                             "metadata": {"name": label_value(name), "namespace": "kube-system"}},
                            WARNING, reason, f"{path}: {message}")
