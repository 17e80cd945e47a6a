"""Label and field selectors as the list/watch handlers and controllers use them."""

import pytest

from hyperkube.machinery.errors import BadRequest
from hyperkube.machinery.selectors import (
    check_field_labels,
    label_selector_from_dict,
    label_selector_from_set,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "frontend", "version": "3", "empty": ""}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),
    ("tier in (frontend, backend)", True),
    ("tier in (backend)", False),
    ("tier notin (backend)", True),
    ("missing notin (x)", True),
    ("tier notin (frontend,backend)", False),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app=web,tier=frontend", True),
    ("app=web,tier=backend", False),
    ("app=web, !canary, tier in (frontend)", True),
    ("empty=", True),
    ("version>2", True),
    ("version<2", False),
    ("example.com/role in (a,b)", False),
])
def test_label_selector_string_form(text, expected):
    assert parse_label_selector(text).matches(LABELS) is expected


def test_label_selector_prints_back_and_matches_objects():
    selector = parse_label_selector("tier in (b,a),app=web,!canary")
    assert str(selector) == "app=web,!canary,tier in (a,b)"
    assert parse_label_selector(str(selector)).matches({"app": "web", "tier": "a"})
    assert selector.matches_object({"metadata": {"labels": {"app": "web", "tier": "b"}}})
    assert not selector.matches_object({"metadata": {}})
    assert parse_label_selector("").empty and parse_label_selector(None).matches(None)


@pytest.mark.parametrize("text, message", [
    ("app web", "unable to parse requirement: found 'web', expected: '=', '!=', '==', 'in', notin'"),
    ("=web", "found '=', expected: !, identifier, or 'end of string'"),
    ("app=web,", "found '', expected: identifier after ','"),
    ("app=web,=x", "found '=', expected: identifier after ','"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("app in a", "unable to parse requirement: found 'a' expected: '('"),
    ("app in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
    ("app=(x", "unable to parse requirement: found '(', expected: identifier"),
    ("x/y/z=1", 'unable to parse requirement: key: Invalid value: "x/y/z"'),
    ("app=-bad-", 'unable to parse requirement: values[0][-bad-]: Invalid value: "-bad-"'),
    ("version>abc", "must be an integer"),
])
def test_label_selector_syntax_errors_are_400(text, message):
    with pytest.raises(BadRequest) as raised:
        parse_label_selector(text)
    assert raised.value.code == 400
    assert message in raised.value.message


def test_empty_members_of_a_value_set_are_empty_strings():
    assert parse_label_selector("app in ()").matches({"app": ""})
    assert parse_label_selector("app notin ()").matches({"app": "x"})
    assert parse_label_selector("app in (a,,b)").requirements[0].values == {"a", "", "b"}
    assert parse_label_selector("app in (,a)").requirements[0].values == {"a", ""}


def test_label_selector_from_dict():
    selector = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["frontend", "backend"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "version", "operator": "Exists"},
            {"key": "zone", "operator": "NotIn", "values": ["b"]},
        ]})
    assert selector.matches(LABELS)
    assert not selector.matches({**LABELS, "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "frontend"})
    assert label_selector_from_dict({}).matches({})  # empty selects everything
    assert not label_selector_from_dict(None).matches({})  # nil selects nothing
    with pytest.raises(BadRequest):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Near"}]})
    with pytest.raises(BadRequest):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


FIELDS = {"metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "", "status.phase": "Running"}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("metadata.name=web", True),
    ("metadata.name==web", True),
    ("metadata.name!=web", False),
    ("metadata.name=web,status.phase=Running", True),
    ("metadata.name=web,status.phase!=Running", False),
    ("spec.nodeName=", True),
    ("spec.nodeName!=", False),
    ("involvedObject.uid=x", False),  # a missing field counts as ""
])
def test_field_selector(text, expected):
    assert parse_field_selector(text).matches(FIELDS) is expected


def test_field_selector_escapes_and_errors():
    selector = parse_field_selector(r"metadata.name=a\,b\=c")
    assert selector.matches({"metadata.name": "a,b=c"})
    assert parse_field_selector(str(selector)).terms == selector.terms
    assert parse_field_selector("spec.nodeName=n1").requires_exact("spec.nodeName") == "n1"
    with pytest.raises(BadRequest) as raised:
        parse_field_selector("metadata.name")
    assert raised.value.message == "invalid selector: 'metadata.name'; can't understand 'metadata.name'"


def test_field_labels_outside_the_allowed_set_are_400():
    check_field_labels(parse_field_selector("metadata.name=a,spec.nodeName=n"), ["spec.nodeName"])
    with pytest.raises(BadRequest) as raised:
        check_field_labels(parse_field_selector("metadata.name=a,spec.foo=b"), ["spec.nodeName"])
    assert raised.value.message == "field label not supported: spec.foo"
    assert raised.value.to_status()["code"] == 400


def test_label_selector_from_set():
    selector = label_selector_from_set({"app": "web", "tier": "frontend"})
    assert selector.matches(LABELS) and not selector.matches({"app": "web"})
    assert str(selector) == "app=web,tier=frontend"
    assert label_selector_from_set(None).matches({}) and label_selector_from_set({}).empty
