"""``/openapi/v2`` as kubectl reads it for ``kind: List`` validation: a gnostic protobuf
Document with no definitions (so every item goes on to the server's own validation)."""

from __future__ import annotations

from hyperkube import KUBERNETES_GIT_VERSION
from hyperkube.api.openapi import openapi_v2, openapi_v2_protobuf
from hyperkube.machinery.protobuf import iter_fields


def test_v2_document_encodes_swagger_info_and_empty_paths():
    fields = {number: value for number, _, value in iter_fields(openapi_v2_protobuf())}
    assert fields[1] == b"2.0"
    info = {number: value for number, _, value in iter_fields(fields[2])}
    assert info == {1: b"Kubernetes", 2: KUBERNETES_GIT_VERSION.encode()}
    assert fields[8] == b""
    assert 9 not in fields  # no definitions: kubectl skips items it finds no schema for
    assert openapi_v2()["swagger"] == "2.0"
