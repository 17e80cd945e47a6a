"""``kubectl cp``: files between the local disk and a container, through ``tar`` in the container.

``cp [NS/]POD:SRC DEST`` runs ``tar cf - SRC`` in the container and unpacks the archive
locally, the source's own name replaced by DEST (so a file lands at DEST and a directory's
contents under DEST); entries that would escape DEST (``..``, absolute links) are refused,
as kubectl refuses them. ``cp SRC [NS/]POD:DEST`` packs SRC locally under DEST's base name and
runs ``tar xmf - -C <DEST's directory>`` in the container. Packing and unpacking run in a
thread; the container needs a ``tar`` binary, as with the real kubectl.
"""

from __future__ import annotations

import asyncio
import io
import os
import posixpath
import sys
import tarfile

from hyperkube.kubectl.exec import run_captured
from hyperkube.kubectl.session import KubectlError, Session


def _remote(spec: str, session: Session) -> tuple[str, str, str] | None:
    """``[ns/]pod:path`` -> (namespace, pod, path); None for a local path."""
    if ":" not in spec or spec.startswith(("/", ".")):
        return None
    target, _, path = spec.partition(":")
    namespace, _, pod = target.rpartition("/")
    return namespace or session.namespace, pod, path


def _pack(source: str, name: str) -> bytes:
    if not os.path.exists(source):
        raise KubectlError(f"{source} doesn't exist in local filesystem")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(source, arcname=name)
    return buffer.getvalue()


def _unpack(data: bytes, prefix: str, dest: str) -> None:
    """Extract the members under ``prefix`` (the source path as tar names it) to ``dest``."""
    root = os.path.realpath(dest)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        for member in archive.getmembers():
            name = member.name.rstrip("/")
            if name != prefix and not name.startswith(prefix + "/"):
                continue
            relative = name[len(prefix):].lstrip("/")
            target = os.path.realpath(os.path.join(dest, relative)) if relative else os.path.realpath(dest)
            if target != root and not target.startswith(root + os.sep):
                print(f'warning: file "{target}" is outside target destination, skipping', file=sys.stderr)
                continue
            if member.isdir():
                os.makedirs(target, exist_ok=True)
            elif member.isfile():
                os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
                source = archive.extractfile(member)
                with open(target, "wb") as handle:
                    handle.write(source.read() if source else b"")
                os.chmod(target, member.mode & 0o777)
            elif member.issym():
                link = os.path.realpath(os.path.join(os.path.dirname(target), member.linkname))
                if os.path.isabs(member.linkname) or not link.startswith(root):
                    print(f'warning: skipping symlink: "{target}" -> "{member.linkname}" (the link target '
                          "is outside the destination)", file=sys.stderr)
                    continue
                os.symlink(member.linkname, target)


async def cp(session: Session, source: str, dest: str, *, container: str | None) -> int:
    remote_source, remote_dest = _remote(source, session), _remote(dest, session)
    if remote_source and remote_dest:
        raise KubectlError("one of src or dest must be a local file specification")
    if not remote_source and not remote_dest:
        raise KubectlError("one of src or dest must be a remote file specification")
    if remote_source:
        namespace, pod, path = remote_source
        if not path:
            raise KubectlError("remote path can not be empty")
        out, err, code = await run_captured(session, pod, namespace, container, ["tar", "cf", "-", path])
        if code:
            sys.stderr.buffer.write(err)
            raise KubectlError(f"command terminated with exit code {code}")
        sys.stderr.buffer.write(err)  # tar's "Removing leading `/'", as kubectl passes it on
        prefix = path.lstrip("/").rstrip("/")
        await asyncio.to_thread(_unpack, out, posixpath.normpath(prefix) if prefix else prefix, dest)
        return 0
    assert remote_dest is not None
    namespace, pod, path = remote_dest
    path = path or "."
    directory, name = posixpath.split(path.rstrip("/") or "/")
    if path.endswith("/") or not name:
        directory, name = path.rstrip("/") or "/", posixpath.basename(posixpath.normpath(source))
    archive = await asyncio.to_thread(_pack, source, name)
    out, err, code = await run_captured(session, pod, namespace, container,
                                        ["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C",
                                         directory or "."], archive)
    sys.stderr.buffer.write(err)
    if code:
        raise KubectlError(f"command terminated with exit code {code}")
    return 0
