"""kubectl's JSONPath templates: ``-o jsonpath=...``, custom columns and ``--sort-by``.

A template is literal text with ``{...}`` actions in it::

    {.metadata.name}                      a field
    {.items[*].metadata.name}             every item (results joined by one space)
    {.items[0]} {.items[-1:]} {.a[1:5:2]} indexes and slices
    {..image}                             recursive descent
    {.items[?(@.status.phase=="Running")].metadata.name}   filters (== != < <= > >=, or @.x alone)
    {.metadata.labels['app\\.kubernetes\\.io/name']}  {.a['b','c']}   quoted names, unions
    {range .items[*]}{.metadata.name}{"\\n"}{end}          iteration
    {"text"}                              a literal

Strings print as themselves, maps and lists as compact JSON, numbers and booleans as Go
prints them. kubectl evaluates with missing keys allowed: a path that finds nothing prints
nothing (custom columns print ``<none>``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hyperkube.kubectl.yamlout import compact_json
from hyperkube.machinery.brackets import closing_bracket


class JSONPathError(ValueError):
    pass


Step = tuple[str, Any]


@dataclass
class _Node:
    kind: str  # "text" | "path" | "literal" | "range"
    value: Any = None
    body: list[_Node] = field(default_factory=list)


def parse_template(template: str) -> list[_Node]:
    nodes: list[_Node] = []
    stack: list[list[_Node]] = [nodes]
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            stack[-1].append(_Node("text", template[i:]))
            break
        if start > i:
            stack[-1].append(_Node("text", template[i:start]))
        end = _action_end(template, start)
        action = template[start + 1:end].strip()
        i = end + 1
        if action == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
        elif action.startswith("range") and action[5:6] in (" ", ".", "$", "@"):
            node = _Node("range", parse_path(action[5:].strip()))
            stack[-1].append(node)
            stack.append(node.body)
        elif action[:1] in "\"'":
            stack[-1].append(_Node("literal", _unquote(action)))
        else:
            stack[-1].append(_Node("path", parse_path(action)))
    if len(stack) != 1:
        raise JSONPathError("unclosed action: range without end")
    return nodes


def _action_end(text: str, start: int) -> int:
    quote = ""
    depth = 0
    j = start + 1
    while j < len(text):
        char = text[j]
        if quote:
            if char == "\\":
                j += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "}" and depth <= 0:
            return j
        j += 1
    raise JSONPathError(f"unclosed action in template {text!r}")


def _unquote(text: str) -> str:
    if text[0] == '"':
        try:
            return json.loads(text)
        except ValueError as error:
            raise JSONPathError(f"invalid string literal {text}") from error
    return text[1:-1]


def parse_path(text: str) -> list[Step]:
    """``.a.b[0]`` (also ``$.a``, ``@.a`` and, for custom columns, a bare ``a.b``)."""
    text = text.strip()
    if text.startswith(("$", "@")):
        text = text[1:]
    steps: list[Step] = []
    i = 0
    if text and text[0] not in ".[":
        text = "." + text
    while i < len(text):
        char = text[i]
        if char == ".":
            if text.startswith("..", i):
                steps.append(("recursive", None))
                i += 2
                if i < len(text) and text[i] == "[":
                    continue
            else:
                i += 1
            name, i = _name(text, i)
            if name:
                steps.append(("field", name))
        elif char == "[":
            end = _bracket_end(text, i)
            steps.append(_bracket(text[i + 1:end].strip()))
            i = end + 1
        elif char.isspace():
            i += 1
        else:
            raise JSONPathError(f"unrecognized character in action: {char!r}")
    return steps


def _name(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text) and text[i] not in ".[ ":
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out), i


def _bracket_end(text: str, start: int) -> int:
    end = closing_bracket(text, start)
    if end < 0:
        raise JSONPathError(f"unterminated array in {text!r}")
    return end


_SLICE = re.compile(r"^(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*))?$")
_FILTER = re.compile(r"^\?\((.*)\)$", re.S)
_COMPARE = re.compile(r"^(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>|=~)\s*(.+)$", re.S)


def _bracket(inner: str) -> Step:
    if inner == "*":
        return ("all", None)
    filtered = _FILTER.match(inner)
    if filtered:
        expression = filtered.group(1).strip()
        compared = _COMPARE.match(expression)
        if compared:
            return ("filter", (parse_path(compared.group(1)), compared.group(2), _literal(compared.group(3))))
        return ("filter", (parse_path(expression), "exists", None))
    if inner[:1] in "\"'":
        names = [_unquote(part.strip()) for part in re.findall(r"""'[^']*'|"(?:[^"\\]|\\.)*\"""", inner)]
        return ("fields", names)
    sliced = _SLICE.match(inner)
    if sliced:
        start, stop, step = (int(x) if x not in (None, "") else None for x in sliced.groups())
        return ("slice", (start, stop, step))
    if "," in inner:
        return ("union", [_bracket(part.strip()) for part in inner.split(",")])
    try:
        return ("index", int(inner))
    except ValueError:
        return ("fields", [inner])


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "\"'":
        return _unquote(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def find(obj: Any, steps: list[Step]) -> list[Any]:
    values = [obj]
    for kind, arg in steps:
        values = [out for value in values for out in _step(value, kind, arg)]
    return values


def _step(value: Any, kind: str, arg: Any) -> list[Any]:
    if kind == "field":
        if arg == "*":
            return _children(value)
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if kind == "fields":
        return [value[name] for name in arg if isinstance(value, dict) and name in value]
    if kind == "all":
        return _children(value)
    if kind == "index":
        if isinstance(value, list) and -len(value) <= arg < len(value):
            return [value[arg]]
        return []
    if kind == "slice":
        return list(value[slice(*arg)]) if isinstance(value, list) else []
    if kind == "union":
        return [out for sub_kind, sub_arg in arg for out in _step(value, sub_kind, sub_arg)]
    if kind == "recursive":
        return _descendants(value)
    if kind == "filter":
        path, op, expected = arg
        items = value if isinstance(value, list) else _children(value)
        return [item for item in items if _matches(find(item, path), op, expected)]
    raise JSONPathError(f"unknown step {kind}")


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _descendants(value: Any) -> list[Any]:
    out = [value]
    for child in _children(value):
        out += _descendants(child)
    return out


def _matches(found: list[Any], op: str, expected: Any) -> bool:
    if op == "exists":
        return bool(found)
    for value in found:
        try:
            if op == "==" and value == expected or op == "!=" and value != expected:
                return True
            if op == "<" and value < expected or op == ">" and value > expected:
                return True
            if op == "<=" and value <= expected or op == ">=" and value >= expected:
                return True
            if op == "=~" and isinstance(value, str) and re.search(str(expected), value):
                return True
        except TypeError:
            continue
    return False


def format_value(value: Any) -> str:
    """One result as kubectl prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, (dict, list)):
        return compact_json(value)
    return str(value)


def execute(nodes: list[_Node], obj: Any) -> str:
    out: list[str] = []
    _run(nodes, obj, out)
    return "".join(out)


def _run(nodes: list[_Node], current: Any, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "literal":
            out.append(node.value)
        elif node.kind == "path":
            out.append(" ".join(format_value(v) for v in find(current, node.value)))
        else:
            for item in find(current, node.value):
                _run(node.body, item, out)


def render(template: str, obj: Any) -> str:
    return execute(parse_template(template), obj)


def relaxed(expression: str) -> list[Step]:
    """custom-columns and --sort-by: ``{.a.b}``, ``.a.b`` and ``a.b`` all mean the same."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return parse_path(text)
