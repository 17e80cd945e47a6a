"""Value constraints of structural schemas: enum, bounds, lengths, pattern, item counts.

Built-in definitions carry none of these (Kubernetes states those rules in code, our kinds'
strategies); CRD ``openAPIV3Schema``s use them all. :func:`constrained` wraps a compiled type
check with the constraints a schema node declares, and returns the check untouched when there
are none, so built-in kinds pay nothing. Messages follow Kubernetes' CRD validation
(``spec.size in body should be greater than or equal to 1``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hyperkube.machinery.errors import cause

KEYS = ("enum", "minimum", "maximum", "multipleOf", "minLength", "maxLength", "pattern", "minItems", "maxItems",
        "uniqueItems", "minProperties", "maxProperties")


def constrained(check: Callable[..., Any], schema: dict[str, Any], path_text: Callable[[Any], str],
                shown: Callable[[Any], str]) -> Callable[..., Any]:
    rules = _rules(schema, shown)
    if not rules:
        return check

    def checked(value: Any, path: Any, report: Any) -> Any:
        before = len(report.causes)
        value = check(value, path, report)
        if value is not None and len(report.causes) == before:  # no rules on a mistyped value
            for rule in rules:
                problem = rule(value)
                if problem is not None:
                    reason, message = problem
                    field = path_text(path)
                    report.causes.append(cause(field, message.replace("{field}", field), reason))
        return value

    return checked


Rule = Callable[[Any], "tuple[str, str] | None"]


def _number(value: Any) -> bool:
    return value.__class__ in (int, float)


def _rules(schema: dict[str, Any], shown: Callable[[Any], str]) -> list[Rule]:
    rules: list[Rule] = []
    enum = schema.get("enum")
    if enum:
        supported = ", ".join(shown(v) for v in enum)

        def in_enum(value: Any) -> tuple[str, str] | None:
            if any(value == v and type(value) is type(v) for v in enum):
                return None
            return "FieldValueNotSupported", f"Unsupported value: {shown(value)}: supported values: {supported}"

        rules.append(in_enum)
    if "minimum" in schema:
        low, exclusive = schema["minimum"], bool(schema.get("exclusiveMinimum"))

        def at_least(value: Any) -> tuple[str, str] | None:
            if _number(value) and (value <= low if exclusive else value < low):
                word = "greater than" if exclusive else "greater than or equal to"
                return "FieldValueInvalid", f"Invalid value: {shown(value)}: {{field}} in body should be {word} {low}"
            return None

        rules.append(at_least)
    if "maximum" in schema:
        high, exclusive_high = schema["maximum"], bool(schema.get("exclusiveMaximum"))

        def at_most(value: Any) -> tuple[str, str] | None:
            if _number(value) and (value >= high if exclusive_high else value > high):
                word = "less than" if exclusive_high else "less than or equal to"
                return "FieldValueInvalid", f"Invalid value: {shown(value)}: {{field}} in body should be {word} {high}"
            return None

        rules.append(at_most)
    if schema.get("multipleOf"):
        step = schema["multipleOf"]

        def multiple(value: Any) -> tuple[str, str] | None:
            if _number(value) and (value / step) != int(value / step):
                return "FieldValueInvalid", f"Invalid value: {shown(value)}: {{field}} in body should be a multiple of {step}"
            return None

        rules.append(multiple)
    if "minLength" in schema:
        shortest = schema["minLength"]

        def long_enough(value: Any) -> tuple[str, str] | None:
            if value.__class__ is str and len(value) < shortest:
                return ("FieldValueInvalid",
                        f"Invalid value: {shown(value)}: {{field}} in body should be at least {shortest} chars long")
            return None

        rules.append(long_enough)
    if "maxLength" in schema:
        longest = schema["maxLength"]

        def short_enough(value: Any) -> tuple[str, str] | None:
            if value.__class__ is str and len(value) > longest:
                return "FieldValueTooLong", f"Too long: may not be more than {longest} bytes"
            return None

        rules.append(short_enough)
    if schema.get("pattern"):
        pattern_text = schema["pattern"]
        try:
            pattern: re.Pattern[str] | None = re.compile(pattern_text)
        except re.error:
            pattern = None
        if pattern is not None:
            compiled = pattern

            def matches(value: Any) -> tuple[str, str] | None:
                if value.__class__ is str and not compiled.search(value):
                    return ("FieldValueInvalid",
                            f"Invalid value: {shown(value)}: {{field}} in body should match '{pattern_text}'")
                return None

            rules.append(matches)
    for key, size_of, kind, word in (("minItems", list, "items", "at least"), ("maxItems", list, "items", "at most"),
                                     ("minProperties", dict, "properties", "at least"),
                                     ("maxProperties", dict, "properties", "at most")):
        if key in schema:
            rules.append(_count_rule(schema[key], size_of, kind, word))
    if schema.get("uniqueItems"):
        def unique(value: Any) -> tuple[str, str] | None:
            if value.__class__ is list:
                seen: list[Any] = []
                for item in value:
                    if item in seen:
                        return "FieldValueDuplicate", f"Duplicate value: {shown(item)}"
                    seen.append(item)
            return None

        rules.append(unique)
    return rules


def _count_rule(limit: int, container: type, kind: str, word: str) -> Rule:
    def count(value: Any) -> tuple[str, str] | None:
        if value.__class__ is not container:
            return None
        if word == "at least" and len(value) < limit:
            return "FieldValueInvalid", f"Invalid value: {len(value)}: {{field}} in body should have at least {limit} {kind}"
        if word == "at most" and len(value) > limit:
            return "FieldValueTooMany", f"Too many: {len(value)}: must have at most {limit} {kind}"
        return None

    return count
