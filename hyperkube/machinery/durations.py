"""Durations and timestamps as Kubernetes writes and prints them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def now_rfc3339(ts: float | None = None) -> str:
    """``2026-11-25T18:00:00Z``: metav1.Time's wire form (second precision)."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (``Z`` or an offset, optional fraction)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def human_duration(seconds: float) -> str:
    """Render a duration the way kubectl prints ages: ``45s``, ``5m``, ``3h2m``, ``12d``, ``3y45d``.

    Follows apimachinery's HumanDuration: precision shrinks as durations grow.
    """
    s = int(seconds)
    if s < 0:
        return "<invalid>" if s < -1 else "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        rest = s % 60
        return f"{m}m{rest}s" if rest else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        rest = m % 60
        return f"{h}h{rest}m" if rest else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        rest = h % 24
        return f"{h // 24}d{rest}h" if rest else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        days = (h // 24) % 365
        return f"{h // 24 // 365}y{days}d" if days else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def age(obj: dict[str, Any], now: float) -> str:
    """The AGE cell of a Table row: time since metadata.creationTimestamp."""
    metadata = obj.get("metadata")
    created = metadata.get("creationTimestamp") if isinstance(metadata, dict) else None
    if not isinstance(created, str) or not created:
        return "<unknown>"
    try:
        return human_duration(now - parse_rfc3339(created))
    except ValueError:
        return "<unknown>"
