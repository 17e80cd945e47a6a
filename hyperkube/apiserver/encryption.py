"""Encryption at rest: ``--encryption-provider-config`` (apiserver.config.k8s.io/v1
EncryptionConfiguration), as Kubernetes stores it.

For each listed resource (``secrets``, ``deployments.apps``, ``*.apps``, ``*.*``) the first
provider encrypts every write and every provider may decrypt a read, so keys rotate by putting
a new key first and rewriting. Stored values carry Kubernetes' prefix, e.g.
``k8s:enc:aescbc:v1:key1:`` followed by the IV and the AES-CBC ciphertext (PKCS#7), or
``k8s:enc:aesgcm:v1:key1:`` followed by the 12-byte nonce and the AES-GCM ciphertext with the
storage key as authenticated data. ``identity`` stores plain text. A value without the
``k8s:enc:`` prefix (written before encryption was turned on) is read as plain text.
``secretbox`` needs NaCl's XSalsa20-Poly1305, which ``cryptography`` lacks: with PyNaCl absent
the configuration is refused with that reason (use ``aesgcm`` or ``aescbc``).

It is a :class:`~hyperkube.storage.interface.Store` wrapper (:class:`EncryptingStore`), the one
place every value passes through: writes (put, txn) are encrypted and every read (range, txn
responses, delete's previous values, watch events) is decrypted, so the watch feeds, their
caches, lists and GETs only ever see plain objects, and ``hyperkube etcdctl`` or the database
file only ever see ciphertext. No key or value is logged.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hyperkube.storage.interface import (
    Compare,
    DeleteRequest,
    DeleteResult,
    KeyValue,
    Lease,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    Request,
    StorageError,
    Store,
    StoreStatus,
    TxnResult,
    WatchResponse,
)

ENCRYPTED = b"k8s:enc:"


class DecryptError(StorageError):
    """A stored value this server's keys can't open (a 500 naming the key, never the value)."""


class ConfigError(ValueError):
    """An EncryptionConfiguration that can't be used (the message says why; never a key)."""


