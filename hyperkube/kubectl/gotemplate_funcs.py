"""The functions a kubectl go-template can call: text/template's builtins plus kubectl's
``base64decode`` and ``exists``, with Go's truthiness and its strict comparisons (integers
compare with integers, ``eq 1.5 1`` is an error)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from hyperkube.kubectl.gofmt import NO_VALUE, go_type, sprintf, value_text


class TemplateError(Exception):
    pass


def truth(value: Any) -> bool:
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, (bool, int, float, str, list, dict)):
        return bool(value)
    return True


def _named(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return func(*args)
        except TemplateError as error:
            raise TemplateError(f"error calling {name}: {error}") from None
    return call


def _index(item: Any, *indices: Any) -> Any:
    for key in indices:
        if item is None or item is NO_VALUE:
            raise TemplateError("index of untyped nil")
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise TemplateError(f"value has type {go_type(key)}; should be string")
            item = item.get(key)
        elif isinstance(item, (list, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"cannot index slice/array with type {go_type(key)}")
            if not 0 <= key < len(item):
                raise TemplateError(f"index out of range: {key}")
            item = item[key] if isinstance(item, list) else ord(item[key])
        else:
            raise TemplateError(f"can't index item of type {go_type(item)}")
    return item


def _exists(item: Any, *indices: Any) -> bool:
    for key in indices:
        if isinstance(item, dict) and isinstance(key, str) and key in item:
            item = item[key]
        elif isinstance(item, list) and isinstance(key, int) and 0 <= key < len(item):
            item = item[key]
        else:
            return False
    return True


def _len(item: Any) -> int:
    if isinstance(item, (str, list, dict)):
        return len(item.encode() if isinstance(item, str) else item)
    raise TemplateError(f"len of type {go_type(item)}")


def _slice(item: Any, *indices: Any) -> Any:
    if not isinstance(item, (str, list)):
        raise TemplateError(f"can't slice item of type {go_type(item)}")
    bounds = [int(i) for i in indices]
    if len(bounds) == 1:
        return item[bounds[0]:]
    if len(bounds) >= 2:
        return item[bounds[0]:bounds[1]]
    return item


def _base64decode(text: Any) -> str:
    try:
        return base64.b64decode(str(text), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as error:
        raise TemplateError(f"base64 decode failed: {error}") from None


def _sprint(*args: Any) -> str:
    out = []
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(value_text(arg))
    return "".join(out)


def _basic(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None or value is NO_VALUE:
        return "nil"
    raise TemplateError("invalid type for comparison")


def _eq(first: Any, *others: Any) -> bool:
    kind = _basic(first)
    for other in others:
        if _basic(other) != kind:
            if kind != "nil" and _basic(other) != "nil":
                raise TemplateError("incompatible types for comparison")
            return False
        if first == other:
            return True
    return False


def _less(first: Any, second: Any) -> bool:
    kind = _basic(first)
    if kind != _basic(second):
        raise TemplateError("incompatible types for comparison")
    if kind in ("bool", "nil"):
        raise TemplateError("invalid type for comparison")
    return bool(first < second)


def _and(*args: Any) -> Any:
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


FUNCS: dict[str, Callable[..., Any]] = {name: _named(name, func) for name, func in {
    "index": _index,
    "exists": _exists,
    "len": _len,
    "slice": _slice,
    "base64decode": _base64decode,
    "printf": lambda fmt, *args: sprintf(str(fmt), list(args)),
    "print": _sprint,
    "println": lambda *args: " ".join(value_text(a) for a in args) + "\n",
    "not": lambda value: not truth(value),
    "and": _and,
    "or": _or,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _less,
    "le": lambda a, b: _less(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_less(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _less(a, b),
}.items()}
