"""``kubectl config``: read and edit kubeconfig files without talking to any server.

Reading merges the files as every client does (:class:`hyperkube.client.KubeConfig`).
Writing follows kubectl's choice of file: ``--kubeconfig`` if given; otherwise the file that
already defines the entry; otherwise the first file of ``KUBECONFIG``; otherwise
``~/.kube/config``. Entries are kept sorted by name, as kubectl writes them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from hyperkube.kubectl.printers import tabulate
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import to_yaml

SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
SECRET_DATA = ("certificate-authority-data", "client-certificate-data", "client-key-data")


def _merged(session: Session) -> Any:
    from hyperkube.client import ConfigError

    try:
        return session.kubeconfig
    except ConfigError as error:
        raise KubectlError(str(error)) from error


def _document(merged: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": "Config", "apiVersion": "v1"}
    if merged.preferences:
        doc["preferences"] = dict(merged.preferences)
    for section, inner in SECTIONS.items():
        source = getattr(merged, section)
        doc[section] = [{"name": name, inner: dict(body)} for name, body in sorted(source.items())]
    doc["current-context"] = merged.current_context
    return doc


def _redact(doc: dict[str, Any]) -> dict[str, Any]:
    for entry in doc.get("clusters", []) + doc.get("users", []):
        body = entry.get("cluster") or entry.get("user") or {}
        for key in SECRET_DATA:
            if key in body:
                body[key] = "DATA+OMITTED"
        for key in ("token", "password"):
            if key in body:
                body[key] = "REDACTED"
    return doc


def view(session: Session, *, output: str, minify: bool, raw: bool, flatten: bool) -> int:
    merged = _merged(session)
    doc = _document(merged)
    if minify:
        name = session.flags.context or merged.current_context
        if not name or name not in merged.contexts:
            raise KubectlError("current-context must exist in order to minify")
        context = merged.contexts[name]
        doc["contexts"] = [c for c in doc["contexts"] if c["name"] == name]
        doc["clusters"] = [c for c in doc["clusters"] if c["name"] == context.get("cluster")]
        doc["users"] = [u for u in doc["users"] if u["name"] == context.get("user")]
        doc["current-context"] = name
    if flatten:
        for entry in doc["clusters"] + doc["users"]:
            body = entry.get("cluster") or entry.get("user") or {}
            for key in ("certificate-authority", "client-certificate", "client-key"):
                if body.get(key):
                    import base64

                    body[f"{key}-data"] = base64.b64encode(Path(body.pop(key)).read_bytes()).decode()
    if not raw:
        doc = _redact(doc)
    for section in SECTIONS:
        if not doc[section]:
            doc[section] = None
    if output == "json":
        sys.stdout.write(json.dumps({k: v for k, v in doc.items() if v is not None}, indent=4) + "\n")
    elif output in ("", "yaml"):
        sys.stdout.write(to_yaml(doc))
    else:
        from hyperkube.kubectl.printers import ObjectPrinter

        sys.stdout.write(ObjectPrinter(output).render([doc], single=True))
    return 0


def current_context(session: Session) -> int:
    name = _merged(session).current_context
    if not name:
        raise KubectlError("current-context is not set")
    print(name)
    return 0


def get_contexts(session: Session, names: tuple[str, ...], *, output: str, no_headers: bool) -> int:
    merged = _merged(session)
    chosen = list(names) or sorted(merged.contexts)
    missing = [n for n in chosen if n not in merged.contexts]
    if output == "name":
        for name in chosen:
            if name in merged.contexts:
                print(name)
    else:
        rows = [] if no_headers else [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
        for name in chosen:
            if name in merged.contexts:
                context = merged.contexts[name]
                rows.append(["*" if name == merged.current_context else "", name, context.get("cluster", ""),
                             context.get("user", ""), context.get("namespace", "")])
        sys.stdout.write(tabulate(rows))
    if missing:
        raise KubectlError(f"context {missing[0]} not found")
    return 0


def get_entries(session: Session, section: str) -> int:
    print("NAME")
    for name in getattr(_merged(session), section):
        print(name)
    return 0


class _File:
    """One kubeconfig file, loaded raw, edited and written back."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.doc = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            self.doc = {}
        self.doc.setdefault("apiVersion", "v1")
        self.doc.setdefault("kind", "Config")

    def entry(self, section: str, name: str, *, create: bool = True) -> dict[str, Any] | None:
        entries = self.doc.get(section) or []
        for entry in entries:
            if entry.get("name") == name:
                return entry.setdefault(SECTIONS[section], {})
        if not create:
            return None
        entries.append({"name": name, SECTIONS[section]: {}})
        self.doc[section] = sorted(entries, key=lambda e: e.get("name", ""))
        return self.entry(section, name)

    def save(self) -> None:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(to_yaml(self.doc))
        temporary.chmod(0o600)
        os.replace(temporary, target)


