"""Field validation, pruning and patch metadata from the built-in Kubernetes definitions."""

import copy

import pytest

from hyperkube.api import schemas
from hyperkube.machinery.errors import BadRequest, Invalid

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a": "b"}},
    "spec": {"containers": [{
        "name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "A", "value": "1"}],
        "resources": {"limits": {"cpu": "1000m", "memory": "128Mi"}, "requests": {"cpu": 0.5}},
        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
    }]},
    "status": {"phase": "Pending"},
}


def pod(**spec_changes):
    obj = copy.deepcopy(POD)
    obj["spec"].update(spec_changes)
    return obj


def test_a_valid_pod_passes_and_quantities_come_back_canonical():
    result = schemas.validate("", "v1", "Pod", pod())
    assert result.known and not result.causes and not result.unknown_fields
    assert result.raise_for("Strict", "Pod", "web") == []
    assert result.obj["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "500m"}}
    assert result.obj["status"] == {"phase": "Pending"}


def test_type_errors_are_422_causes_with_field_paths():
    obj = pod()
    obj["spec"]["containers"][0]["ports"][0]["containerPort"] = "abc"
    obj["spec"]["hostNetwork"] = "yes"
    obj["metadata"]["labels"]["n"] = 1
    result = schemas.validate("", "v1", "Pod", obj)
    assert {c["field"]: c["message"] for c in result.causes} == {
        "spec.containers[0].ports[0].containerPort":
            'Invalid value: "abc": spec.containers[0].ports[0].containerPort in body must be of type integer: "string"',
        "spec.hostNetwork": 'Invalid value: "yes": spec.hostNetwork in body must be of type boolean: "string"',
        "metadata.labels.n": 'Invalid value: 1: metadata.labels.n in body must be of type string: "integer"',
    }
    assert {c["reason"] for c in result.causes} == {"FieldValueTypeInvalid"}
    with pytest.raises(Invalid) as raised:
        result.raise_for("Strict", "Pod", "web")
    status = raised.value.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith('Pod "web" is invalid: [')
    assert len(status["details"]["causes"]) == 3


def test_deployment_replicas_type_error_message():
    result = schemas.validate("apps", "v1", "Deployment", {
        "spec": {"replicas": "abc", "selector": {}, "template": {}}})
    with pytest.raises(Invalid) as raised:
        result.raise_for("Strict", "Deployment", "d", group="apps")
    assert raised.value.message == ('Deployment.apps "d" is invalid: spec.replicas: Invalid value: "abc": '
                                    'spec.replicas in body must be of type integer: "string"')


def test_required_fields():
    obj = pod(containers=[{"image": "nginx"}])
    result = schemas.validate("", "v1", "Pod", obj)
    assert result.causes == [{"reason": "FieldValueRequired", "message": "Required value",
                              "field": "spec.containers[0].name"}]


def test_unknown_fields_by_field_validation_mode():
    def build():
        obj = pod(foo=1)
        obj["spec"]["containers"][0]["ports"][0]["bar"] = 2
        return obj

    strict = schemas.validate("", "v1", "Pod", build(), "Strict")
    assert strict.unknown_fields == ["spec.containers[0].ports[0].bar", "spec.foo"]
    with pytest.raises(BadRequest) as raised:
        strict.raise_for("Strict", "Pod", "web")
    assert raised.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].ports[0].bar", unknown field "spec.foo"')

    warn = schemas.validate("", "v1", "Pod", build(), "Warn")
    assert warn.raise_for("Warn", "Pod", "web") == [
        'unknown field "spec.containers[0].ports[0].bar"', 'unknown field "spec.foo"']
    assert "foo" not in warn.obj["spec"]  # pruned either way
    assert warn.obj["spec"]["containers"][0]["ports"][0] == {"containerPort": 80, "protocol": "TCP"}

    ignore = schemas.validate("", "v1", "Pod", build(), "Ignore")
    assert ignore.raise_for("Ignore", "Pod", "web") == []
    assert "foo" not in ignore.obj["spec"]


