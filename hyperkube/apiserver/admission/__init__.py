"""Admission: the plugins every write passes, mutating then validating, in Kubernetes' order.

:func:`build` returns the chain ``objects.py`` calls, or None when no plugin is enabled.
"""

from __future__ import annotations

from typing import Any


async def build(config: Any, objects: Any) -> Any:
    return None