def _destination(session: Session, section: str | None = None, name: str | None = None) -> _File:
    if session.flags.kubeconfig:
        return _File(session.flags.kubeconfig)
    merged = _merged(session)
    if section and name and (section, name) in merged.origins:
        return _File(merged.origins[(section, name)])
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        existing = [p for p in listed if os.path.exists(p)]
        return _File((existing or listed)[0])
    return _File(os.path.join(os.path.expanduser("~"), ".kube", "config"))


def _current_context_file(session: Session) -> _File:
    if session.flags.kubeconfig:
        return _File(session.flags.kubeconfig)
    for path in _merged(session).files:
        try:
            if (yaml.safe_load(Path(path).read_text()) or {}).get("current-context"):
                return _File(path)
        except OSError:
            continue
    return _destination(session)


def use_context(session: Session, name: str) -> int:
    if name not in _merged(session).contexts:
        raise KubectlError(f'no context exists with the name: "{name}"')
    target = _current_context_file(session)
    target.doc["current-context"] = name
    target.save()
    print(f'Switched to context "{name}".')
    return 0


def set_context(session: Session, name: str | None, *, current: bool, fields: dict[str, str | None]) -> int:
    merged = _merged(session)
    if current:
        if name:
            raise KubectlError("you cannot specify both a context name and --current")
        name = merged.current_context
        if not name:
            raise KubectlError("no current context is set")
    if not name:
        raise KubectlError("you must specify a non-empty context name or --current")
    existed = name in merged.contexts
    target = _destination(session, "contexts", name)
    body = target.entry("contexts", name)
    assert body is not None
    for key, value in fields.items():
        if value is not None:
            body[key] = value
    target.save()
    print(f'Context "{name}" {"modified" if existed else "created"}.')
    return 0


def set_entry(session: Session, section: str, name: str, fields: dict[str, Any]) -> int:
    target = _destination(session, section, name)
    body = target.entry(section, name)
    assert body is not None
    for key, value in fields.items():
        if value is not None:
            body[key] = value
    target.save()
    label = {"clusters": "Cluster", "users": "User"}[section]
    print(f'{label} "{name}" set.')
    return 0


def delete_entry(session: Session, section: str, name: str) -> int:
    merged = _merged(session)
    singular = SECTIONS[section]
    if name not in getattr(merged, section):
        raise KubectlError(f"cannot delete {singular} {name}, not in {_destination(session).path}")
    target = _destination(session, section, name)
    target.doc[section] = [e for e in target.doc.get(section) or [] if e.get("name") != name]
    target.save()
    print(f"deleted {singular} {name} from {target.path}")
    if section == "contexts" and merged.current_context == name:
        print('warning: this removed your active context, use "kubectl config use-context" to select a '
              "different one", file=sys.stderr)
    return 0


__all__ = ["current_context", "delete_entry", "get_contexts", "get_entries", "set_context", "set_entry",
           "use_context", "view"]