def test_duplicate_fields_from_decoding():
    body = b'{"kind":"Pod","metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","image":"x","image":"y"}]}}'
    obj, duplicates = schemas.decode_json(body)
    assert duplicates == ["metadata.name", "spec.containers[0].image"]
    assert obj["metadata"]["name"] == "b"
    result = schemas.validate("", "v1", "Pod", obj, "Strict", duplicates)
    with pytest.raises(BadRequest) as raised:
        result.raise_for("Strict", "Pod", "b")
    assert 'strict decoding error: duplicate field "metadata.name", duplicate field "spec.containers[0].image"' \
        in raised.value.message
    assert schemas.decode_json(b'{"a": [1, {"b": 2}]}') == ({"a": [1, {"b": 2}]}, [])
    with pytest.raises(ValueError):
        schemas.decode_json(b'{"a": ')


def test_nulls_int_or_string_and_preserved_fields():
    obj = pod(nodeName=None)
    obj["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = 8080
    obj["metadata"]["labels"]["empty"] = None
    obj["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:spec": {"f:x": {}}}}]
    result = schemas.validate("", "v1", "Pod", obj)
    assert not result.causes and not result.unknown_fields
    assert "nodeName" not in result.obj["spec"]
    assert result.obj["metadata"]["labels"]["empty"] == ""
    assert result.obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:x": {}}}
    obj["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = [1]
    assert schemas.validate("", "v1", "Pod", obj).causes[0]["field"] == \
        "spec.containers[0].livenessProbe.httpGet.port"


def test_bad_quantity_and_base64():
    obj = pod()
    obj["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "lots"
    (problem,) = schemas.validate("", "v1", "Pod", obj).causes
    assert problem["field"] == "spec.containers[0].resources.limits.cpu"
    assert "quantities must match the regular expression" in problem["message"]
    secret = {"metadata": {"name": "s"}, "data": {"ok": "aGk=", "bad": "not base64!"}}
    (problem,) = schemas.validate("", "v1", "Secret", secret).causes
    assert problem["field"] == "data.bad"


def test_other_groups_and_unknown_kinds():
    assert schemas.definition_name("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schemas.definition_name("events.k8s.io", "v1", "Event") == "io.k8s.api.events.v1.Event"
    assert schemas.definition_name("", "v1", "Event") == "io.k8s.api.core.v1.Event"
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15,
                                                  "renewTime": "2026-01-01T00:00:00.000000Z"}}
    assert not schemas.validate("coordination.k8s.io", "v1", "Lease", lease).causes
    lease["spec"]["renewTime"] = "yesterday"
    assert schemas.validate("coordination.k8s.io", "v1", "Lease", lease).causes[0]["field"] == "spec.renewTime"
    result = schemas.validate("example.com", "v1", "Nothing", {"anything": 1})
    assert not result.known and result.obj == {"anything": 1}


def test_patch_strategy_lookup():
    assert schemas.patch_strategy("", "v1", "Pod", "spec.containers") == ("name", "merge", "map", ("name",))
    assert schemas.patch_strategy("", "v1", "Pod", "spec.containers.ports")[:2] == ("containerPort", "merge")
    assert schemas.patch_strategy("", "v1", "Pod", "spec.containers.volumeMounts").merge_key == "mountPath"
    assert schemas.patch_strategy("apps", "v1", "Deployment", "spec.template.spec.volumes").strategy == \
        "merge,retainKeys"
    assert schemas.patch_strategy("apps", "v1", "Deployment", ["spec", "strategy"]).strategy == "retainKeys"
    assert schemas.patch_strategy("", "v1", "Pod", "metadata.finalizers").strategy == "merge"
    assert schemas.patch_strategy("", "v1", "Pod", "spec.nope") == (None, None, None, ())
    assert schemas.schema_at("", "v1", "Pod", "spec.containers.ports")["items"]["$ref"].endswith("ContainerPort")
    assert "properties" in schemas.schema_at("", "v1", "Pod", "spec")


def test_custom_resource_schema():
    schema = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer"}, "mode": {"type": "string", "enum": ["a", "b"]},
            "port": {"x-kubernetes-int-or-string": True},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "note": {"type": "string", "nullable": True},
            "tags": {"type": "array", "items": {"type": "string"}}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}
    schemas.register_schema("example.com", "v1", "Widget", schema)
    try:
        widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}},
                  "spec": {"size": 2, "mode": "a", "port": "http", "extra": {"x": {"y": 1}}, "note": None,
                           "tags": ["t"], "junk": 1}}
        result = schemas.validate("example.com", "v1", "Widget", widget)
        assert result.unknown_fields == ["spec.junk"] and not result.causes
        assert result.obj["spec"]["extra"] == {"x": {"y": 1}} and result.obj["spec"]["note"] is None
        assert result.obj["metadata"] == {"name": "w", "labels": {"a": "b"}}
        bad = {"metadata": {"name": "w"}, "spec": {"mode": "c", "tags": [1]}}
        causes = {c["field"]: c["reason"] for c in schemas.validate("example.com", "v1", "Widget", bad).causes}
        assert causes == {"spec.mode": "FieldValueNotSupported", "spec.tags[0]": "FieldValueTypeInvalid",
                          "spec.size": "FieldValueRequired"}
        assert schemas.schema_for("example.com", "v1", "Widget") is schema
    finally:
        schemas.unregister_schema("example.com", "v1", "Widget")
    assert schemas.schema_for("example.com", "v1", "Widget") is None


