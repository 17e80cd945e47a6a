"""Protobuf request bodies: the wire decoder, the envelope, the kinds kubectl sends, and 415
for what can't be decoded. Bodies are built here with a tiny encoder of the wire format."""

from __future__ import annotations

import base64

import pytest

from hyperkube.api.protobuf_kinds import CONFIG_MAP, DEPLOYMENT
from hyperkube.machinery.protobuf import ProtobufError, decode, read_varint, unwrap

PROTOBUF = {"Content-Type": "application/vnd.kubernetes.protobuf",
            "Accept": "application/vnd.kubernetes.protobuf,application/json"}


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def vi(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return ld(number, ld(1, key) + ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)


def meta(name: str, *more: bytes) -> bytes:
    # Go marshals every non-pointer field: empty strings and the zero time come along
    return ld(1, name) + ld(2, "") + ld(3, "") + vi(7, 0) + ld(8, b"") + b"".join(more)


def test_varints_round_trip_including_negative_numbers():
    for n in (0, 1, 127, 128, 300, 2**31, 2**63 - 1):
        assert read_varint(varint(n), 0) == (n, len(varint(n)))
    body = vi(1, -1)  # int32 -1 is ten bytes of two's complement
    assert decode(DEPLOYMENT.fields[2].type, body) == {"replicas": -1}


def test_configmap_with_maps_zero_values_and_binary_data():
    raw = (ld(1, meta("cm", entry(11, "app", "x"))) + entry(2, "k", "v") + entry(2, "empty", "")
           + entry(3, "bin", b"\x00\x01") + vi(4, 0))
    obj = decode(CONFIG_MAP, raw)
    assert obj == {"metadata": {"name": "cm", "labels": {"app": "x"}},
                   "data": {"k": "v", "empty": ""},
                   "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()},
                   "immutable": False}  # a pointer in Go: false was set on purpose


def test_deployment_with_template_and_int_or_string():
    container = ld(1, "app") + ld(2, "nginx") + ld(6, vi(3, 80) + ld(4, "TCP")) + ld(8, b"") + vi(16, 0)
    template = ld(1, meta("", entry(11, "app", "d"))) + ld(2, ld(2, container))
    strategy = ld(1, "RollingUpdate") + ld(2, ld(1, vi(1, 1) + ld(3, "25%")) + ld(2, vi(2, 2)))
    spec = vi(1, 0) + ld(2, entry(1, "app", "d")) + ld(3, template) + ld(4, strategy)
    obj = decode(DEPLOYMENT, ld(1, meta("d")) + ld(2, spec) + ld(3, b""))
    assert obj == {
        "metadata": {"name": "d"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {},
                                                       "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}}},
        "status": {}}


def test_broken_bodies_are_errors():
    with pytest.raises(ProtobufError, match="magic"):
        unwrap(b'{"kind":"ConfigMap"}')
    with pytest.raises(ProtobufError, match="truncated"):
        unwrap(b"k8s\x00" + ld(2, b"abc")[:-1])
    with pytest.raises(ProtobufError, match="field 99 of ConfigMap"):
        decode(CONFIG_MAP, ld(99, "x"))
    with pytest.raises(ProtobufError, match="expected a varint"):
        decode(CONFIG_MAP, ld(4, "x"))


async def test_create_from_protobuf_over_http(client):
    raw = ld(1, meta("pbcm")) + entry(2, "a", "1")
    status, out = await client.post("/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create",
                                    raw=envelope("v1", "ConfigMap", raw), headers=PROTOBUF)
    assert status == 201, out
    assert out["kind"] == "ConfigMap" and out["data"] == {"a": "1"} and out["metadata"]["namespace"] == "default"
    assert out["metadata"]["managedFields"][0]["manager"] == "kubectl-create"

    secret = ld(1, meta("pbs")) + entry(2, "password", b"s3cr3t") + ld(3, "Opaque")
    status, out = await client.post("/api/v1/namespaces/default/secrets", raw=envelope("v1", "Secret", secret),
                                    headers=PROTOBUF)
    assert status == 201, out
    assert out["data"] == {"password": base64.b64encode(b"s3cr3t").decode()} and out["type"] == "Opaque"


async def test_undecodable_bodies_are_415(client):
    path = "/api/v1/namespaces/default/configmaps"
    status, out = await client.post(path, raw=b"k8s\x00\xff\xff", headers=PROTOBUF)
    assert status == 415 and out["reason"] == "UnsupportedMediaType"
    assert "could not be decoded" in out["message"]

    status, out = await client.post(path, raw=envelope("v1", "ConfigMap", ld(1, meta("x")) + ld(42, "?")),
                                    headers=PROTOBUF)
    assert status == 415 and "field 42 of ConfigMap is not supported" in out["message"]

    pod = ld(1, meta("p"))
    status, out = await client.post("/api/v1/namespaces/default/pods", raw=envelope("v1", "Pod", pod),
                                    headers=PROTOBUF)
    assert status == 415 and "protobuf bodies of Pod (v1) are not supported" in out["message"]

    # a kind that doesn't match the URL is a bad request, as with JSON
    status, out = await client.post(path, raw=envelope("v1", "Secret", ld(1, meta("x"))), headers=PROTOBUF)
    assert status == 400 and "does not match the expected kind" in out["message"]


async def test_access_reviews_over_protobuf_and_json(client):
    attributes = ld(1, "default") + ld(2, "get") + ld(5, "pods")
    review = envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                      ld(1, meta("")) + ld(2, ld(1, attributes)) + ld(3, b""))
    status, out = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", raw=review,
                                    headers=PROTOBUF)
    assert status == 201, out
    assert out["kind"] == "SelfSubjectAccessReview" and out["status"]["allowed"] is True
    assert out["spec"]["resourceAttributes"] == {"namespace": "default", "verb": "get", "resource": "pods"}

    status, out = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                    {"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}})
    assert status == 201 and out["status"]["allowed"] is True
    status, out = await client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {"spec": {}})
    assert status == 422

    whoami = envelope("authentication.k8s.io/v1", "SelfSubjectReview", ld(1, meta("")) + ld(2, b""))
    status, out = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", raw=whoami,
                                    headers=PROTOBUF)
    assert status == 201
    assert out["status"]["userInfo"] == {"username": "system:unsecured",  # the plain port: auth.INSECURE_SUPERUSER
                                         "groups": ["system:masters", "system:authenticated"]}
    status, _ = await client.get("/apis/authentication.k8s.io/v1/selfsubjectreviews")
    assert status == 405


async def test_large_protobuf_bodies_decode_the_same_way(client):
    """Bodies over 256 KiB are decoded in a thread."""
    raw = ld(1, meta("huge")) + b"".join(entry(2, f"k{i}", "v" * 300) for i in range(1000))
    status, out = await client.post("/api/v1/namespaces/default/configmaps", raw=envelope("v1", "ConfigMap", raw),
                                    headers=PROTOBUF)
    assert status == 201, out
    assert len(out["data"]) == 1000 and out["data"]["k999"] == "v" * 300
