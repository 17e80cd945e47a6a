"""The CRD pieces of the api layer on their own: JSONPath, structural rules, printer cells."""

from __future__ import annotations

import pytest

from hyperkube.api import crd_jsonpath
from hyperkube.api.crd import Names, resources_for
from hyperkube.api.crd_structural import structural_problems

OBJ = {"metadata": {"name": "w", "labels": {"app.kubernetes.io/name": "web"},
                    "creationTimestamp": "2026-01-01T00:00:00Z"},
       "spec": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}], "replicas": 3},
       "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}}


@pytest.mark.parametrize(("path", "expected"), [
    (".spec.replicas", [3]),
    ("{.spec.replicas}", [3]),
    (".spec.items[1].name", ["b"]),
    (".spec.items[-1].n", [2]),
    (".spec.items[*].name", ["a", "b"]),
    (".status.conditions[?(@.type==\"Ready\")].status", ["True"]),
    (".status.conditions[?(@.type=='Synced')].status", ["False"]),
    (".spec.items[?(@.n==2)].name", ["b"]),
    (".metadata.labels['app.kubernetes.io/name']", ["web"]),
    (".spec.missing", []),
    (".spec.items[5]", []),
])
def test_jsonpath_find(path, expected):
    assert crd_jsonpath.find(OBJ, crd_jsonpath.parse(path)) == expected


@pytest.mark.parametrize("path", ["spec.replicas", ".spec..x", ".spec[", ".spec.items[?(@.n>1)]"])
def test_jsonpath_rejects_what_it_cannot_evaluate(path):
    with pytest.raises(ValueError):
        crd_jsonpath.parse(path)


def test_jsonpath_set_value_creates_parents():
    obj: dict = {}
    crd_jsonpath.set_value(obj, crd_jsonpath.parse(".spec.scale.replicas"), 4)
    assert obj == {"spec": {"scale": {"replicas": 4}}}


def test_structural_rules():
    schema = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        "spec": {"properties": {"ok": {"type": "string"}}},
        "list": {"type": "array"},
        "both": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
        "ref": {"$ref": "#/definitions/x"},
        "ios": {"type": "string", "x-kubernetes-int-or-string": True},
        "free": {"x-kubernetes-preserve-unknown-fields": True},
        "any": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    fields = {c["field"]: c["message"] for c in structural_problems(schema, "s")}
    assert fields == {
        "s.properties[metadata]": "Forbidden: must not specify anything other than name and generateName, but "
                                  "metadata is implicitly specified",
        "s.properties[spec].type": "Required value: must not be empty for specified object fields",
        "s.properties[list].items": "Required value: must be specified",
        "s.properties[both].additionalProperties": "Forbidden: additionalProperties and properties are mutual "
                                                   "exclusive",
        "s.properties[ref].$ref": "Forbidden: $ref is not supported",
        "s.properties[ref].type": "Required value: must not be empty for specified object fields",
        "s.properties[ios].type": 'Invalid value: "string": must be empty if x-kubernetes-int-or-string is true',
    }
    assert structural_problems({"type": "array", "items": {"type": "string"}}, "r")[0]["field"] == "r.type"


def test_printer_cells_by_type():
    crd = {"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Cluster", "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "additionalPrinterColumns": [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Names", "type": "string", "jsonPath": ".spec.items[*].name"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Wrong", "type": "boolean", "jsonPath": ".spec.replicas"},
            {"name": "Since", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}}
    names = Names.of(crd["spec"]["names"])
    assert names is not None
    (resource,) = resources_for(crd, names)
    assert not resource.namespaced and resource.key("w") == "/registry/example.com/widgets/w"
    now = 1767225600 + 3 * 3600  # three hours after creation
    assert resource.strategy.row(OBJ, now) == ["w", 3, "a,b", "True", None, "3h"]
    assert [c.name for c in resource.strategy.columns()] == ["Name", "Replicas", "Names", "Ready", "Wrong", "Since"]
