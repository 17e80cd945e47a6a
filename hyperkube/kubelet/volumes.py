"""Volumes for processes without a mount namespace.

Each volume is a directory on the host:

- ``emptyDir``: ``<root-dir>/pods/<uid>/volumes/<name>``, deleted with the pod;
- ``hostPath``: the path itself (``DirectoryOrCreate``/``FileOrCreate`` create it);
- ``configMap``, ``secret``, ``downwardAPI``, ``projected`` (its ``serviceAccountToken``
  source holds a bound token from the TokenRequest API, renewed before it expires): files written under
  ``<root-dir>/pods/<uid>/volumes/<name>`` as Kubernetes lays them out (``..data`` is a
  symlink to a timestamped directory, each key a symlink into ``..data``, so an update is one
  atomic rename); refreshed on every pod sync, so they follow ConfigMap and Secret updates;
- ``persistentVolumeClaim``: the bound PersistentVolume's ``hostPath.path`` or ``local.path``.

**The mount rule.** A container sees a volume at its ``mountPath`` through a symlink
``mountPath -> volume directory`` (plus ``subPath``), which the kubelet creates only where
nothing exists yet (making parent directories as needed), and removes when the pod goes. A
``mountPath`` that already exists and is not such a symlink of this pod is left alone, and
the container fails with ``CreateContainerConfigError`` saying so: two pods on one node cannot
mount different volumes at one path. A hostPath volume mounted at its own path needs nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from hyperkube.kubelet.containers import ContainerConfigError, _field_ref


def _write_atomic_dir(target: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Lay out ``files`` (relative path -> (content, mode)) the way the kubelet's
    AtomicWriter does, skipping the write when nothing changed."""
    target.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps({k: [base64.b64encode(v[0]).decode(), v[1]] for k, v in sorted(files.items())})
    marker = target / "..data" / ".manifest"
    if marker.exists() and marker.read_text() == manifest:
        return
    stamp = target / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    stamp.mkdir()
    for rel, (content, mode) in files.items():
        path = stamp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, mode)
    (stamp / ".manifest").write_text(manifest)
    tmp_link = target / "..data_tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    old = os.readlink(target / "..data") if (target / "..data").is_symlink() else None
    os.symlink(stamp.name, tmp_link)
    os.replace(tmp_link, target / "..data")
    tops = {rel.split("/", 1)[0] for rel in files}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"..data/{top}", link)
    for entry in target.iterdir():  # keys that were removed
        if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in tops:
            entry.unlink()
    if old:
        shutil.rmtree(target / old, ignore_errors=True)


def _items(data: dict[str, bytes], items: list[dict[str, Any]] | None, default_mode: int,
           optional: bool, what: str) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        key = item.get("key")
        if key not in data:
            if optional:
                continue
            raise ContainerConfigError("CreateContainerConfigError", f"couldn't find key {key} in {what}")
        files[item.get("path") or key] = (data[key], int(item.get("mode") or default_mode))
    return files


def _object_data(obj: dict[str, Any]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    if obj.get("kind") == "Secret" or "type" in obj:
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value)
    else:
        data.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


