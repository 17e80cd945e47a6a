"""Minimal JSON Web Tokens (RFC 7519) for service account tokens: ES256 and RS256 only.

:func:`sign` makes a compact JWS (``header.claims.signature``, base64url without padding);
:func:`verify` checks the signature against a set of public keys and returns the claims.
What the claims must say (issuer, audience, expiry, the service account) is the caller's
business: the API server's authenticator checks them.

Only asymmetric algorithms are accepted, and a key is used only with its own algorithm (an EC
key never checks an RS256 token and vice versa), so the classic "alg: none" and "HS256 with the
public key as secret" forgeries fail. ``kid`` is Kubernetes' key id: the base64url SHA-256 of the
public key's DER, so verifiers can pick the key without trying each.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class InvalidToken(ValueError):
    """Not a JWT, an unsupported algorithm, or a signature no key verifies."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name != "secp256r1":
            raise InvalidToken(f"unsupported curve {key.curve.name}: only P-256 (ES256)")
        return "ES256"
    return "RS256"


def key_id(key: PrivateKey | PublicKey) -> str:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def _compact(data: Mapping[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())


def sign(claims: Mapping[str, Any], key: PrivateKey) -> str:
    """The compact JWT of ``claims`` signed with ``key`` (ES256 for P-256, RS256 for RSA)."""
    alg = algorithm(key)
    signing_input = f"{_compact({'alg': alg, 'kid': key_id(key)})}.{_compact(claims)}".encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants raw r||s, not DER
    else:
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(signature)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) without checking anything: only to decide which verifier to use."""
    try:
        header_text, claims_text, _signature = token.split(".")
        header, claims = json.loads(unb64url(header_text)), json.loads(unb64url(claims_text))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    return header, claims


def _verifies(key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return True
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def verify(token: str, keys: Iterable[PublicKey]) -> dict[str, Any]:
    """The claims of ``token`` if one of ``keys`` verifies its signature; :class:`InvalidToken` otherwise."""
    header, claims = unverified_parts(token)
    alg = header.get("alg")
    if alg not in ("ES256", "RS256"):
        raise InvalidToken(f"unsupported signing algorithm {alg!r}")
    signing_input, _, signature_text = token.rpartition(".")
    try:
        signature = unb64url(signature_text)
    except ValueError as exc:
        raise InvalidToken("malformed token") from exc
    candidates = list(keys)
    kid = header.get("kid")
    if kid:  # try the named key first, then the rest (a kid is a hint, not a promise)
        candidates.sort(key=lambda k: key_id(k) != kid)
    for key in candidates:
        if _verifies(key, alg, signing_input.encode(), signature):
            return claims
    raise InvalidToken("invalid signature")
