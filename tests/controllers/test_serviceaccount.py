"""The ServiceAccount and token controllers against a real API server."""

from __future__ import annotations

import base64
from typing import Any

from hyperkube.client import Client, NotFound
from tests.controllers.conftest import eventually

SA = "v1/serviceaccounts"
SECRETS = "v1/secrets"


async def exists(kube: Client, resource: str, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return await kube.get(resource, name, namespace=namespace)
    except NotFound:
        return None


async def test_every_namespace_gets_a_default_service_account(kube: Client, controllers) -> None:
    await kube.create("v1/namespaces", {"metadata": {"name": "before"}})
    await controllers("serviceaccount")
    for namespace in ("default", "kube-system", "before"):
        await eventually(lambda ns=namespace: exists(kube, SA, "default", ns))
    await kube.create("v1/namespaces", {"metadata": {"name": "after"}})
    first = await eventually(lambda: exists(kube, SA, "default", "after"))
    await kube.delete(SA, "default", namespace="after")
    again = await eventually(lambda: exists(kube, SA, "default", "after"))
    assert again["metadata"]["uid"] != first["metadata"]["uid"]


async def test_token_secrets_are_filled_and_follow_their_account(kube: Client, controllers, tmp_path) -> None:
    from hyperkube.machinery import jwt, pki

    signer = pki.generate_key()
    key = tmp_path / "sa.key"
    key.write_bytes(pki.private_key_pem(signer))
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    await controllers("serviceaccount-token", options={"service_account_private_key_file": str(key),
                                                       "root_ca_file": str(ca)})
    account = await kube.create(SA, {"metadata": {"name": "robot"}}, namespace="default")
    await kube.create(SECRETS, {"metadata": {"name": "robot-token", "annotations": {
        "kubernetes.io/service-account.name": "robot"}}, "type": "kubernetes.io/service-account-token"},
        namespace="default")

    async def filled() -> dict[str, Any] | None:
        secret = await kube.get(SECRETS, "robot-token", namespace="default")
        return secret if (secret.get("data") or {}).get("token") else None

    secret = await eventually(filled)
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == account["metadata"]["uid"]
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert data["namespace"] == b"default" and data["ca.crt"] == b"-----BEGIN CERTIFICATE-----\n"
    decoded = jwt.verify(data["token"].decode(), [signer.public_key()])  # signed with the key file (ES256)
    assert decoded["sub"] == "system:serviceaccount:default:robot"
    assert decoded["kubernetes.io/serviceaccount/secret.name"] == "robot-token"
    # the account goes: its token goes
    await kube.delete(SA, "robot", namespace="default")

    async def secret_gone() -> bool:
        return await exists(kube, SECRETS, "robot-token", "default") is None

    await eventually(secret_gone)
    # a token for an account that does not exist is deleted; other secrets are left alone
    await kube.create(SECRETS, {"metadata": {"name": "ghost-token", "annotations": {
        "kubernetes.io/service-account.name": "ghost"}}, "type": "kubernetes.io/service-account-token"},
        namespace="default")
    await kube.create(SECRETS, {"metadata": {"name": "plain"}, "stringData": {"a": "b"}}, namespace="default")

    async def ghost_gone() -> bool:
        return await exists(kube, SECRETS, "ghost-token", "default") is None

    await eventually(ghost_gone)
    assert await exists(kube, SECRETS, "plain", "default") is not None


async def test_root_ca_is_published_in_every_namespace(kube: Client, controllers, tmp_path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nroot\n")
    await controllers("root-ca-cert-publisher", options={"root_ca_file": str(ca)})
    await kube.create("v1/namespaces", {"metadata": {"name": "team"}})
    for namespace in ("default", "team"):
        found = await eventually(lambda ns=namespace: exists(kube, "v1/configmaps", "kube-root-ca.crt", ns))
        assert found["data"] == {"ca.crt": "-----BEGIN CERTIFICATE-----\nroot\n"}
    await kube.patch("v1/configmaps", "kube-root-ca.crt", {"data": {"ca.crt": "tampered"}}, namespace="team")

    async def restored() -> bool:
        found = await exists(kube, "v1/configmaps", "kube-root-ca.crt", "team")
        return bool(found) and found["data"]["ca.crt"].endswith("root\n")

    await eventually(restored)