def test_field_validation_parameter():
    assert schemas.normalize_field_validation(None) == "Warn"
    assert schemas.normalize_field_validation("strict") == "Strict"
    with pytest.raises(BadRequest):
        schemas.normalize_field_validation("Loose")


def test_status_is_not_held_to_openapi_required_but_spec_is():
    obj = pod()
    obj["status"] = {"phase": "Running", "containerStatuses": [{"name": "c", "ready": True}],
                     "conditions": [{"type": "Ready"}]}
    assert schemas.validate("", "v1", "Pod", obj).causes == []
    obj["status"]["containerStatuses"][0]["ready"] = "yes"  # types still count
    assert [c["field"] for c in schemas.validate("", "v1", "Pod", obj).causes] == \
        ["status.containerStatuses[0].ready"]
    service = {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "http"}]}}
    assert [c["field"] for c in schemas.validate("", "v1", "Service", service).causes] == ["spec.ports[0].port"]


def test_int32_range():
    obj = pod()
    obj["spec"]["containers"][0]["ports"][0]["containerPort"] = 1 << 40
    (problem,) = schemas.validate("", "v1", "Pod", obj).causes
    assert problem["field"] == "spec.containers[0].ports[0].containerPort"
    assert "int32" in problem["message"]
    obj["spec"]["containers"][0]["ports"][0]["containerPort"] = 80.0
    result = schemas.validate("", "v1", "Pod", obj)
    assert not result.causes and result.obj["spec"]["containers"][0]["ports"][0]["containerPort"] == 80


def test_base64_with_line_breaks_is_accepted():
    secret = {"metadata": {"name": "s"}, "data": {"pem": "aGVsbG8g\nd29ybGQ=\n"}}
    assert schemas.validate("", "v1", "Secret", secret).causes == []


