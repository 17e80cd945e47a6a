"""Go's ``fmt`` as text/template uses it: ``%v`` of decoded JSON values, and ``printf``.

kubectl hands a template the object as unstructured JSON: a whole number is an int64
(:class:`Int64`, to tell it from a template's own ``int`` literals in messages such as
``%!s(int64=1)``), any other number a float64 (shortest ``%g``: ``1e+06``), objects are maps
(printed ``map[k:v ...]`` with sorted keys), arrays print ``[a b]`` and JSON null prints
``<nil>``. A missing map key is not nil but "no value" (:data:`NO_VALUE`).
"""

from __future__ import annotations

import math
import re
from typing import Any


class _NoValue:
    """The invalid reflect.Value a missing map key gives: prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()


class Int64(int):
    """A whole number from the object (Go's int64), as opposed to a template literal (int)."""


def go_type(value: Any) -> str:
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64" if isinstance(value, Int64) else "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def format_float(value: float, verb: str = "g", precision: int | None = None) -> str:
    """strconv.FormatFloat: ``g`` with the shortest digits (``%v``), ``e``, ``f``."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if verb == "f":
        return f"{value:.{6 if precision is None else precision}f}"
    if verb == "e":
        text = f"{value:.{6 if precision is None else precision}e}"
        return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
    if precision is not None:
        text = f"{value:.{precision or 1}g}"
        return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits = repr(abs(value))
    mantissa, _, exponent = digits.partition("e")
    whole, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0") if fraction != "0" else ""
    all_digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) if whole != "0" else int(exponent or 0) - (
        len(fraction) - len(fraction.lstrip("0")))
    significant = all_digits.rstrip("0") or "0"
    exp = point - 1
    sign = "-" if value < 0 else ""
    if exp < -4 or exp >= 6:  # Go: shortest %g switches to an exponent at precision 6
        body = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{significant}"
    if len(significant) <= exp + 1:
        return f"{sign}{significant}{'0' * (exp + 1 - len(significant))}"
    return f"{sign}{significant[:exp + 1]}.{significant[exp + 1:]}"


def value_text(value: Any) -> str:
    """``%v``."""
    if value is NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{value_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(value_text(v) for v in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def quote(text: str) -> str:
    """Go's ``%q`` / strconv.Quote for printable text."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def sprintf(fmt: str, args: list[Any]) -> str:
    """Go's fmt.Sprintf for the verbs templates use: v s q d f e g t x X c %."""
    out: list[str] = []
    position = 0
    index = 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[position:match.start()])
        position = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[index]
        index += 1
        text = _one(verb, arg, None if precision is None else int(precision or 0), flags)
        if width and width != "*":
            size = int(width)
            if "-" in flags:
                text = text.ljust(size)
            elif "0" in flags and verb in "dfegxX":
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign):].rjust(size - len(sign), "0")
            else:
                text = text.rjust(size)
        out.append(text)
    out.append(fmt[position:])
    if index < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={value_text(a)}" for a in args[index:]) + ")")
    return "".join(out)


def _bad(verb: str, arg: Any) -> str:
    return f"%!{verb}({go_type(arg)}={value_text(arg)})"


def _one(verb: str, arg: Any, precision: int | None, flags: str) -> str:
    if arg is NO_VALUE and verb != "v":
        return f"%!{verb}(<nil>)"
    if verb == "v":
        return value_text(arg)
    if verb == "s":
        if isinstance(arg, (str, dict, list, bytes)):
            text = value_text(arg)
            return text[:precision] if precision is not None else text
        return _bad(verb, arg)
    if verb == "q":
        return quote(arg) if isinstance(arg, str) else _bad(verb, arg)
    if verb == "t":
        return value_text(arg) if isinstance(arg, bool) else _bad(verb, arg)
    if verb in "xX" and isinstance(arg, str):
        return arg.encode().hex() if verb == "x" else arg.encode().hex().upper()
    if verb in "dxXc":
        if not isinstance(arg, int) or isinstance(arg, bool):
            return _bad(verb, arg)
        sign = "+" if "+" in flags and arg >= 0 else ""
        if verb == "d":
            return f"{sign}{arg}"
        if verb == "c":
            return chr(arg)
        return sign + format(arg, verb.replace("X", "X").replace("x", "x"))
    if verb in "fegFEG":
        if not isinstance(arg, (int, float)) or isinstance(arg, bool) or isinstance(arg, int):
            return _bad(verb, arg)
        text = format_float(arg, verb.lower() if verb.lower() != "g" else "g", precision)
        return ("+" + text if "+" in flags and arg >= 0 else text)
    return f"%!{verb}({go_type(arg)}={value_text(arg)})"
