"""The retention policy, pure: what is due, what is an orphan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipray.clips.retention import (
    StoredObject,
    expires_in_days,
    expiry,
    generated_prefix,
    is_due,
    orphans,
)

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
WS, C1, C2 = "a" * 32, "b" * 32, "c" * 32


@pytest.mark.parametrize(
    ("status", "offset", "due"),
    [
        pytest.param("available", -1, True, id="available-expired"),
        pytest.param("available", 0, True, id="available-expiring-now"),
        pytest.param("available", 1, False, id="available-not-yet"),
        pytest.param("kept", -1, False, id="kept-never"),
        pytest.param("published", -1, False, id="published-never"),
        pytest.param("purged", -1, False, id="purged-already"),
    ],
)
def test_only_available_clips_past_their_time_are_due(status, offset, due):
    assert is_due(status, NOW + timedelta(seconds=offset), NOW) is due


def test_expiry_and_days_left():
    at = expiry(NOW, 7)
    assert at == NOW + timedelta(days=7)
    assert expires_in_days(at, NOW) == 7.0
    assert expires_in_days(at, NOW + timedelta(days=8)) == -1.0
    assert expires_in_days(None, NOW) is None
    assert not is_due("available", None, NOW)


def test_generated_prefix_names_only_generated_files():
    assert generated_prefix(f"{WS}/clips/{C1}/clip.mp4") == f"{WS}/clips/{C1}/"
    assert generated_prefix(f"{WS}/sources/{C1}/original.mp4") is None
    assert generated_prefix(f"{WS}/clips/{C1}/nested/clip.mp4") is None
    assert generated_prefix("clip.mp4") is None


def test_orphans_are_unowned_generated_files_past_the_grace():
    old, young = NOW - timedelta(hours=2), NOW - timedelta(minutes=5)
    objects = [
        StoredObject(f"{WS}/clips/{C1}/clip.mp4", 10, old),  # owned by a live row
        StoredObject(f"{WS}/clips/{C2}/clip.mp4", 20, old),  # orphan
        StoredObject(f"{WS}/clips/{C2}/thumbnail.jpg", 5, young),  # too young to judge
        StoredObject(f"{WS}/sources/{C2}/original.mp4", 99, old),  # not a generated file
    ]
    found = orphans(objects, {f"{WS}/clips/{C1}/"}, NOW, timedelta(hours=1))
    assert [o.key for o in found] == [f"{WS}/clips/{C2}/clip.mp4"]
