"""machinery.validation: the checks and the cause messages read as kube-apiserver writes them."""

from __future__ import annotations

from hyperkube.machinery import validation as v


def test_dns1123_label():
    assert v.dns1123_label("web-1") == []
    assert v.dns1123_label("1abc") == []
    (message,) = v.dns1123_label("Web")
    assert message.startswith("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'")
    assert "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'" in message
    assert v.dns1123_label("a" * 64)[0] == "must be no more than 63 characters"
    assert v.dns1123_label("a.b")


def test_dns1123_subdomain_and_dns1035():
    assert v.dns1123_subdomain("kube-dns.kube-system") == []
    assert "RFC 1123 subdomain" in v.dns1123_subdomain("-bad")[0]
    assert v.dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    assert v.dns1035_label("web") == []
    (message,) = v.dns1035_label("1web")
    assert message.startswith("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                              "start with an alphabetic character")


def test_qualified_names_for_label_keys():
    assert v.qualified_name("app") == []
    assert v.qualified_name("app.kubernetes.io/name") == []
    assert v.qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert v.qualified_name("/x") == ["prefix part must be non-empty"]
    assert v.qualified_name("Bad_Prefix/x")[0].startswith("prefix part a lowercase RFC 1123 subdomain")
    assert v.qualified_name("-x")[0].startswith("name part must consist of alphanumeric characters")
    assert v.qualified_name("x" * 64) == ["name part must be no more than 63 characters"]


def test_label_values():
    assert v.label_value("") == []
    assert v.label_value("v1.2_3") == []
    assert v.label_value("has space")[0].startswith("a valid label must be an empty string or consist of")
    assert v.label_value("x" * 64)[0] == "must be no more than 63 characters"


def test_labels_and_annotations_causes():
    causes = v.validate_labels({"good": "ok", "bad key": "ok", "k": "bad value!"})
    assert [c["field"] for c in causes] == ["metadata.labels", "metadata.labels"]
    assert causes[0]["message"].startswith('Invalid value: "bad key": name part must consist')
    assert causes[1]["message"].startswith('Invalid value: "bad value!": a valid label must be')
    big = {"a": "x" * (256 * 1024)}
    (too_long,) = v.validate_annotations(big)
    assert too_long == {"reason": "FieldValueTooLong", "field": "metadata.annotations",
                        "message": "Too long: must have at most 262144 bytes"}


def test_config_keys_ports_and_env_names():
    assert v.config_map_key("app.properties") == []
    assert v.config_map_key("..data")
    assert v.config_map_key("a/b")[0].startswith("a valid config key must consist of alphanumeric characters")
    assert v.port_name("http") == []
    assert "must be no more than 15 characters" in v.port_name("a-very-long-port-name")
    assert "must contain at least one letter (a-z)" in v.port_name("8080")
    assert v.port_number(80) == [] and v.port_number(0) == ["must be between 1 and 65535, inclusive"]
    assert v.port_number(True) and v.port_number("80")
    assert v.env_var_name("MY_VAR") == [] and v.env_var_name("A=B")


def test_cause_messages():
    assert v.required("spec.containers") == {"reason": "FieldValueRequired", "message": "Required value",
                                             "field": "spec.containers"}
    assert v.invalid("spec.replicas", -1, "must be greater than or equal to 0")["message"] == \
        "Invalid value: -1: must be greater than or equal to 0"
    assert v.not_supported("spec.restartPolicy", "Sometimes", ("Always", "Never"))["message"] == \
        'Unsupported value: "Sometimes": supported values: "Always", "Never"'
    assert v.duplicate("spec.containers[1].name", "c")["message"] == 'Duplicate value: "c"'
    assert v.forbidden("spec", "nope") == {"reason": "FieldValueForbidden", "message": "Forbidden: nope",
                                           "field": "spec"}
    assert v.immutable("spec.selector", {"a": 1})["message"] == 'Invalid value: {"a":1}: field is immutable'


def test_object_meta():
    assert v.validate_object_meta({"name": "web", "namespace": "default"}, namespaced=True) == []
    (missing,) = v.validate_object_meta({"namespace": "default"}, namespaced=True)
    assert missing["message"] == "Required value: name or generateName is required"
    assert v.validate_object_meta({"name": "x"}, namespaced=True) == [v.required("metadata.namespace")]
    (scoped,) = v.validate_object_meta({"name": "n1", "namespace": "default"}, namespaced=False)
    assert scoped == v.forbidden("metadata.namespace", "not allowed on this type")
    assert v.validate_object_meta({"generateName": "web-", "name": "web-abcde", "namespace": "d"},
                                  namespaced=True) == []
    (bad_prefix,) = v.validate_object_meta({"generateName": "Web-", "name": "web-x", "namespace": "d"},
                                           namespaced=True)
    assert bad_prefix["field"] == "metadata.generateName"
    (owners,) = v.validate_object_meta({"name": "x", "namespace": "d", "ownerReferences": [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True}]}, namespaced=True)
    assert "Only one reference can have Controller set to true" in owners["message"]
    assert v.validate_object_meta({"name": "x", "namespace": "d", "finalizers": ["a/b", "a/b"]},
                                  namespaced=True) == [v.duplicate("metadata.finalizers", "a/b")]
    assert v.validate_object_meta({"name": "BAD", "namespace": "d"}, namespaced=True, name_check=None) == []


def test_object_meta_update():
    old = {"name": "a", "namespace": "d", "uid": "1", "creationTimestamp": "2026-01-01T00:00:00Z"}
    assert v.validate_object_meta_update(dict(old), old) == []
    (renamed,) = v.validate_object_meta_update({**old, "name": "b"}, old)
    assert renamed == v.immutable("metadata.name", "b")
    deleting = {**old, "deletionTimestamp": "2026-01-02T00:00:00Z", "finalizers": ["x/y"]}
    (added,) = v.validate_object_meta_update({**deleting, "finalizers": ["x/y", "x/z"]}, deleting)
    assert added["reason"] == "FieldValueForbidden" and "x/z" in added["message"]
