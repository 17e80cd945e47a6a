"""Bracket matching for path expressions (JSONPath as kubectl and CRD printer columns write it)."""

from __future__ import annotations


def closing_bracket(text: str, start: int) -> int:
    """The index of the ``]`` that closes the ``[`` at ``start``, skipping brackets inside
    quoted strings; -1 when it is never closed."""
    depth, quote = 0, ""
    for j in range(start, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return j
    return -1
