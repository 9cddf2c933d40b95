"""The retention policy, pure: what is due, what is an orphan, when the first sweep runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipray.clips.retention import (
    StoredObject,
    abandoned_cutoff,
    expires_in_days,
    expiry,
    generated_prefix,
    is_due,
    is_upload_key,
    orphans,
    seconds_until_sweep,
    stray_uploads,
)

pytestmark = pytest.mark.unit

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


# --- unconfirmed uploads and the first sweep ---------------------------------------------
UP1, UP2 = f"{WS}/uploads/{C1}/upload.mp4", f"{WS}/uploads/{C2}/upload.webm"
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("key", "upload"),
    [
        pytest.param(UP1, True, id="upload"),
        pytest.param(f"{WS}/sources/{C1}/original.mp4", False, id="a-source"),
        pytest.param(f"{WS}/uploads/{C1}/deeper/upload.mp4", False, id="too-deep"),
        pytest.param(f"{WS}/uploads/upload.mp4", False, id="no-upload-id"),
        pytest.param(f"{WS}/clips/{C1}/clip.mp4", False, id="a-generated-clip"),
    ],
)
def test_only_keys_in_the_upload_layout_are_uploads(key, upload):
    assert is_upload_key(key) is upload


def test_a_reservation_is_abandoned_only_after_its_expiry_and_the_grace():
    cutoff = abandoned_cutoff(NOW, HOUR)
    expired_long_ago, expired_just_now = NOW - 2 * HOUR, NOW - timedelta(minutes=5)
    assert expired_long_ago <= cutoff  # cleared
    assert not expired_just_now <= cutoff  # an upload begun before expiry may be arriving


def test_stray_uploads_are_old_unreserved_upload_objects():
    objects = [
        StoredObject(UP1, 10, NOW - 3 * HOUR),  # old, unreserved: stray
        StoredObject(UP2, 20, NOW - 3 * HOUR),  # old but reserved: the keeper's other pass
        StoredObject(f"{WS}/uploads/{C2}/upload.mp4", 30, NOW - HOUR),  # too young
        StoredObject(f"{WS}/sources/{C1}/original.mp4", 40, NOW - 9 * HOUR),  # not an upload
        StoredObject(f"{WS}/uploads/{'d' * 32}/upload.mkv", 50, None),  # no date: old enough
    ]
    got = stray_uploads(objects, {UP2}, NOW, 2 * HOUR)
    assert [o.size for o in got] == [10, 50]


@pytest.mark.parametrize(
    ("last", "wait"),
    [
        pytest.param(None, 0.0, id="never-swept"),
        pytest.param(NOW - 2 * HOUR, 0.0, id="older-than-the-interval"),
        pytest.param(NOW - HOUR, 0.0, id="exactly-an-interval"),
        pytest.param(NOW - timedelta(minutes=15), 2700.0, id="recent"),
        pytest.param(NOW, 3600.0, id="just-now"),
        pytest.param(NOW + HOUR, 3600.0, id="in-the-future"),
    ],
)
def test_a_starting_keeper_waits_only_the_rest_of_the_interval(last, wait):
    assert seconds_until_sweep(last, NOW, 3600.0) == wait
