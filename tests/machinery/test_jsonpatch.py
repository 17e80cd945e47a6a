"""RFC 6902 JSON Patch: every operation, pointers, failures that change nothing."""

import copy

import pytest

from hyperkube.machinery.errors import BadRequest, Invalid
from hyperkube.machinery.jsonpatch import (
    MAX_OPERATIONS,
    JSONPatchFailed,
    MalformedJSONPatch,
    apply_json_patch,
    format_pointer,
    json_equal,
    parse_pointer,
)


@pytest.mark.parametrize("doc, patch, expected", [
    # add: object member, array insert, append with "-", nested, whole document
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": "x"}], {"foo": ["bar", "x"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/1", "value": "x"}], {"foo": ["bar", "x"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/0", "value": "x"}], {"foo": ["x", "bar"]}),
    ({"foo": "bar"}, [{"op": "add", "path": "/foo", "value": ["a"]}], {"foo": ["a"]}),
    ({"foo": 1}, [{"op": "add", "path": "", "value": {"bar": 2}}], {"bar": 2}),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ({"a": {}}, [{"op": "add", "path": "/a/b", "value": None}], {"a": {"b": None}}),
    # negative indices count from the end (evanphx/json-patch, used by Kubernetes)
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/-1", "value": 9}], {"a": [1, 2, 3, 9]}),
    ({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]}),
    ({"a": [1, 2, 3]}, [{"op": "replace", "path": "/a/-3", "value": 0}], {"a": [0, 2, 3]}),
    # remove
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    # replace
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"a": [1, 2]}, [{"op": "replace", "path": "/a/1", "value": {"x": 1}}], {"a": [1, {"x": 1}]}),
    ({"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    # move
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    # copy
    ({"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": [1]}, "c": {"b": [1]}}),
    ({"a": [1, 2]}, [{"op": "copy", "from": "/a/0", "path": "/a/-"}], {"a": [1, 2, 1]}),
    # test passes, then the document is unchanged
    ({"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    ({"a": {"x": [1, {"y": None}]}}, [{"op": "test", "path": "/a", "value": {"x": [1, {"y": None}]}}],
     {"a": {"x": [1, {"y": None}]}}),
    ({"a": 1}, [{"op": "test", "path": "/missing", "value": None}], {"a": 1}),
    ({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1}),
    # pointer escaping: ~1 is "/", ~0 is "~"
    ({"a/b": 1, "m~n": 2}, [{"op": "replace", "path": "/a~1b", "value": 3}, {"op": "remove", "path": "/m~0n"}],
     {"a/b": 3}),
    ({}, [{"op": "add", "path": "/~01", "value": "x"}], {"~1": "x"}),
    ({"": {"x": 1}}, [{"op": "replace", "path": "//x", "value": 2}], {"": {"x": 2}}),
    # unknown members of an operation are ignored
    ({"a": 1}, [{"op": "replace", "path": "/a", "value": 2, "extra": True}], {"a": 2}),
    # operations apply in order, each seeing the previous result
    ({"a": []}, [{"op": "add", "path": "/a/-", "value": 1}, {"op": "add", "path": "/a/-", "value": 2},
                 {"op": "test", "path": "/a", "value": [1, 2]}, {"op": "remove", "path": "/a/0"}], {"a": [2]}),
    ({"a": 1}, [], {"a": 1}),
])
def test_operations(doc, patch, expected):
    before = copy.deepcopy(doc)
    assert apply_json_patch(doc, patch) == expected
    assert doc == before  # never modified in place