class VolumeManager:
    """Volumes of one pod: :meth:`prepare` (every sync), :meth:`mount` per container start,
    :meth:`cleanup` when the pod goes."""

    def __init__(self, root: Path, pod: dict[str, Any], lookup: Any, node_ip: str, tokens: Any = None) -> None:
        """``tokens(pod, audience, seconds)``: a bound service account token (Kubelet's)."""
        self.pod = pod
        self.tokens = tokens
        self.uid = pod["metadata"]["uid"]
        self.base = root / "pods" / self.uid / "volumes"
        self.lookup = lookup
        self.node_ip = node_ip
        self.paths: dict[str, Path] = {}

    async def _source(self, kind: str, ref: dict[str, Any]) -> dict[str, bytes] | None:
        namespace = self.pod["metadata"].get("namespace") or "default"
        obj = await self.lookup(kind, namespace, ref.get("name") or ref.get("secretName"))
        if obj is None:
            if ref.get("optional"):
                return {}
            singular = "configmap" if kind == "configmaps" else "secret"
            raise ContainerConfigError("CreateContainerConfigError",
                                       f'{singular} "{ref.get("name") or ref.get("secretName")}" not found')
        return _object_data(obj)

    def _downward(self, spec: dict[str, Any], default_mode: int) -> dict[str, tuple[bytes, int]]:
        files = {}
        for item in spec.get("items") or []:
            if item.get("fieldRef"):
                path = item["fieldRef"].get("fieldPath", "")
                if path in ("metadata.labels", "metadata.annotations"):
                    values = (self.pod["metadata"].get(path.split(".")[1]) or {})
                    text = "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
                else:
                    text = _field_ref(self.pod, path, self.node_ip)
                files[item["path"]] = (text.encode(), int(item.get("mode") or default_mode))
        return files

    async def prepare(self) -> None:
        """Create or refresh every volume (blocking file work goes to a thread by the caller)."""
        import asyncio

        plans: list[tuple[str, Any]] = []
        for volume in (self.pod.get("spec") or {}).get("volumes") or []:
            name = volume["name"]
            target = self.base / name
            if "hostPath" in volume:
                plans.append(("host", (name, volume["hostPath"])))
            elif "emptyDir" in volume:
                plans.append(("dir", (name, target)))
            elif "configMap" in volume or "secret" in volume:
                kind, spec = ("configmaps", volume["configMap"]) if "configMap" in volume else \
                    ("secrets", volume["secret"])
                mode = int(spec.get("defaultMode") or 0o644)
                data = await self._source(kind, spec)
                files = _items(data or {}, spec.get("items"), mode, bool(spec.get("optional")),
                               f"{kind[:-1]} {spec.get('name') or spec.get('secretName')}")
                plans.append(("files", (name, target, files)))
            elif "downwardAPI" in volume:
                spec = volume["downwardAPI"]
                plans.append(("files", (name, target, self._downward(spec, int(spec.get("defaultMode") or 0o644)))))
            elif "projected" in volume:
                spec = volume["projected"]
                mode = int(spec.get("defaultMode") or 0o644)
                files: dict[str, tuple[bytes, int]] = {}
                for source in spec.get("sources") or []:
                    for key, kind in (("configMap", "configmaps"), ("secret", "secrets")):
                        if key in source:
                            data = await self._source(kind, source[key])
                            files.update(_items(data or {}, source[key].get("items"), mode,
                                                bool(source[key].get("optional")), f"{kind[:-1]} {source[key].get('name')}"))
                    if "downwardAPI" in source:
                        files.update(self._downward(source["downwardAPI"], mode))
                    if "serviceAccountToken" in source and self.tokens is not None:
                        wanted = source["serviceAccountToken"]
                        token = await self.tokens(self.pod, wanted.get("audience") or "",
                                                  int(wanted.get("expirationSeconds") or 3600))
                        files[wanted.get("path") or "token"] = (token.encode(), mode)
                plans.append(("files", (name, target, files)))
            elif "persistentVolumeClaim" in volume:
                plans.append(("host", (name, await self._claim_source(volume["persistentVolumeClaim"]))))
            else:
                plans.append(("dir", (name, target)))  # unknown kinds: an empty directory

        def apply() -> None:
            for kind, args in plans:
                if kind == "dir":
                    name, target = args
                    target.mkdir(parents=True, exist_ok=True)
                    self.paths[name] = target
                elif kind == "files":
                    name, target, files = args
                    _write_atomic_dir(target, files)
                    self.paths[name] = target
                else:
                    name, spec = args
                    path = Path(spec["path"])
                    if spec.get("type") == "DirectoryOrCreate":
                        path.mkdir(parents=True, exist_ok=True)
                    elif spec.get("type") == "FileOrCreate" and not path.exists():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.touch()
                    self.paths[name] = path

        await asyncio.to_thread(apply)

    async def _claim_source(self, claim: dict[str, Any]) -> dict[str, Any]:
        """The bound volume's ``hostPath`` (with its type: a provisioned DirectoryOrCreate volume
        is made here, on the node that uses it) or ``local`` path."""
        namespace = self.pod["metadata"].get("namespace") or "default"
        pvc = await self.lookup("persistentvolumeclaims", namespace, claim.get("claimName"))
        if pvc is None or not (pvc.get("spec") or {}).get("volumeName"):
            raise ContainerConfigError("CreateContainerConfigError",
                                       f'persistentvolumeclaim "{claim.get("claimName")}" is not bound')
        pv = await self.lookup("persistentvolumes", "", pvc["spec"]["volumeName"])
        spec = (pv or {}).get("spec") or {}
        source = spec.get("hostPath") or spec.get("local") or {}
        if not source.get("path"):
            raise ContainerConfigError("CreateContainerConfigError", f"persistentvolume {pvc['spec']['volumeName']} "
                                                                     "is neither hostPath nor local")
        return source

    def mount(self, container: dict[str, Any]) -> None:
        """Make each volumeMount visible at its mountPath (the rule in the module docstring)."""
        for mount in container.get("volumeMounts") or []:
            source = self.paths.get(mount.get("name"))
            if source is None:
                raise ContainerConfigError("CreateContainerConfigError", f"volume {mount.get('name')} not found")
            if mount.get("subPath"):
                source = source / mount["subPath"]
                if not source.exists():
                    source.mkdir(parents=True)
            where = Path(mount["mountPath"])
            if where == source:
                continue
            if where.is_symlink():
                if os.readlink(where) == str(source):
                    continue
                if self._ours(where):
                    where.unlink()
                else:
                    raise ContainerConfigError("CreateContainerConfigError", _taken(where))
            elif where.exists():
                raise ContainerConfigError("CreateContainerConfigError", _taken(where))
            where.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(source, where)
            self._record(where)

    def _links_file(self) -> Path:
        return self.base.parent / "mounts.json"

    def _links(self) -> list[str]:
        try:
            return json.loads(self._links_file().read_text())
        except (OSError, ValueError):
            return []

    def _ours(self, where: Path) -> bool:
        return str(where) in self._links()

    def _record(self, where: Path) -> None:
        links = self._links()
        if str(where) not in links:
            links.append(str(where))
            self._links_file().parent.mkdir(parents=True, exist_ok=True)
            self._links_file().write_text(json.dumps(links))


def cleanup_mounts(root: Path, uid: str) -> None:
    """Remove the mountPath symlinks a pod's containers got (those that still point into it)."""
    try:
        links = json.loads((root / "pods" / uid / "mounts.json").read_text())
    except (OSError, ValueError):
        return
    for link in links:
        path = Path(link)
        if path.is_symlink():
            path.unlink()


def _taken(where: Path) -> str:
    return (f"mountPath {where} already exists on this host and is not this pod's: without a mount namespace "
            "a volume is mounted by a symlink created only where nothing is")
