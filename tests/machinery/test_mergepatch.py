"""RFC 7386 merge patch: applying (the RFC's own examples) and computing patches."""

import copy

import pytest

from hyperkube.machinery.mergepatch import apply_merge_patch, create_merge_patch, create_three_way_merge_patch

RFC_7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, expected", RFC_7386_EXAMPLES)
def test_rfc_examples(target, patch, expected):
    before = copy.deepcopy(target)
    assert apply_merge_patch(target, patch) == expected
    assert target == before


@pytest.mark.parametrize("target, patch, expected", [
    # kubectl label / annotate
    ({"metadata": {"name": "web", "labels": {"app": "web"}}}, {"metadata": {"labels": {"x": "y"}}},
     {"metadata": {"name": "web", "labels": {"app": "web", "x": "y"}}}),
    ({"metadata": {"labels": {"app": "web", "x": "y"}}}, {"metadata": {"labels": {"x": None}}},
     {"metadata": {"labels": {"app": "web"}}}),
    # kubectl scale on /scale
    ({"spec": {"replicas": 1}, "status": {"replicas": 1}}, {"spec": {"replicas": 3}},
     {"spec": {"replicas": 3}, "status": {"replicas": 1}}),
    # lists are replaced, never merged (the reason strategic merge patch exists)
    ({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}, {"spec": {"containers": [{"name": "c"}]}},
     {"spec": {"containers": [{"name": "c"}]}}),
    # a patch value that is an object replaces a scalar
    ({"a": 1}, {"a": {"b": None, "c": 2}}, {"a": {"c": 2}}),
])
def test_kubernetes_uses(target, patch, expected):
    assert apply_merge_patch(target, patch) == expected


@pytest.mark.parametrize("original, modified, patch", [
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {}, {"a": None}),
    ({}, {"a": {"b": [1]}}, {"a": {"b": [1]}}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3, "d": 4}}, {"a": {"c": 3, "d": 4}}),
    ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
    ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    ({"a": 1}, {"a": 1.0}, {}),
    ({"a": True}, {"a": 1}, {"a": 1}),
    ([1], {"a": 1}, {"a": 1}),
])
def test_create_merge_patch(original, modified, patch):
    assert create_merge_patch(original, modified) == patch
    assert apply_merge_patch(original, patch) == modified


def test_three_way_patch_for_custom_resources():
    """kubectl apply of a CR: removes what the file dropped, keeps what others added."""
    last_applied = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                    "spec": {"size": 1, "color": "red", "tags": ["a"]}}
    new_file = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": 2, "tags": ["a"]}}
    live = {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "resourceVersion": "9", "labels": {"team": "x"}},
            "spec": {"size": 1, "color": "red", "tags": ["a"], "owner": "ops"}, "status": {"ok": True}}
    patch = create_three_way_merge_patch(last_applied, new_file, live)
    assert patch == {"spec": {"size": 2, "color": None}}
    result = apply_merge_patch(live, patch)
    assert result["spec"] == {"size": 2, "tags": ["a"], "owner": "ops"}
    assert result["metadata"]["labels"] == {"team": "x"}
    assert create_three_way_merge_patch(new_file, new_file, result) == {}


def test_three_way_patch_restores_a_field_someone_changed():
    config = {"spec": {"size": 2}}
    live = {"spec": {"size": 5}}
    assert create_three_way_merge_patch(config, config, live) == {"spec": {"size": 2}}
    assert create_three_way_merge_patch(None, config, {"spec": {}}) == {"spec": {"size": 2}}
