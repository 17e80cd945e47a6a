"""Is a CRD's ``openAPIV3Schema`` structural? (Kubernetes' rules, in the parts users meet.)

A structural schema says, for every node, what type it is, so the server can prune unknown
fields and apply defaults without guessing. :func:`structural_problems` returns 422 causes
named as Kubernetes names them (``spec.versions[0].schema.openAPIV3Schema.properties[spec].type:
Required value: must not be empty for specified object fields``):

- ``type`` is set everywhere, except under ``x-kubernetes-int-or-string`` or
  ``x-kubernetes-preserve-unknown-fields`` (and inside ``allOf``/``anyOf``/``oneOf``/``not``,
  which may only narrow values);
- the root is an object, and only ``metadata.name``/``metadata.generateName`` may be
  specified under ``metadata``;
- ``properties`` and ``additionalProperties`` exclude each other, arrays have ``items``;
- ``$ref``, ``definitions``, ``dependencies``, ``patternProperties`` and ``additionalItems``
  are not supported; ``x-kubernetes-preserve-unknown-fields`` may only be true;
- ``x-kubernetes-embedded-resource`` needs ``type: object``; ``x-kubernetes-int-or-string``
  forbids a ``type``.
"""

from __future__ import annotations

from typing import Any

from hyperkube.machinery import validation as v

TYPES = ("object", "array", "string", "integer", "number", "boolean")
UNSUPPORTED = ("$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "id", "$schema")
Causes = list[dict[str, str]]


def structural_problems(schema: dict[str, Any], field: str) -> Causes:
    out: Causes = []
    if schema.get("type") != "object":
        out.append(v.invalid(f"{field}.type", schema.get("type") or "", "must be object at the root")
                   if schema.get("type") else v.required(f"{field}.type", "must not be empty at the root"))
    metadata = (schema.get("properties") or {}).get("metadata") if isinstance(schema.get("properties"), dict) \
        else None
    if isinstance(metadata, dict):
        allowed = {"type", "properties", "description"}
        extra = sorted(set(metadata) - allowed)
        if extra or set(metadata.get("properties") or {}) - {"name", "generateName"}:
            out.append(v.forbidden(f"{field}.properties[metadata]",
                                   "must not specify anything other than name and generateName, but metadata is "
                                   "implicitly specified"))
        if metadata.get("type") not in (None, "object"):
            out.append(v.invalid(f"{field}.properties[metadata].type", metadata.get("type"), "must be object"))
    _walk(schema, field, out, lenient=False, depth=0)
    return out


def _walk(node: Any, field: str, out: Causes, lenient: bool, depth: int) -> None:
    if depth > 64:
        out.append(v.invalid(field, "object", "the schema is nested too deeply"))
        return
    if not isinstance(node, dict):
        out.append(v.invalid(field, node, "must be an object"))
        return
    for key in UNSUPPORTED:
        if key in node:
            out.append(v.forbidden(f"{field}.{key}", f"{key} is not supported"))
    node_type = node.get("type")
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    int_or_string = node.get("x-kubernetes-int-or-string")
    if preserve is not None and preserve is not True:
        out.append(v.invalid(f"{field}.x-kubernetes-preserve-unknown-fields", preserve, "must be true or undefined"))
    if node_type is not None and node_type not in TYPES:
        out.append(v.not_supported(f"{field}.type", node_type, TYPES))
    if int_or_string and node_type:
        out.append(v.invalid(f"{field}.type", node_type, "must be empty if x-kubernetes-int-or-string is true"))
    if not lenient and not node_type and not int_or_string and not preserve:
        out.append(v.required(f"{field}.type", "must not be empty for specified object fields"))
    if node.get("x-kubernetes-embedded-resource") and node_type != "object":
        out.append(v.invalid(f"{field}.type", node_type or "", "must be object if "
                             "x-kubernetes-embedded-resource is true"))
    properties = node.get("properties")
    additional = node.get("additionalProperties")
    if properties is not None and additional not in (None, False):
        out.append(v.forbidden(f"{field}.additionalProperties", "additionalProperties and properties are mutual "
                               "exclusive"))
    if isinstance(properties, dict):
        for name, sub in properties.items():
            _walk(sub, f"{field}.properties[{name}]", out, lenient, depth + 1)
    elif properties is not None:
        out.append(v.invalid(f"{field}.properties", properties, "must be an object"))
    if isinstance(additional, dict):
        _walk(additional, f"{field}.additionalProperties", out, lenient, depth + 1)
    items = node.get("items")
    if node_type == "array" and items is None and not lenient:
        out.append(v.required(f"{field}.items", "must be specified"))
    if isinstance(items, dict):
        _walk(items, f"{field}.items", out, lenient, depth + 1)
    elif isinstance(items, list):
        out.append(v.forbidden(f"{field}.items", "items must be a schema object and not an array"))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(node.get(combinator) or []):
            _walk(sub, f"{field}.{combinator}[{index}]", out, True, depth + 1)
    if isinstance(node.get("not"), dict):
        _walk(node["not"], f"{field}.not", out, True, depth + 1)
