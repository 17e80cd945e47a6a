"""Kubernetes resource quantities: ``100m``, ``1Gi``, ``2``, ``1e3``, ``1.5``.

A :class:`Quantity` holds the exact value as a :class:`~decimal.Decimal` (rounded up to
nano units, as Kubernetes does) plus the format it was written in, so it prints back the way
Kubernetes canonicalises it: binary suffixes stay binary (``1536Mi``), decimal ones decimal
(``1500m``, ``1k``), exponents stay exponents (``12e6``). Schedulers and quotas compare and
add quantities; :meth:`Quantity.milli` gives the integer milli-units they usually want
(``cpu: 100m`` -> 100, ``memory: 1Gi`` -> 1073741824000).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Any

__all__ = ["Quantity", "parse_quantity", "QuantityError", "BINARY_SI", "DECIMAL_SI", "DECIMAL_EXPONENT"]

BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY.items()}
_RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][-+]?[0-9]+|[KMGTPE]i|[numkMGTPE]?)$")
_NANO = Decimal("1e-9")
_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


class QuantityError(ValueError):
    """Not a quantity; the message is Kubernetes' (``quantities must match the regular expression ...``)."""


class Quantity:
    __slots__ = ("value", "format")

    def __init__(self, value: Decimal | int | str, format: str = DECIMAL_SI) -> None:  # noqa: A002
        if isinstance(value, str):
            parsed = parse_quantity(value)
            value, format = parsed.value, parsed.format
        self.value = _round_nano(Decimal(value))
        self.format = format

    # -- numbers -----------------------------------------------------------------------------
    def milli(self) -> int:
        """Integer milli-units, rounded up (``100m`` -> 100, ``1`` -> 1000)."""
        return int((self.value * 1000).to_integral_value(rounding=ROUND_CEILING))

    def integer(self) -> int:
        """Integer units, rounded up (``1500m`` -> 2, ``1Ki`` -> 1024)."""
        return int(self.value.to_integral_value(rounding=ROUND_CEILING))

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + _as_quantity(other).value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - _as_quantity(other).value, self.format)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Quantity, str, int, Decimal)):
            return self.value == _as_quantity(other).value
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        return self.value < _as_quantity(other).value

    def __le__(self, other: Any) -> bool:
        return self.value <= _as_quantity(other).value

    def __gt__(self, other: Any) -> bool:
        return self.value > _as_quantity(other).value

    def __ge__(self, other: Any) -> bool:
        return self.value >= _as_quantity(other).value

    def __hash__(self) -> int:
        return hash(self.value)

    def is_zero(self) -> bool:
        return not self.value

    # -- text --------------------------------------------------------------------------------
    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def _round_nano(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return value.normalize() if value else Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        return value.quantize(_NANO, rounding=ROUND_CEILING).normalize()


def _as_quantity(other: Any) -> Quantity:
    if isinstance(other, Quantity):
        return other
    if isinstance(other, str):
        return parse_quantity(other)
    if isinstance(other, (int, Decimal)):
        return Quantity(other)
    raise TypeError(f"not a quantity: {other!r}")


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse the wire form (a JSON number is accepted too, as the API does)."""
    if isinstance(text, bool):
        raise QuantityError(_MESSAGE)
    if isinstance(text, int):
        return Quantity(Decimal(text), DECIMAL_SI)
    if isinstance(text, float):
        text = repr(text)
    match = _RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise QuantityError(_MESSAGE)
    number, suffix = match.groups()
    try:
        mantissa = Decimal(number)
    except InvalidOperation:
        raise QuantityError(_MESSAGE) from None
    with localcontext() as ctx:
        ctx.prec = 60
        if suffix in _BINARY:
            return Quantity(mantissa * (1 << _BINARY[suffix]), BINARY_SI)
        if suffix[:1] in ("e", "E"):
            return Quantity(mantissa.scaleb(int(suffix[1:])), DECIMAL_EXPONENT)
        return Quantity(mantissa.scaleb(_DECIMAL[suffix]), DECIMAL_SI)


def format_quantity(value: Decimal, fmt: str = DECIMAL_SI) -> str:
    """Kubernetes' canonical text for a value in a format."""
    if not value:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if fmt == BINARY_SI and value == value.to_integral_value():
        integer = int(value)
        if integer >= 1024:
            exponent = 0
            while exponent < 60 and integer % (1 << (exponent + 10)) == 0:
                exponent += 10
            if exponent:
                return f"{sign}{integer >> exponent}{_BINARY_BY_EXP[exponent]}"
        if integer < 1024 or integer % 1024:
            return f"{sign}{integer}"
    # decimal: the largest multiple-of-3 exponent (-9..18) that leaves an integer mantissa
    with localcontext() as ctx:
        ctx.prec = 60
        exponent = -9
        while exponent < 18:
            step = value.scaleb(-(exponent + 3))
            if step != step.to_integral_value():
                break
            exponent += 3
        mantissa = int(value.scaleb(-exponent))
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{mantissa}{_DECIMAL_BY_EXP[exponent]}"
