"""Ages print the way kubectl users read them, and odd objects never break a Table."""

from __future__ import annotations

import pytest

from hyperkube.machinery.durations import age, human_duration, now_rfc3339, parse_rfc3339


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0s"), (45, "45s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"),
    (3 * 3600 + 120, "3h2m"), (9 * 3600, "9h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"),
    (800 * 86400, "2y70d"),
])
def test_human_duration_matches_kubectl(seconds, shown):
    assert human_duration(seconds) == shown


def test_age_from_creation_timestamp():
    now = parse_rfc3339("2026-11-25T18:05:00Z")
    assert age({"metadata": {"creationTimestamp": "2026-11-25T18:00:00Z"}}, now) == "5m"
    assert parse_rfc3339(now_rfc3339(now)) == now


@pytest.mark.parametrize("obj", [{}, {"metadata": None}, {"metadata": {"creationTimestamp": 5}},
                                 {"metadata": {"creationTimestamp": "yesterday"}}])
def test_age_of_a_malformed_object_is_unknown(obj):
    assert age(obj, 0.0) == "<unknown>"