def test_hostile_bodies_fail_cleanly():
    for body in (b'{"a": NaN}', b'[Infinity]', b'{"a": 1e400}', b'[' + b'1' * 5000 + b']', b"[" * 100000 + b"]" * 100000, b'{"a":1,"a":' + b"[" * 100000):
        with pytest.raises(ValueError):
            schemas.decode_json(body)
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["properties"] = {"x": {}}
        node = node["properties"]["x"]
    crd = {"metadata": {"name": "w.example.com"}, "spec": {"versions": [{"name": "v1", "schema": {
        "openAPIV3Schema": deep}}]}}
    result = schemas.validate("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd)
    assert result.causes and "nested too deeply" in result.causes[-1]["message"]


def test_random_values_anywhere_never_break_validation():
    """Replace random nodes of real objects with random JSON values: validate() must always
    answer with causes or unknown fields, never raise, and leave a JSON-serializable object."""
    import json
    import random

    rng = random.Random(4)
    values = [None, True, 0, -1, 1.5, 1 << 70, "", "x", "1Gi", [], [None], {}, {"a": None}, {"name": 1},
              [{"name": "c"}], {"containers": "x"}, "not-base64!", float("1e308")]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                           "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
                           "template": {"metadata": {"labels": {"a": "b"}}, "spec": copy.deepcopy(POD["spec"])}}}

    def nodes(value, path=()):
        yield path
        if isinstance(value, dict):
            for key, item in value.items():
                yield from nodes(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from nodes(item, (*path, index))

    for group, kind, original in (("", "Pod", POD), ("apps", "Deployment", deployment)):
        paths = [p for p in nodes(original) if p]
        for _ in range(400):
            obj = copy.deepcopy(original)
            for path in rng.sample(paths, 3):
                target = obj
                try:
                    for step in path[:-1]:
                        target = target[step]
                    target[path[-1]] = copy.deepcopy(rng.choice(values))
                except (KeyError, IndexError, TypeError):
                    continue
            result = schemas.validate(group, "v1", kind, obj, rng.choice(schemas.FIELD_VALIDATIONS))
            json.dumps(result.obj)
            for problem in result.causes:
                assert problem["reason"].startswith("FieldValue") and problem["message"]


def test_custom_resource_constraints_and_defaults():
    schemas.register_schema("example.com", "v1", "Gadget", {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
            "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
            "tags": {"type": "array", "maxItems": 2, "uniqueItems": True, "items": {"type": "string"}},
            "limits": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "integer"}},
            "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1}}}}})
    try:
        good = schemas.validate("example.com", "v1", "Gadget", {"metadata": {"name": "g"}, "spec": {"name": "abc"}})
        assert not good.causes and good.obj["spec"] == {"name": "abc", "size": 3, "mode": "slow"}
        bad = {"metadata": {"name": "g"}, "spec": {
            "size": 11, "name": "ABCDEFG", "mode": "medium", "tags": ["a", "a", "b"], "limits": {}, "ratio": 1}}
        found = {(c["field"], c["reason"], c["message"])
                 for c in schemas.validate("example.com", "v1", "Gadget", bad).causes}
        assert found == {
            ("spec.size", "FieldValueInvalid", "Invalid value: 11: spec.size in body should be less than or equal to 10"),
            ("spec.name", "FieldValueTooLong", "Too long: may not be more than 5 bytes"),
            ("spec.name", "FieldValueInvalid", "Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'"),
            ("spec.mode", "FieldValueNotSupported", 'Unsupported value: "medium": supported values: "fast", "slow"'),
            ("spec.tags", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
            ("spec.tags", "FieldValueDuplicate", 'Duplicate value: "a"'),
            ("spec.limits", "FieldValueInvalid", "Invalid value: 0: spec.limits in body should have at least 1 properties"),
            ("spec.ratio", "FieldValueInvalid", "Invalid value: 1: spec.ratio in body should be less than 1"),
        }
        mistyped = schemas.validate("example.com", "v1", "Gadget", {"spec": {"mode": 5}}).causes
        assert [c["reason"] for c in mistyped] == ["FieldValueTypeInvalid"]  # no enum error on top
    finally:
        schemas.unregister_schema("example.com", "v1", "Gadget")
