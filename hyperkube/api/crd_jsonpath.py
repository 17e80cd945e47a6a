"""The JSONPath that CRDs use: printer columns, selectable fields, scale paths.

A CRD names values by simple JSONPath (``.spec.replicas``, ``.status.conditions[0].type``,
``.spec.items[*].name``, ``.status.conditions[?(@.type=="Ready")].status``,
``.metadata.labels['app.kubernetes.io/name']``). :func:`parse` turns one into steps once (the
strategy keeps them), :func:`find` walks an object and returns every match (possibly none).
Anything outside this subset raises :class:`ValueError` at parse time, so a CRD with such a
path is rejected when it is written rather than failing on every Table.
"""

from __future__ import annotations

import re
from typing import Any

from hyperkube.machinery.brackets import closing_bracket

Step = tuple[str, Any]  # ("field", name) | ("index", n) | ("all", None) | ("filter", (path, op, value))

_FILTER = re.compile(r"""^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+)|(true|false))\)$""")


def parse(path: str) -> tuple[Step, ...]:
    """``.spec.replicas`` -> (("field", "spec"), ("field", "replicas")). ``{...}`` braces are allowed."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text.startswith("."):
        raise ValueError(f"JSONPath must start with '.': {path!r}")
    steps: list[Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            j = i + 1
            while j < len(text) and text[j] not in ".[":
                j += 1
            name = text[i + 1:j]
            if not name:
                if j == len(text) and i == 0:
                    break  # "." alone: the object itself
                raise ValueError(f"empty field name in JSONPath {path!r}")
            steps.append(("field", name))
            i = j
        elif char == "[":
            end = _closing(text, i)
            inner = text[i + 1:end].strip()
            steps.append(_bracket(inner, path))
            i = end + 1
        else:
            raise ValueError(f"unexpected {char!r} in JSONPath {path!r}")
    return tuple(steps)


def _closing(text: str, start: int) -> int:
    end = closing_bracket(text, start)
    if end < 0:
        raise ValueError(f"unclosed '[' in JSONPath {text!r}")
    return end


def _bracket(inner: str, path: str) -> Step:
    if inner == "*":
        return ("all", None)
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    match = _FILTER.match(inner)
    if match:
        fields = tuple(match.group(1).split(".")[1:])
        text1, text2, number, boolean = match.group(3, 4, 5, 6)
        value: Any = (text1 if text1 is not None else text2 if text2 is not None
                      else int(number) if number is not None else boolean == "true")
        return ("filter", (fields, match.group(2), value))
    raise ValueError(f"unsupported JSONPath expression [{inner}] in {path!r}")


def find(obj: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value ``steps`` reach in ``obj`` (``[]`` when the path is absent)."""
    current = [obj]
    for kind, arg in steps:
        following: list[Any] = []
        for value in current:
            if kind == "field":
                if isinstance(value, dict) and arg in value:
                    following.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    following.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, dict):
                    following.extend(value.values())
            elif isinstance(value, list):  # filter
                fields, op, wanted = arg
                for item in value:
                    got = _walk(item, fields)
                    if (got == wanted and type(got) is type(wanted)) == (op == "=="):
                        following.append(item)
        current = following
    return current


def _walk(value: Any, fields: tuple[str, ...]) -> Any:
    for name in fields:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def first(obj: Any, steps: tuple[Step, ...]) -> Any:
    found = find(obj, steps)
    return found[0] if found else None


def set_value(obj: dict[str, Any], steps: tuple[Step, ...], value: Any) -> None:
    """Write ``value`` at a path of plain fields (a scale subresource's ``specReplicasPath``)."""
    current = obj
    for kind, name in steps[:-1]:
        if kind != "field":
            raise ValueError("only field paths can be written")
        child = current.get(name)
        if not isinstance(child, dict):
            child = current[name] = {}
        current = child
    kind, name = steps[-1]
    if kind != "field":
        raise ValueError("only field paths can be written")
    current[name] = value