@pytest.mark.parametrize("doc, patch, detail", [
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "testing value /baz failed: test failed"),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "testing value /a failed: test failed"),
    ({"a": True}, [{"op": "test", "path": "/a", "value": 1}], "testing value /a failed: test failed"),
    ({"a": "1"}, [{"op": "test", "path": "/a", "value": 1}], "testing value /a failed: test failed"),
    ({"a": [1, 2]}, [{"op": "test", "path": "/a", "value": [2, 1]}], "testing value /a failed: test failed"),
    ({"a": 1}, [{"op": "test", "path": "/b", "value": 1}], "testing value /b failed: test failed"),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], 'remove operation does not apply: doc is missing path: "/b"'),
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], "replace operation does not apply: doc is missing key: /b"),
    ({"a": 1}, [{"op": "add", "path": "/b/c", "value": 1}], 'add operation does not apply: doc is missing path: "/b/c"'),
    ({"a": 1}, [{"op": "add", "path": "/a/c", "value": 1}], 'add operation does not apply: doc is missing path: "/a/c"'),
    ({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 1}], "index 5 out of bounds"),
    ({"a": [1]}, [{"op": "add", "path": "/a/x", "value": 1}], 'invalid array index "x"'),
    ({"a": [1]}, [{"op": "remove", "path": "/a/1"}], "index 1 out of bounds"),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], 'invalid array index "-"'),
    ({"a": [1]}, [{"op": "remove", "path": "/a/-3"}], "index -3 out of bounds"),
    ({"a": 1}, [{"op": "move", "from": "/x", "path": "/y"}], 'move operation does not apply: doc is missing path: "/x"'),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], '"from" /a is a prefix of "path" /a/b/c'),
    ({"a": 1}, [{"op": "copy", "from": "/x", "path": "/y"}], 'copy operation does not apply: doc is missing path: "/x"'),
    ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ({"a": 1}, [{"path": "/a"}], "Unexpected kind: unknown"),
    ({"a": 1}, [{"op": "add", "value": 1}], 'add operation is missing "path"'),
    ({"a": 1}, [{"op": "add", "path": "/b"}], 'add operation is missing "value"'),
    ({"a": 1}, [{"op": "move", "path": "/b"}], 'move operation is missing "from"'),
    ({"a": 1}, [{"op": "add", "path": "b", "value": 1}], 'JSON pointer must be empty or start with a "/"'),
    ({"a": 1}, [{"op": "remove", "path": ""}], "cannot remove the whole document"),
])
def test_failures_are_422_and_change_nothing(doc, patch, detail):
    before = copy.deepcopy(doc)
    with pytest.raises(JSONPatchFailed) as caught:
        apply_json_patch(doc, patch)
    error = caught.value
    assert isinstance(error, Invalid)
    assert detail in error.detail
    status = error.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == "the server rejected our request due to an error in our request"
    assert "details" not in status  # as Kubernetes: kubectl prints "The request is invalid: <message>"
    assert doc == before


def test_a_late_failure_undoes_the_earlier_operations():
    doc = {"metadata": {"resourceVersion": "7", "finalizers": ["a"]}}
    patch = [{"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
             {"op": "remove", "path": "/metadata/labels"}]
    with pytest.raises(JSONPatchFailed):
        apply_json_patch(doc, patch)
    assert doc == {"metadata": {"resourceVersion": "7", "finalizers": ["a"]}}


@pytest.mark.parametrize("rv, succeeds", [("103", True), ("104", False)])
def test_kopf_finalizer_patch(rv, succeeds):
    """kopf adds (and later removes) its finalizer guarded by a test of resourceVersion."""
    obj = {"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": "w1", "resourceVersion": "103"}, "spec": {"size": 1}}
    add = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
           {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]}]
    if not succeeds:
        with pytest.raises(JSONPatchFailed, match="testing value /metadata/resourceVersion failed"):
            apply_json_patch(obj, add)
        return
    added = apply_json_patch(obj, add)
    assert added["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    removed = apply_json_patch(added, [{"op": "test", "path": "/metadata/resourceVersion", "value": "103"},
                                       {"op": "remove", "path": "/metadata/finalizers"}])
    assert "finalizers" not in removed["metadata"]


@pytest.mark.parametrize("body", [{"op": "add", "path": "/a", "value": 1}, "add", [1, 2], [{"op": "add"}, "x"], None])
def test_a_body_that_is_not_a_patch_is_400(body):
    with pytest.raises(MalformedJSONPatch) as caught:
        apply_json_patch({}, body)
    assert isinstance(caught.value, BadRequest) and caught.value.code == 400


def test_operation_limit():
    with pytest.raises(MalformedJSONPatch, match="maximum operations"):
        apply_json_patch({}, [{"op": "test", "path": "", "value": {}}] * (MAX_OPERATIONS + 1))


@pytest.mark.parametrize("pointer, parts", [
    ("", []), ("/", [""]), ("/a/b", ["a", "b"]), ("/a~1b/~0c", ["a/b", "~c"]), ("/~01", ["~1"]),
    ("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
     ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]),
])
def test_pointers(pointer, parts):
    assert parse_pointer(pointer) == parts
    assert format_pointer(parts) == pointer


@pytest.mark.parametrize("left, right, equal", [
    (1, 1.0, True), (True, 1, False), (False, 0, False), (None, None, True), ("a", "a", True),
    ({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2.0}]}, True), ({"a": 1}, {"a": 1, "b": None}, False),
    ([1, 2], [2, 1], False), ("1", 1, False),
])
def test_json_equality(left, right, equal):
    assert json_equal(left, right) is equal
