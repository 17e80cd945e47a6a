"""The simple credentials: x509 client certificates and the static token file.

**Client certificates.** The TLS handshake already verified the peer's chain against
``--client-ca-file`` (the server's SSL context asks for a certificate, CERT_OPTIONAL), so all
that is left is naming the user: CommonName is the user, each Organization a group, plus
``system:authenticated``. A certificate without a CommonName is refused (401).

**Static tokens** (``--token-auth-file``): Kubernetes' CSV, one ``token,user,uid[,"g1,g2"]``
per line, read once at start. Tokens are looked up by their SHA-256, so the comparison time
does not depend on how much of a guess is right. These tokens carry no audience: they are good
for the API server's own audiences only.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from collections.abc import Sequence

from aiohttp import web
from cryptography import x509

from hyperkube.apiserver.auth import AUTHENTICATED, User
from hyperkube.machinery import errors
from hyperkube.machinery.pki import identity


def peer_certificate(request: web.Request) -> bytes | None:
    """The DER of the client's verified certificate, None without TLS or without one."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    return ssl_object.getpeercert(binary_form=True)


@functools.lru_cache(maxsize=256)
def _certificate_user(der: bytes) -> User | None:
    try:
        user, groups = identity(x509.load_der_x509_certificate(der))
    except ValueError:
        return None
    if not user:
        return None
    return User(user, groups=(*groups, AUTHENTICATED))


class ClientCertificates:
    async def authenticate(self, request: web.Request) -> User | None:
        der = peer_certificate(request)
        if der is None:
            return None
        user = _certificate_user(der)
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        return user


def _digest(token: str) -> bytes:
    # a header may carry bytes that are no valid text: they hash (and match nothing) as they are
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class StaticTokens:
    def __init__(self, users: dict[bytes, User], api_audiences: Sequence[str]) -> None:
        self.users = users
        self.api_audiences = list(api_audiences)

    @classmethod
    def parse(cls, text: str, api_audiences: Sequence[str], source: str = "token file") -> StaticTokens:
        users: dict[bytes, User] = {}
        for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{source}, line {number}: want token,user,uid[,groups], got {len(row)} fields")
            token, name, uid = (field.strip() for field in row[:3])
            groups = [g.strip() for g in row[3].split(",") if g.strip()] if len(row) > 3 else []
            users[_digest(token)] = User(name, uid, (*groups, AUTHENTICATED))
        return cls(users, api_audiences)

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> tuple[User, list[str]] | None:
        user = self.users.get(_digest(token))
        if user is None:
            return None
        return user, [a for a in (audiences or self.api_audiences) if a in self.api_audiences]
