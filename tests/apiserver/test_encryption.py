"""Encryption at rest: the stored value of a Secret is ciphertext with Kubernetes' prefix, while
GET, LIST and WATCH return the plain Secret."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from hyperkube.apiserver import encryption
from tests.apiserver._admission import serving

SECRETS = "/api/v1/namespaces/default/secrets"
VALUE = "hunter2-very-secret"
KEY = base64.b64encode(b"k" * 32).decode()
OTHER = base64.b64encode(b"o" * 32).decode()


def config(*providers: str) -> str:
    blocks = {"aescbc": f"- aescbc: {{keys: [{{name: key1, secret: {KEY}}}]}}",
              "aesgcm": f"- aesgcm: {{keys: [{{name: gcm1, secret: {OTHER}}}]}}",
              "identity": "- identity: {}"}
    lines = "\n      ".join(blocks[p] for p in providers)
    return f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      {lines}
"""


def secret(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {"password": base64.b64encode(VALUE.encode()).decode()}}


@pytest.mark.parametrize("provider", ["aescbc", "aesgcm"])
async def test_secret_is_ciphertext_at_rest_and_plain_through_the_api(tmp_path, provider) -> None:
    path = tmp_path / "encryption.yaml"
    path.write_text(config(provider, "identity"))
    async with serving(tmp_path / "data", encryption_provider_config=str(path)) as (server, client):
        async with client.session.get(client.url + SECRETS + "?watch=1&allowWatchBookmarks=false") as watch:
            status, created = await client.post(SECRETS, secret("db"))
            assert status == 201
            line = await asyncio.wait_for(watch.content.readline(), 10)
            assert json.loads(line)["object"]["data"] == secret("db")["data"]
        raw = await server.store.get("/registry/secrets/default/db")  # the store itself, not the API
        name = "key1" if provider == "aescbc" else "gcm1"
        assert raw.value.startswith(f"k8s:enc:{provider}:v1:{name}:".encode())
        encoded = secret("db")["data"]["password"].encode()
        assert VALUE.encode() not in raw.value and encoded not in raw.value
        status, got = await client.get(SECRETS + "/db")
        assert got["data"] == secret("db")["data"]
        _, listed = await client.get(SECRETS)
        assert [s["data"] for s in listed["items"]] == [secret("db")["data"]]
        got["data"]["password"] = base64.b64encode(b"rotated").decode()
        assert (await client.put(SECRETS + "/db", got))[0] == 200
        assert b"rotated" not in (await server.store.get("/registry/secrets/default/db")).value
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {"k": VALUE}}
        await client.post("/api/v1/namespaces/default/configmaps", cm)
        assert VALUE.encode() in (await server.store.get("/registry/configmaps/default/plain")).value


async def test_identity_first_reads_old_ciphertext_and_writes_plain(tmp_path) -> None:
    path = tmp_path / "encryption.yaml"
    path.write_text(config("aescbc"))
    async with serving(tmp_path / "data", encryption_provider_config=str(path)) as (_, client):
        assert (await client.post(SECRETS, secret("old")))[0] == 201
    path.write_text(config("identity", "aescbc"))  # decrypting: identity first, the old key still known
    async with serving(tmp_path / "data", encryption_provider_config=str(path)) as (server, client):
        status, got = await client.get(SECRETS + "/old")
        assert status == 200 and got["data"] == secret("old")["data"]
        assert (await client.post(SECRETS, secret("new")))[0] == 201
        raw = await server.store.get("/registry/secrets/default/new")
        assert raw.value.startswith(b'{"apiVersion"')


def test_configuration_errors_name_no_key() -> None:
    with pytest.raises(encryption.ConfigError, match="PyNaCl"):
        encryption.load(config("identity").replace("identity: {}", "secretbox: {keys: [{name: k, secret: "
                                                   + KEY + "}]}"), [], "/registry")
    with pytest.raises(encryption.ConfigError, match="must be 16, 24 or 32 bytes") as refused:
        encryption.load(config("aescbc").replace(KEY, base64.b64encode(b"short").decode()), [], "/registry")
    assert "short" not in str(refused.value)