@dataclass(frozen=True)
class Key:
    provider: str  # aescbc | aesgcm
    name: str
    secret: bytes

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:{self.provider}:v1:{self.name}:".encode()

    def encrypt(self, plain: bytes, context: bytes) -> bytes:
        if self.provider == "aesgcm":
            nonce = os.urandom(12)
            return self.prefix + nonce + AESGCM(self.secret).encrypt(nonce, plain, context)
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(self.secret), modes.CBC(iv)).encryptor()
        return self.prefix + iv + encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        body = data[len(self.prefix):]
        if self.provider == "aesgcm":
            return AESGCM(self.secret).decrypt(body[:12], body[12:], context)
        decryptor = Cipher(algorithms.AES(self.secret), modes.CBC(body[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(body[16:]) + decryptor.finalize()) + unpadder.finalize()


@dataclass(frozen=True)
class Transformer:
    """The providers of one resource entry: ``write`` is None for identity first."""

    write: Key | None
    keys: tuple[Key, ...]

    def to_storage(self, plain: bytes, context: bytes) -> bytes:
        return plain if self.write is None else self.write.encrypt(plain, context)

    def from_storage(self, data: bytes, context: bytes) -> bytes:
        if not data.startswith(ENCRYPTED):
            return data
        for key in self.keys:
            if data.startswith(key.prefix):
                try:
                    return key.decrypt(data, context)
                except Exception as exc:  # a wrong key or corrupt value: say which, not what
                    raise DecryptError(f"cannot decrypt {context.decode(errors='replace')} with key "
                                       f"{key.provider}/{key.name}") from exc
        raise DecryptError(f"no encryption key for {context.decode(errors='replace')} "
                           f"({data[:40].split(b':')[2:4]!r})")


def _providers(entry: dict[str, Any]) -> Transformer:
    keys: list[Key] = []
    write: Key | None = None
    providers = entry.get("providers") or []
    if not providers:
        raise ConfigError("every resources entry needs at least one provider")
    for index, provider in enumerate(providers):
        if not isinstance(provider, dict) or len(provider) != 1:
            raise ConfigError("each provider must name exactly one of aescbc, aesgcm, secretbox, identity")
        (kind, body), = provider.items()
        if kind == "identity":
            continue
        if kind == "secretbox":
            raise ConfigError("the secretbox provider needs PyNaCl (XSalsa20-Poly1305), which is not installed; "
                              "use aesgcm or aescbc")
        if kind not in ("aescbc", "aesgcm"):
            raise ConfigError(f"unsupported encryption provider {kind!r} (aescbc, aesgcm, identity)")
        for item in (body or {}).get("keys") or []:
            try:
                secret = base64.b64decode(str(item["secret"]), validate=True)
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"key {item.get('name')!r} of {kind}: secret must be base64") from None
            if len(secret) not in (16, 24, 32):
                raise ConfigError(f"key {item.get('name')!r} of {kind}: must be 16, 24 or 32 bytes, "
                                  f"got {len(secret)}")
            keys.append(Key(kind, str(item.get("name") or ""), secret))
        if not (body or {}).get("keys"):
            raise ConfigError(f"the {kind} provider needs at least one key")
        if index == 0:
            write = keys[0]
    return Transformer(write, tuple(keys))


def load(text: str, registry: Any, prefix: str) -> dict[str, Transformer]:
    """Key prefix (``/registry/secrets/``) -> its transformer, from an EncryptionConfiguration."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"encryption provider config is not YAML: {exc}") from None
    if not isinstance(config, dict) or config.get("kind") != "EncryptionConfiguration":
        raise ConfigError("encryption provider config must be an apiserver.config.k8s.io/v1 "
                          "EncryptionConfiguration")
    out: dict[str, Transformer] = {}
    for entry in config.get("resources") or []:
        transformer = _providers(entry)
        for name in entry.get("resources") or []:
            plural, _, group = str(name).partition(".")
            for resource in registry:
                if (plural in ("*", resource.plural)) and (group == "*" or group == resource.group):
                    out.setdefault(resource.key_prefix(prefix), transformer)
    return out


class EncryptingStore(Store):
    """``inner`` with values under the configured prefixes encrypted at rest."""

    def __init__(self, inner: Store, transformers: dict[str, Transformer]) -> None:
        self.inner = inner
        self.transformers = transformers
        self.endpoint = inner.endpoint

    def __getattr__(self, name: str) -> Any:  # backend extras (maintenance hooks) pass through
        return getattr(self.inner, name)

    def _for(self, key: str) -> Transformer | None:
        for prefix, transformer in self.transformers.items():
            if key.startswith(prefix):
                return transformer
        return None

    def _plain(self, kv: KeyValue | None) -> Any:
        if kv is None or not kv.value:
            return kv
        transformer = self._for(kv.key)
        if transformer is None:
            return kv
        return replace(kv, value=transformer.from_storage(kv.value, kv.key.encode()))

    def _sealed(self, request: Request) -> Request:
        if isinstance(request, PutRequest):
            transformer = self._for(request.key)
            if transformer is not None:
                return replace(request, value=transformer.to_storage(request.value, request.key.encode()))
        return request

    def _response(self, response: Any) -> Any:
        if isinstance(response, RangeResult):
            return replace(response, kvs=[self._plain(kv) for kv in response.kvs])
        if isinstance(response, PutResult):
            return replace(response, prev_kv=self._plain(response.prev_kv))
        if isinstance(response, DeleteResult):
            return replace(response, prev_kvs=[self._plain(kv) for kv in response.prev_kvs])
        return response

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def range(self, request: RangeRequest) -> RangeResult:
        return self._response(await self.inner.range(request))

    async def put(self, request: PutRequest) -> PutResult:
        return self._response(await self.inner.put(self._sealed(request)))  # type: ignore[arg-type]

    async def delete_range(self, request: DeleteRequest) -> DeleteResult:
        return self._response(await self.inner.delete_range(request))

    async def txn(self, compares: Sequence[Compare], success: Sequence[Request] = (),
                  failure: Sequence[Request] = ()) -> TxnResult:
        result = await self.inner.txn(compares, [self._sealed(r) for r in success], [self._sealed(r) for r in failure])
        return replace(result, responses=[self._response(r) for r in result.responses])

    async def watch(self, key: str, range_end: str | None = None, *, start_revision: int = 0,
                    prev_kv: bool = False, progress_notify: bool = False) -> AsyncIterator[WatchResponse]:
        stream = self.inner.watch(key, range_end, start_revision=start_revision, prev_kv=prev_kv,
                                  progress_notify=progress_notify)
        try:
            async for response in stream:
                if response.events:
                    response = replace(response, events=[
                        replace(e, kv=self._plain(e.kv), prev_kv=self._plain(e.prev_kv)) for e in response.events])
                yield response
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease:
        return await self.inner.lease_grant(ttl, lease_id)

    async def lease_keepalive(self, lease_id: int) -> Lease:
        return await self.inner.lease_keepalive(lease_id)

    async def lease_revoke(self, lease_id: int) -> None:
        await self.inner.lease_revoke(lease_id)

    async def lease_time_to_live(self, lease_id: int, keys: bool = False) -> Lease:
        return await self.inner.lease_time_to_live(lease_id, keys)

    async def status(self) -> StoreStatus:
        return await self.inner.status()


async def wrap(store: Store, path: str, registry: Any, prefix: str) -> Store:
    """``store`` encrypting what ``path`` (an EncryptionConfiguration file) lists."""
    import asyncio

    def read() -> str:
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    transformers = load(await asyncio.to_thread(read), registry, prefix)
    return EncryptingStore(store, transformers) if transformers else store
