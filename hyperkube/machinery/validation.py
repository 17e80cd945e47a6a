"""Field-level validation helpers with Kubernetes' message texts.

Two kinds of helper live here:

* *checks* (``dns1123_label``, ``qualified_name``, ...) take a value and return a list of
  human messages, empty when the value is fine. They know nothing of field paths, so the
  same check serves names, label keys, CRD fields and kubectl-side checks.
* *causes* (``invalid``, ``required``, ``not_supported``, ...) build one ``details.causes``
  entry (``machinery.errors.cause``) whose message reads the way the API server writes it:
  ``Invalid value: "Bad": a lowercase RFC 1123 ...``.

``validate_object_meta`` and ``validate_object_meta_update`` combine them for the metadata
every object shares; strategies call them first and add their kind's own rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from hyperkube.machinery.errors import cause

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE = 256 * 1024

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"
_C_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"

_RE = {name: re.compile(f"^(?:{rx})$") for name, rx in {
    "label": _DNS1123_LABEL, "subdomain": _DNS1123_SUBDOMAIN, "dns1035": _DNS1035_LABEL,
    "qualified": _QUALIFIED_NAME, "value": _LABEL_VALUE, "config": _CONFIG_KEY,
    "cident": _C_IDENTIFIER}.items()}


def _regex_message(what: str, examples: Iterable[str], rx: str) -> str:
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {shown}, regex used for validation is '{rx}')"


def max_len_message(limit: int) -> str:
    return f"must be no more than {limit} characters"


def empty_message() -> str:
    return "must be non-empty"


# -- checks: value -> list of messages -------------------------------------------------------


def dns1123_label(value: str) -> list[str]:
    out = []
    if len(value) > DNS1123_LABEL_MAX:
        out.append(max_len_message(DNS1123_LABEL_MAX))
    if not _RE["label"].match(value):
        out.append(_regex_message(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character", ("my-name", "123-abc"), _DNS1123_LABEL))
    return out


def dns1123_subdomain(value: str) -> list[str]:
    out = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        out.append(max_len_message(DNS1123_SUBDOMAIN_MAX))
    if not _RE["subdomain"].match(value):
        out.append(_regex_message(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character", ("example.com",), _DNS1123_SUBDOMAIN))
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > DNS1035_LABEL_MAX:
        out.append(max_len_message(DNS1035_LABEL_MAX))
    if not _RE["dns1035"].match(value):
        out.append(_regex_message(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character", ("my-name", "abc-123"),
            _DNS1035_LABEL))
    return out


def qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys, finalizers: ``[prefix/]name`` with a DNS-subdomain prefix."""
    out: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            out.append("prefix part " + empty_message())
        else:
            out.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    else:
        return [_regex_message(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character", ("MyName", "my.name", "123-abc"), _QUALIFIED_NAME)
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        out.append("name part " + empty_message())
    elif len(name) > QUALIFIED_NAME_MAX:
        out.append("name part " + max_len_message(QUALIFIED_NAME_MAX))
    if name and not _RE["qualified"].match(name):
        out.append("name part " + _regex_message(
            "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character", ("MyName", "my.name", "123-abc"), _QUALIFIED_NAME))
    return out


def label_value(value: str) -> list[str]:
    out = []
    if len(value) > LABEL_VALUE_MAX:
        out.append(max_len_message(LABEL_VALUE_MAX))
    if not _RE["value"].match(value):
        out.append(_regex_message(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character", ("MyValue", "my_value", "12345"),
            _LABEL_VALUE))
    return out


def config_map_key(value: str) -> list[str]:
    """Keys of ConfigMap/Secret data."""
    out = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        out.append(max_len_message(DNS1123_SUBDOMAIN_MAX))
    if not _RE["config"].match(value):
        out.append(_regex_message("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                  ("key.name", "KEY_NAME", "key-name"), _CONFIG_KEY))
    if value in (".", ".."):
        out.append(f"must not be '{value}'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out


def env_var_name(value: str) -> list[str]:
    """Environment variable names: printable ASCII other than '=' (the relaxed rule)."""
    if not value or any(not (32 <= ord(ch) <= 126) or ch == "=" for ch in value):
        return ["a valid environment variable name must consist only of printable ASCII characters other "
                "than '='"]
    return []


def c_identifier(value: str) -> list[str]:
    if not _RE["cident"].match(value):
        return [_regex_message("a valid C identifier must start with alphabetic character or '_', followed "
                               "by a string of alphanumeric characters or '_'", ("my_name", "MY_NAME",
                                                                                "MyName"), _C_IDENTIFIER)]
    return []


def port_number(value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return [in_range_message(1, 65535)]
    return []


def port_name(value: str) -> list[str]:
    """An IANA service name: what container and service target port names must be."""
    out = []
    if len(value) > 15:
        out.append(max_len_message(15))
    if not re.match(r"^[-a-z0-9]+$", value):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        out.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", value):
        out.append("must contain at least one letter (a-z)")
    if value.startswith("-") or value.endswith("-"):
        out.append("must not begin or end with a hyphen")
    return out


def path_segment_name(value: str) -> list[str]:
    """What RBAC names must be: usable as one URL path segment."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{ch}'" for ch in ("/", "%") if ch in value]


def in_range_message(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def name_prefix(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """A name check for generateName: a trailing '-' is fine there."""
    def checked(value: str) -> list[str]:
        masked = value[:-1] + "a" if value.endswith("-") else value
        return check(masked)
    return checked


# -- causes: one details.causes entry, message as the API server writes it ------------------


def show(value: Any) -> str:
    """How a value appears in ``Invalid value: ...``: strings quoted, the rest as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return cause(field, f"Invalid value: {show(value)}: {detail}" if detail else f"Invalid value: {show(value)}")


def required(field: str, detail: str = "") -> dict[str, str]:
    return cause(field, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def forbidden(field: str, detail: str) -> dict[str, str]:
    return cause(field, f"Forbidden: {detail}", "FieldValueForbidden")


def duplicate(field: str, value: Any) -> dict[str, str]:
    return cause(field, f"Duplicate value: {show(value)}", "FieldValueDuplicate")


def not_found(field: str, value: Any) -> dict[str, str]:
    return cause(field, f"Not found: {show(value)}", "FieldValueNotFound")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> dict[str, str]:
    values = ", ".join(json.dumps(s) for s in supported)
    return cause(field, f"Unsupported value: {show(value)}: supported values: {values}", "FieldValueNotSupported")


def too_long(field: str, limit: int) -> dict[str, str]:
    return cause(field, f"Too long: must have at most {limit} bytes", "FieldValueTooLong")


def too_many(field: str, actual: int, limit: int) -> dict[str, str]:
    return cause(field, f"Too many: {actual}: must have at most {limit} items", "FieldValueTooMany")


def immutable(field: str, value: Any) -> dict[str, str]:
    return invalid(field, value, "field is immutable")


def checked(field: str, value: Any, check: Callable[[str], list[str]]) -> list[dict[str, str]]:
    """Run a check on a string value and turn each message into an Invalid cause."""
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    return [invalid(field, value, msg) for msg in check(value)]


def non_negative(field: str, value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [invalid(field, value, "must be greater than or equal to 0")]
    return []


def positive(field: str, value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return [invalid(field, value, "must be greater than zero")]
    return []


def enum(field: str, value: Any, supported: Iterable[str], *, allow_empty: bool = True) -> list[dict[str, str]]:
    supported = tuple(supported)
    if value in (None, "") and allow_empty:
        return []
    if value in (None, ""):
        return [required(field)]
    if value not in supported:
        return [not_supported(field, value, supported)]
    return []


# -- labels, annotations, whole ObjectMeta ---------------------------------------------------


def validate_labels(labels: Any, field: str = "metadata.labels") -> list[dict[str, str]]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(field, labels, "must be a map of string keys to string values")]
    out = []
    for key, value in labels.items():
        out += [invalid(field, key, msg) for msg in qualified_name(key)]
        if not isinstance(value, str):
            out.append(invalid(f"{field}", value, "label values must be strings"))
        else:
            out += [invalid(f"{field}", value, msg) for msg in label_value(value)]
    return out


def validate_annotations(annotations: Any, field: str = "metadata.annotations") -> list[dict[str, str]]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(field, annotations, "must be a map of string keys to string values")]
    out = []
    size = 0
    for key, value in annotations.items():
        out += [invalid(field, key, msg) for msg in qualified_name(key.lower())]
        size += len(key.encode()) + len(str(value).encode())
    if size > TOTAL_ANNOTATION_SIZE:
        out.append(too_long(field, TOTAL_ANNOTATION_SIZE))
    return out


def validate_owner_references(refs: Any, field: str = "metadata.ownerReferences") -> list[dict[str, str]]:
    if not refs:
        return []
    out = []
    controllers = 0
    for i, ref in enumerate(refs if isinstance(refs, list) else []):
        if not isinstance(ref, dict):
            continue
        for part in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(part):
                out.append(invalid(f"{field}[{i}].{part}" if part != "uid" else f"{field}[{i}].uid",
                                   ref.get(part, ""), f"{part} must not be empty" if part != "uid"
                                   else "uid must not be empty"))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        out.append(invalid(field, refs, "Only one reference can have Controller set to true"))
    return out


def validate_finalizers(finalizers: Any, field: str = "metadata.finalizers") -> list[dict[str, str]]:
    if not finalizers:
        return []
    out = []
    seen: set[str] = set()
    for i, fin in enumerate(finalizers if isinstance(finalizers, list) else []):
        if not isinstance(fin, str):
            out.append(invalid(f"{field}[{i}]", fin, "must be a string"))
            continue
        out += [invalid(field, fin, msg) for msg in qualified_name(fin)]
        if fin in seen:
            out.append(duplicate(field, fin))
        seen.add(fin)
    return out


def validate_object_meta(meta: Any, *, namespaced: bool,
                         name_check: Callable[[str], list[str]] | None = dns1123_subdomain
                         ) -> list[dict[str, str]]:
    """The rules every object's metadata follows (name, namespace, labels, annotations, ...).

    ``name_check`` is the kind's name rule (``None`` skips it); generateName gets the same
    rule with a trailing '-' allowed.
    """
    if not isinstance(meta, dict):
        return [required("metadata")]
    out: list[dict[str, str]] = []
    name = meta.get("name") or ""
    generate = meta.get("generateName") or ""
    if generate and name_check is not None:
        out += checked("metadata.generateName", generate, name_prefix(name_check))
    if not name:
        out.append(required("metadata.name", "name or generateName is required"))
    elif name_check is not None:
        out += checked("metadata.name", name, name_check)
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            out.append(required("metadata.namespace"))
        else:
            out += checked("metadata.namespace", namespace, dns1123_label)
    elif namespace:
        out.append(forbidden("metadata.namespace", "not allowed on this type"))
    out += validate_labels(meta.get("labels"))
    out += validate_annotations(meta.get("annotations"))
    out += validate_owner_references(meta.get("ownerReferences"))
    out += validate_finalizers(meta.get("finalizers"))
    out += non_negative("metadata.generation", meta.get("generation"))
    return out


def validate_object_meta_update(new: Any, old: Any) -> list[dict[str, str]]:
    """What an update may not change in metadata."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return []
    out = []
    for part in ("name", "namespace", "uid", "creationTimestamp"):
        if old.get(part) and new.get(part) and new.get(part) != old.get(part):
            out.append(immutable(f"metadata.{part}", new.get(part)))
    if old.get("deletionTimestamp") and new.get("deletionTimestamp") != old.get("deletionTimestamp"):
        out.append(immutable("metadata.deletionTimestamp", new.get("deletionTimestamp")))
    if old.get("deletionTimestamp") and new.get("finalizers"):
        added = set(new.get("finalizers") or []) - set(old.get("finalizers") or [])
        for fin in sorted(added):
            out.append(forbidden("metadata.finalizers",
                                 f'no new finalizers can be added if the object is being deleted, found new '
                                 f'finalizers []string{{"{fin}"}}'))
    return out
