"""Static pod sources: a manifest directory (``--pod-manifest-path``) and a manifest URL.

Each source hands the kubelet its whole set of pods at once (:meth:`Kubelet.set_source`), so a
file that goes away takes its pods with it.

Directory: every ``*.yaml``, ``*.yml`` and ``*.json`` file (dot files skipped) holds one or
more Pods (YAML documents, or a ``List``). The directory is re-read every
``--file-check-frequency`` seconds, and at once when inotify reports a change in it; where
inotify does not exist, a cheap stat scan (once a second: names, sizes and mtimes only)
stands in for it. A malformed file is logged, reported as a Warning event on the Node, and skipped.

URL: fetched every ``--http-check-frequency`` seconds; the body holds pods the same way.

A static pod's UID is a hash of its source, file and content (a changed manifest is a new
pod), its name gets ``-<node>`` appended, its namespace defaults to ``default``, and it carries
the ``kubernetes.io/config.{hash,source,seen}`` annotations its mirror pod will show.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
import os
from typing import TYPE_CHECKING, Any

import yaml

from hyperkube.machinery.durations import now_rfc3339

if TYPE_CHECKING:
    from hyperkube.kubelet.kubelet import Kubelet

log = logging.getLogger("hyperkube.kubelet.sources")
SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    pass


def parse_manifests(text: str) -> list[dict[str, Any]]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise ManifestError(f"invalid YAML: {error}") from None
    pods: list[dict[str, Any]] = []
    for document in documents:
        if not isinstance(document, dict):
            raise ManifestError("a manifest must be an object")
        if document.get("kind", "").endswith("List") and isinstance(document.get("items"), list):
            items = document["items"]
        else:
            items = [document]
        for item in items:
            if not isinstance(item, dict) or item.get("kind", "Pod") != "Pod":
                raise ManifestError(f"only Pods may be static pods, not {item.get('kind')!r}")
            meta, spec = item.get("metadata"), item.get("spec")
            if not isinstance(meta, dict) or not meta.get("name"):
                raise ManifestError("a static pod needs metadata.name")
            if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
                raise ManifestError(f"pod {meta['name']}: spec.containers is required")
            for container in spec["containers"]:
                if not isinstance(container, dict) or not container.get("name"):
                    raise ManifestError(f"pod {meta['name']}: every container needs a name")
            pods.append(item)
    return pods


def static_pod(pod: dict[str, Any], node_name: str, source: str, origin: str) -> dict[str, Any]:
    """Complete a manifest as the kubelet runs it (and its mirror pod shows it)."""
    pod = copy.deepcopy(pod)
    digest = hashlib.md5(json.dumps([source, origin, node_name, pod], sort_keys=True).encode()).hexdigest()
    meta = pod.setdefault("metadata", {})
    meta["name"] = f"{meta['name']}-{node_name}"
    meta["namespace"] = meta.get("namespace") or "default"
    meta["uid"] = digest
    meta["annotations"] = {**(meta.get("annotations") or {}), "kubernetes.io/config.hash": digest,
                           "kubernetes.io/config.source": source, "kubernetes.io/config.seen": now_rfc3339()}
    pod.update(apiVersion="v1", kind="Pod")
    spec = pod["spec"]
    spec["nodeName"] = node_name
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    for container in spec["containers"] + (spec.get("initContainers") or []):
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("imagePullPolicy", "IfNotPresent")
    pod["status"] = {"phase": "Pending"}
    return pod


class FileSource:
    def __init__(self, kubelet: Kubelet, path: str) -> None:
        self.kubelet = kubelet
        self.path = path
        self.pods: dict[str, dict[str, Any]] = {}
        self._reported: dict[str, str] = {}

    def _signature(self) -> tuple[Any, ...]:
        try:
            if os.path.isfile(self.path):
                stat = os.stat(self.path)
                return ((self.path, stat.st_mtime_ns, stat.st_size),)
            entries = []
            for entry in os.scandir(self.path):
                if entry.name.startswith(".") or not entry.name.endswith(SUFFIXES):
                    continue
                stat = entry.stat()
                entries.append((entry.name, stat.st_mtime_ns, stat.st_size))
            return tuple(sorted(entries))
        except OSError:
            return ()

    def _read(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        files = [self.path] if os.path.isfile(self.path) else sorted(
            os.path.join(self.path, n) for n in (os.listdir(self.path) if os.path.isdir(self.path) else [])
            if not n.startswith(".") and n.endswith(SUFFIXES))
        found: dict[str, list[dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        for name in files:
            try:
                with open(name) as handle:
                    found[name] = parse_manifests(handle.read())
            except (OSError, UnicodeDecodeError, ManifestError) as error:
                errors[name] = str(error)
        return found, errors

    async def scan(self) -> None:
        found, errors = await asyncio.to_thread(self._read)
        for name, message in errors.items():
            if self._reported.get(name) != message:
                log.error("static pod manifest %s skipped: %s", name, message)
                node = {"apiVersion": "v1", "kind": "Node",
                        "metadata": {"name": self.kubelet.node_name, "uid": self.kubelet.node.uid}}
                self.kubelet.events.event(node, "Warning", "FailedToLoadManifest",
                                          f"static pod manifest {name} skipped: {message}")
        self._reported = errors
        pods: dict[str, dict[str, Any]] = {}
        for name, manifests in found.items():
            for manifest in manifests:
                pod = static_pod(manifest, self.kubelet.node_name, "file", name)
                old = self.pods.get(pod["metadata"]["uid"])
                pods[pod["metadata"]["uid"]] = old if old is not None else pod  # keep config.seen stable
        self.pods = pods
        self.kubelet.set_source("file", pods)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        watcher = Inotify.open(self.path, changed.set)
        signature: tuple[Any, ...] | None = None
        last_full = 0.0
        try:
            while True:
                current = signature if watcher else await asyncio.to_thread(self._signature)
                if changed.is_set() or current != signature or \
                        loop.time() - last_full >= self.kubelet.config.file_check_frequency:
                    changed.clear()
                    signature, last_full = current, loop.time()
                    try:
                        await self.scan()
                    except Exception:
                        log.exception("reading %s failed", self.path)
                if watcher:  # woken by inotify at once, else at the check frequency
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.kubelet.config.file_check_frequency):
                            await changed.wait()
                    await asyncio.sleep(0.05)  # let a burst of writes (an editor's save) settle
                else:
                    await asyncio.sleep(min(1.0, self.kubelet.config.file_check_frequency))
        finally:
            if watcher:
                watcher.close()


class Inotify:
    """An inotify watch on a directory (or a file's directory) through libc, read on the loop.

    ``Inotify.open`` returns None where inotify does not exist; the caller then polls."""

    MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200  # modify attrib close_write moved_from/to create delete

    def __init__(self, fd: int, callback: Any) -> None:
        self.fd = fd
        self.callback = callback
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(fd, self._readable)

    @classmethod
    def open(cls, path: str, callback: Any) -> Inotify | None:
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                return None
            directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
            if libc.inotify_add_watch(fd, directory.encode(), cls.MASK) < 0:
                os.close(fd)
                return None
        except (OSError, AttributeError):
            return None
        return cls(fd, callback)

    def _readable(self) -> None:
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass
        except OSError:
            return
        self.callback()

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)


class URLSource:
    def __init__(self, kubelet: Kubelet, url: str) -> None:
        self.kubelet = kubelet
        self.url = url
        self.pods: dict[str, dict[str, Any]] = {}
        self._last_text: str | None = None

    async def fetch(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.get(
                self.url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status != 200:
                raise ManifestError(f"{self.url}: HTTP {response.status}")
            text = await response.text()
        if text == self._last_text:
            return
        manifests = parse_manifests(text)
        pods = {}
        for manifest in manifests:
            pod = static_pod(manifest, self.kubelet.node_name, "http", self.url)
            pods[pod["metadata"]["uid"]] = self.pods.get(pod["metadata"]["uid"]) or pod
        self.pods = pods
        self._last_text = text
        self.kubelet.set_source("http", pods)

    async def run(self) -> None:
        while True:
            try:
                await self.fetch()
            except Exception as error:
                log.warning("manifest URL %s: %s", self.url, error)
                if self._last_text is None:
                    self.kubelet.set_source("http", {})  # unreachable at start: run nothing from it, for now
            await asyncio.sleep(self.kubelet.config.http_check_frequency)
