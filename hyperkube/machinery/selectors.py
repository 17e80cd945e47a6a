"""Label and field selectors: parse once, match many.

A selector string is parsed into an immutable, pre-compiled object whose ``matches`` does no
parsing and no allocation beyond a dict lookup per requirement, because list and watch match
every stored object against it. Three ways in:

- :func:`parse_label_selector` takes the query-string form (``app=web,tier in (a,b),!canary``):
  ``=``, ``==``, ``!=``, ``in``, ``notin``, ``k`` (exists), ``!k`` (does not exist), and ``>``/``<``
  on integers as Kubernetes has them.
- :func:`label_selector_from_dict` takes a ``metav1.LabelSelector`` (``matchLabels`` and
  ``matchExpressions`` with In, NotIn, Exists, DoesNotExist), as in Deployment and Service
  specs. ``None`` selects nothing, ``{}`` selects everything (Kubernetes' rule).
- :func:`parse_field_selector` takes ``a=b,c!=d`` (``==`` too; ``\\`` escapes ``,``, ``=``, ``!``).
  Values are compared as strings; a field missing from the value dict counts as ``""``.

Errors are :class:`~hyperkube.machinery.errors.BadRequest` with Kubernetes' wording, so the
server can let them propagate to a 400 Status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from hyperkube.machinery.errors import BadRequest

__all__ = [
    "LabelSelector", "FieldSelector", "parse_label_selector", "label_selector_from_dict", "label_selector_from_set",
    "parse_field_selector", "check_field_labels", "EVERYTHING", "NOTHING",
]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?" + _NAME + "$")
_VALUE_RE = re.compile(r"^(" + _NAME + ")?$")

# operators, as Kubernetes spells them in selection.Operator
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"


def _check_key(key: str) -> None:
    if len(key) > 316 or not _KEY_RE.match(key) or len(key.rpartition("/")[2]) > 63:
        raise BadRequest(
            f'unable to parse requirement: key: Invalid value: "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _check_value(index: int, value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise BadRequest(
            f'unable to parse requirement: values[{index}][{value}]: Invalid value: "{value}": a valid '
            "label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
            "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


class Requirement:
    """One ``key op values`` term. ``values`` is a frozenset (in/notin) or a 1-tuple."""

    __slots__ = ("key", "operator", "values", "_value", "_number")

    def __init__(self, key: str, operator: str, values: Iterable[str] = ()) -> None:
        _check_key(key)
        vals = list(values)
        if operator in (IN, NOT_IN):
            if not vals:
                raise BadRequest("unable to parse requirement: values: Invalid value: []: for 'in', "
                                 "'notin' operators, values set can't be empty")
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            if len(vals) != 1:
                raise BadRequest("unable to parse requirement: values: Invalid value: "
                                 f"{vals}: exact-match compatibility requires one single value")
        elif operator in (EXISTS, DOES_NOT_EXIST):
            if vals:
                raise BadRequest("unable to parse requirement: values: Invalid value: "
                                 f"{vals}: values set must be empty for exists and does not exist")
        elif operator in (GREATER_THAN, LESS_THAN):
            if len(vals) != 1 or not re.fullmatch(r"-?[0-9]+", vals[0]):
                raise BadRequest("unable to parse requirement: values[0]: Invalid value: "
                                 f"{vals}: for 'Gt', 'Lt' operators, the value must be an integer")
        else:
            raise BadRequest(f"unable to parse requirement: operator: Unsupported value: \"{operator}\"")
        for i, v in enumerate(vals):
            _check_value(i, v)
        self.key = key
        self.operator = DOUBLE_EQUALS if operator == EQUALS else operator
        self.values = frozenset(vals)
        self._value = vals[0] if len(vals) == 1 else None
        self._number = int(vals[0]) if operator in (GREATER_THAN, LESS_THAN) else 0

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == DOUBLE_EQUALS:
            return labels.get(self.key) == self._value
        if op == IN:
            return labels.get(self.key) in self.values
        if op == NOT_EQUALS:
            return labels.get(self.key) != self._value
        if op == NOT_IN:
            return labels.get(self.key) not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        if value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        return number > self._number if op == GREATER_THAN else number < self._number

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        if op in (GREATER_THAN, LESS_THAN):
            return f"{self.key}{'>' if op == GREATER_THAN else '<'}{self._value}"
        return f"{self.key}{'=' if op == DOUBLE_EQUALS else op}{self._value}"

    def __repr__(self) -> str:
        return f"Requirement({str(self)!r})"


class LabelSelector:
    """A conjunction of requirements. Equality terms are split out into a tuple of
    ``(key, value)`` pairs, the overwhelmingly common case, checked first and cheaply."""

    __slots__ = ("requirements", "_equal", "_other", "_nothing")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._equal = tuple((r.key, r._value) for r in self.requirements if r.operator == DOUBLE_EQUALS)
        self._other = tuple(r for r in self.requirements if r.operator != DOUBLE_EQUALS)
        self._nothing = nothing

    @property
    def empty(self) -> bool:
        """True when it selects everything."""
        return not self.requirements and not self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        if labels is None:
            labels = {}
        for key, value in self._equal:
            if labels.get(key) != value:
                return False
        for requirement in self._other:
            if not requirement.matches(labels):
                return False
        return True

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        return self.matches((obj.get("metadata") or {}).get("labels") or {})

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})" if not self._nothing else "LabelSelector(<nothing>)"


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)

# ---- the string form --------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\s*(?:(==|!=|=|>|<|!|\(|\)|,)|([^\s=!<>(),]+))")
_IDENT, _OP = "identifier", "operator"


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise BadRequest(f"unable to parse requirement: found '{text[pos]}', expected: identifier")
        pos = m.end()
        if m.group(1):
            out.append((_OP, m.group(1)))
        elif m.group(2):
            word = m.group(2)
            out.append((_OP, word) if word in (IN, NOT_IN) else (_IDENT, word))
    return out


class _Parser:
    """Kubernetes' grammar and messages: errors inside one requirement are prefixed
    ``unable to parse requirement:``, errors between requirements are not; the end of the
    string is shown as ``''``."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str] | None:
        token = self.peek()
        self.pos += 1
        return token

    @staticmethod
    def found(token: tuple[str, str] | None) -> str:
        return "" if token is None else token[1]

    def fail(self, message: str) -> BadRequest:
        return BadRequest("unable to parse requirement: " + message)

    def requirement(self) -> Requirement:
        token = self.take()
        negate = False
        if token == (_OP, "!"):
            negate, token = True, self.take()
        if token is None or token[0] != _IDENT:
            raise self.fail(f"found '{self.found(token)}', expected: identifier")
        key = token[1]
        nxt = self.peek()
        if negate or nxt is None or nxt == (_OP, ","):
            return Requirement(key, DOES_NOT_EXIST if negate else EXISTS)
        self.take()
        op = nxt[1]
        if nxt[0] != _OP or op not in (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, ">", "<"):
            raise self.fail(f"found '{op}', expected: '=', '!=', '==', 'in', notin'")
        if op in (IN, NOT_IN):
            return Requirement(key, op, self.value_set())
        value_token = self.peek()
        value = ""
        if value_token is not None and value_token[0] == _IDENT:
            value = value_token[1]
            self.take()
        elif value_token is not None and value_token != (_OP, ","):
            raise self.fail(f"found '{value_token[1]}', expected: identifier")
        operator = {">": GREATER_THAN, "<": LESS_THAN}.get(op, op)
        return Requirement(key, operator, [value])

    def value_set(self) -> list[str]:
        """``(a,b)``; empty members are "" (``()``, ``(a,)``, ``(,a)``, ``(a,,b)``)."""
        token = self.take()
        if token != (_OP, "("):
            raise self.fail(f"found '{self.found(token)}' expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            token = self.take()
            if token == (_OP, ")"):
                if expect_value:
                    values.append("")
                return values
            if token == (_OP, ","):
                if expect_value:
                    values.append("")
                expect_value = True
                continue
            if token is None or token[0] != _IDENT:
                raise self.fail(f"found '{self.found(token)}', expected: ',', or identifier" if expect_value
                                else f"found '{self.found(token)}', expected: ',' or ')'")
            if not expect_value:
                raise self.fail(f"found '{token[1]}', expected: ',' or ')'")
            values.append(token[1])
            expect_value = False

    def parse(self) -> LabelSelector:
        requirements = []
        while True:
            token = self.peek()
            if token is None:
                break
            if token[0] != _IDENT and token != (_OP, "!"):
                raise BadRequest(f"found '{token[1]}', expected: !, identifier, or 'end of string'")
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                break
            if token != (_OP, ","):
                raise BadRequest(f"found '{token[1]}', expected: ',' or 'end of string'")
            after = self.peek()
            if after is None or (after[0] != _IDENT and after != (_OP, "!")):
                raise BadRequest(f"found '{self.found(after)}', expected: identifier after ','")
        return LabelSelector(requirements)


def parse_label_selector(text: str | None) -> LabelSelector:
    """The ``labelSelector`` query parameter; ``""`` or None selects everything. Parsed
    selectors are immutable and cached: the same strings come back on every relist."""
    if not text or not text.strip():
        return EVERYTHING
    return _parse_label_selector(text)


@lru_cache(maxsize=1024)
def _parse_label_selector(text: str) -> LabelSelector:
    return _Parser(text).parse()


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector``: None selects nothing, ``{}`` everything."""
    if selector is None:
        return NOTHING
    requirements = [Requirement(k, EQUALS, [str(v)]) for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or ():
        op = expression.get("operator")
        operator = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}.get(op)
        if operator is None:
            raise BadRequest(f'"{op}" is not a valid label selector operator')
        requirements.append(Requirement(str(expression.get("key", "")), operator,
                                        [str(v) for v in expression.get("values") or ()]))
    return LabelSelector(requirements)


def label_selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """A plain ``key: value`` map, as in a Service's or ReplicationController's ``spec.selector``:
    every pair must match. None or ``{}`` selects everything (callers decide what an empty
    Service selector means)."""
    if not labels:
        return EVERYTHING
    return LabelSelector(Requirement(k, EQUALS, [str(v)]) for k, v in labels.items())


# ---- field selectors ---------------------------------------------------------------------------

class FieldSelector:
    """Terms ``(field, value, equal)``; all must hold."""

    __slots__ = ("terms",)

    def __init__(self, terms: Iterable[tuple[str, str, bool]] = ()) -> None:
        self.terms = tuple(terms)

    @property
    def empty(self) -> bool:
        return not self.terms

    @property
    def fields(self) -> list[str]:
        return [t[0] for t in self.terms]

    def matches(self, fields: Mapping[str, str]) -> bool:
        for name, value, equal in self.terms:
            if (fields.get(name, "") == value) != equal:
                return False
        return True

    def requires_exact(self, name: str) -> str | None:
        """The value ``name`` must equal, if a term says so (lets a server narrow a range read)."""
        for field_name, value, equal in self.terms:
            if equal and field_name == name:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{n}{'=' if eq else '!='}{_escape(v)}" for n, v, eq in self.terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace("!", "\\!")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(value: str, whole: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=!":
                raise BadRequest(f"invalid field selector: invalid escape sequence in '{whole}'")
            out.append(value[i + 1])
            i += 2
            continue
        if ch in ",=!":
            raise BadRequest(f"invalid field selector: unescaped '{ch}' in '{whole}'")
        out.append(ch)
        i += 1
    return "".join(out)


def _find_operator(term: str) -> tuple[int, str] | None:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return i, op
        i += 1
    return None


def parse_field_selector(text: str | None) -> FieldSelector:
    """The ``fieldSelector`` query parameter; ``""`` or None selects everything (cached too)."""
    if not text:
        return FieldSelector()
    return _parse_field_selector(text)


@lru_cache(maxsize=1024)
def _parse_field_selector(text: str) -> FieldSelector:
    terms = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        found = _find_operator(term)
        if found is None:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        index, op = found
        name, value = term[:index], term[index + len(op):]
        if not name:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        terms.append((name, _unescape(value, text), op != "!="))
    return FieldSelector(terms)


def check_field_labels(selector: FieldSelector, allowed: Iterable[str]) -> None:
    """Raise 400 ``field label not supported: X`` for a field outside ``allowed``
    (``metadata.name`` and ``metadata.namespace`` are always allowed)."""
    allowed_set = set(allowed) | {"metadata.name", "metadata.namespace"}
    for name in selector.fields:
        if name not in allowed_set:
            raise BadRequest(f"field label not supported: {name}")
