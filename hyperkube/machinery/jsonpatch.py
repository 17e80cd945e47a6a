"""RFC 6902 JSON Patch, as the API server applies ``application/json-patch+json``.

The patch runs on a deep copy: either every operation applies and the new document comes
back, or an error is raised and the caller's object is untouched. That is what makes
kopf's finalizer patch safe::

    [{"op": "test", "path": "/metadata/resourceVersion", "value": "103"},
     {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]}]

Errors are API errors (``machinery.errors``), worded as the Kubernetes API server words them:

* :class:`MalformedJSONPatch` (400 BadRequest): the body is not a JSON array of objects, or has
  more operations than Kubernetes allows.
* :class:`JSONPatchFailed` (422 Invalid): an operation does not apply (failed ``test``,
  missing path, bad index, unknown ``op``). Kubernetes answers these with the generic
  ``the server rejected our request due to an error in our request`` and no details (kubectl
  prints ``The request is invalid: the server rejected our request ...``); so does this
  module. The precise reason (``testing value /metadata/resourceVersion failed: test
  failed``) stays on the exception as ``detail`` and ``str()``, for logs and tests.

Details kept from the Go library Kubernetes uses (evanphx/json-patch v4): array indices may be
negative (counted from the end), ``-`` appends, ``test`` of a missing path passes when the
expected value is ``null``, numbers compare by value (``1 == 1.0``) but booleans never equal
numbers.
"""

from __future__ import annotations

import copy
from typing import Any

from hyperkube.machinery.errors import BadRequest, Invalid

__all__ = [
    "apply_json_patch", "check_operations", "parse_pointer", "format_pointer", "json_equal",
    "JSONPatchFailed", "MalformedJSONPatch", "MAX_OPERATIONS",
]

MAX_OPERATIONS = 10000  # Kubernetes' maxJSONPatchOperations
_REJECTED = "the server rejected our request due to an error in our request"


class MalformedJSONPatch(BadRequest):
    """The patch document itself is not a JSON Patch (400)."""


class JSONPatchFailed(Invalid):
    """An operation did not apply (422). ``detail`` holds the precise reason."""

    def __init__(self, detail: str) -> None:
        super().__init__(_REJECTED)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


_MISSING = object()


def json_equal(left: Any, right: Any) -> bool:
    """Structural JSON equality: numbers by value, but ``True`` is not ``1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict):
        return (isinstance(right, dict) and left.keys() == right.keys()
                and all(json_equal(value, right[key]) for key, value in left.items()))
    if isinstance(left, list):
        return (isinstance(right, list) and len(left) == len(right)
                and all(json_equal(a, b) for a, b in zip(left, right, strict=True)))
    return type(left) is type(right) and left == right


def parse_pointer(pointer: Any) -> list[str]:
    """``/a/b~1c/~0d`` -> ``["a", "b/c", "~d"]``; ``""`` is the whole document."""
    if not isinstance(pointer, str):
        raise JSONPatchFailed(f"invalid JSON pointer: {pointer!r} is not a string")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise JSONPatchFailed(f'JSON pointer must be empty or start with a "/": "{pointer}"')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def format_pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def check_operations(patch: Any) -> list[dict[str, Any]]:
    """The decoded body as a list of operation objects, or :class:`MalformedJSONPatch`."""
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise MalformedJSONPatch("json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                                 if isinstance(patch, dict) else
                                 "the JSON patch must be an array of operation objects")
    if len(patch) > MAX_OPERATIONS:
        raise MalformedJSONPatch(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
                                 f"got {len(patch)}")
    return patch


def _index(container: list[Any], token: str, op: str, path: str, inserting: bool = False) -> int:
    """An array index token; ``inserting`` allows one past the end (``add``)."""
    size = len(container) + (1 if inserting else 0)
    body = token[1:] if token.startswith("-") else token
    if not body.isdigit() or not body.isascii():
        raise JSONPatchFailed(f'{op} operation does not apply: invalid array index "{token}" in "{path}"')
    index = int(token)
    if index < 0:
        if index < -size:
            raise JSONPatchFailed(f"{op} operation does not apply: index {index} out of bounds in \"{path}\"")
        index += size
    if index >= size:
        raise JSONPatchFailed(f"{op} operation does not apply: index {index} out of bounds in \"{path}\"")
    return index


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    """The container holding the last token of ``parts``."""
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list):
            try:
                node = node[_index(node, token, op, path)]
            except JSONPatchFailed:
                node = _MISSING
        else:
            node = _MISSING
        if node is _MISSING:
            raise JSONPatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    if not isinstance(node, (dict, list)):
        raise JSONPatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return node


def _get(doc: Any, parts: list[str], op: str, path: str) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts, op, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise JSONPatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
        return parent[token]
    return parent[_index(parent, token, op, path)]


def _add(doc: Any, parts: list[str], value: Any, op: str, path: str) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts, op, path)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif token == "-":
        parent.append(value)
    else:
        parent.insert(_index(parent, token, op, path, inserting=True), value)
    return doc


def _remove(doc: Any, parts: list[str], op: str, path: str) -> Any:
    if not parts:
        raise JSONPatchFailed(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, parts, op, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise JSONPatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
        return parent.pop(token)
    return parent.pop(_index(parent, token, op, path))


def _field(operation: dict[str, Any], name: str, op: str) -> Any:
    if name not in operation:
        raise JSONPatchFailed(f'{op} operation is missing "{name}"')
    return operation[name]


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """Apply every operation of ``patch`` to a copy of ``doc`` and return the copy."""
    operations = check_operations(patch)
    result = copy.deepcopy(doc)
    for operation in operations:
        op = operation.get("op")
        path = _field(operation, "path", str(op))
        parts = parse_pointer(path)
        if op == "add":
            result = _add(result, parts, copy.deepcopy(_field(operation, "value", op)), op, path)
        elif op == "remove":
            _remove(result, parts, op, path)
        elif op == "replace":
            value = copy.deepcopy(_field(operation, "value", op))
            if not parts:
                result = value
                continue
            parent = _parent(result, parts, op, path)
            if isinstance(parent, dict):
                if parts[-1] not in parent:
                    raise JSONPatchFailed(f"replace operation does not apply: doc is missing key: {path}: "
                                          "missing value")
                parent[parts[-1]] = value
            else:
                parent[_index(parent, parts[-1], op, path)] = value
        elif op in ("move", "copy"):
            source = _field(operation, "from", op)
            source_parts = parse_pointer(source)
            if op == "move":
                if parts[:len(source_parts)] == source_parts and len(parts) > len(source_parts):
                    raise JSONPatchFailed(f'move operation does not apply: "from" {source} is a prefix of '
                                          f'"path" {path}')
                value = _remove(result, source_parts, op, source)
            else:
                value = copy.deepcopy(_get(result, source_parts, op, source))
            result = _add(result, parts, value, op, path)
        elif op == "test":
            expected = _field(operation, "value", op)
            try:
                actual = _get(result, parts, op, path)
            except JSONPatchFailed:
                actual = _MISSING
            if actual is _MISSING:
                if expected is None:
                    continue
                raise JSONPatchFailed(f"testing value {path} failed: test failed")
            if not json_equal(actual, expected):
                raise JSONPatchFailed(f"testing value {path} failed: test failed")
        else:
            raise JSONPatchFailed(f"Unexpected kind: {op if isinstance(op, str) else 'unknown'}")
    return result
