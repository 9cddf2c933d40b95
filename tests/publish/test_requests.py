"""The pure rules of a publication request: the Idempotency-Key, the schedule, the metadata
each platform accepts, the calendar's range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from clipray.domain.errors import CodedError
from clipray.publish import metadata
from clipray.publish.base import PLATFORMS, PostMetadata
from clipray.publish.requests import (
    CALENDAR_MAX_DAYS,
    PRIVACY,
    calendar_range,
    check_key,
    check_schedule,
    prepare_metadata,
    unique_ids,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def code_of(call, *args) -> str:
    with pytest.raises(CodedError) as info:
        call(*args)
    assert info.value.status == 422
    return info.value.code


# --- the schedule ----------------------------------------------------------------------------
def test_a_future_time_with_an_offset_is_kept_in_utc():
    at = datetime(2026, 12, 24, 18, 0, tzinfo=timezone(timedelta(hours=1)))
    assert check_schedule(at, NOW) == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    assert check_schedule(None, NOW) is None


@pytest.mark.parametrize(("at", "code"), [
    pytest.param(datetime(2026, 12, 24, 18, 0), "SCHEDULED_AT_NAIVE", id="naive"),
    pytest.param(NOW, "SCHEDULED_AT_PAST", id="now"),
    pytest.param(NOW - timedelta(minutes=1), "SCHEDULED_AT_PAST", id="past"),
    pytest.param(NOW + timedelta(days=400), "SCHEDULED_AT_TOO_FAR", id="next-year-typo"),
    pytest.param(datetime.max.replace(tzinfo=timezone(timedelta(hours=-12))),
                 "SCHEDULED_AT_TOO_FAR", id="no-utc-time"),
])  # fmt: skip
def test_a_time_that_cannot_be_scheduled_is_refused(at, code):
    assert code_of(check_schedule, at, NOW) == code


# --- the key and the ids ---------------------------------------------------------------------
@pytest.mark.parametrize("key", ["", "with space", "x" * 201, "naïve", "tab\t"])
def test_a_bad_idempotency_key_is_refused(key):
    assert code_of(check_key, key) == "IDEMPOTENCY_KEY_INVALID"


def test_a_good_key_passes_and_none_is_no_key():
    assert check_key("3f1c-8a:retry/1") == "3f1c-8a:retry/1"
    assert check_key(None) is None


def test_ids_lose_their_repeats_in_order_and_are_bounded():
    assert unique_ids(["b", "a", "b"], "clip_ids", 5) == ["b", "a"]
    assert code_of(unique_ids, [], "clip_ids", 5) == "PUBLISH_REQUEST_INVALID"
    assert code_of(unique_ids, list("abcdef"), "clip_ids", 5) == "PUBLISH_REQUEST_INVALID"


# --- metadata per platform -------------------------------------------------------------------
def test_every_platform_has_its_privacy_values():
    assert set(PRIVACY) == set(PLATFORMS)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_what_is_stored_fits_the_platform_and_fitting_it_again_changes_nothing(platform):
    long = PostMetadata(title="T" * 150 + " <launch>", description="déjà vu 🎬 " * 700,
                        hashtags=(*tuple(f"tag{i}" for i in range(40)), "#Tag1"))
    got = prepare_metadata(platform, long)
    limits = metadata.LIMITS[platform]
    assert metadata.measure(got["description"], limits.unit) <= limits.text_max
    assert metadata.measure(got["title"], limits.unit) <= (limits.title_max or limits.text_max)
    assert got["description"].endswith(metadata.ELLIPSIS)
    assert len(got["hashtags"]) == min(40, limits.max_hashtags or 40)  # "#Tag1" is a repeat
    assert all(t.startswith("#") for t in got["hashtags"])
    again = PostMetadata(got["title"], got["description"], tuple(got["hashtags"]))
    assert prepare_metadata(platform, again) == got
    if "<" in limits.forbidden:
        assert "<" not in got["title"]


def test_the_title_falls_back_to_the_clips_and_youtube_needs_one():
    assert prepare_metadata("youtube", PostMetadata(), "Clip title")["title"] == "Clip title"
    assert prepare_metadata("youtube", PostMetadata(title="Mine"), "Clip")["title"] == "Mine"
    assert code_of(prepare_metadata, "youtube", PostMetadata(), "") == "PUBLISH_TITLE_REQUIRED"
    assert prepare_metadata("x", PostMetadata(), "")["title"] == ""


@pytest.mark.parametrize(("platform", "privacy", "ok"), [
    pytest.param("youtube", "unlisted", True, id="youtube-unlisted"),
    pytest.param("youtube", "SELF_ONLY", False, id="youtube-tiktok-value"),
    pytest.param("tiktok", "SELF_ONLY", True, id="tiktok-self-only"),
    pytest.param("linkedin", "CONNECTIONS", True, id="linkedin-connections"),
    pytest.param("x", "public", False, id="x-has-none"),
    pytest.param("instagram", "private", False, id="instagram-has-none"),
])  # fmt: skip
def test_privacy_is_one_of_the_platforms_values(platform, privacy, ok):
    meta = PostMetadata(title="t", privacy=privacy)
    if ok:
        assert prepare_metadata(platform, meta)["privacy"] == privacy
    else:
        assert code_of(prepare_metadata, platform, meta) == "PUBLISH_PRIVACY_INVALID"


def test_a_hashtag_without_a_letter_cannot_be_fixed():
    meta = PostMetadata(title="t", hashtags=("ok", "2026"))
    assert code_of(prepare_metadata, "tiktok", meta) == "PUBLISH_HASHTAG_INVALID"
    fixed = prepare_metadata("tiktok", PostMetadata(title="t", hashtags=("My Tag!", "#ok")))
    assert fixed["hashtags"] == ["#MyTag", "#ok"]


# --- the calendar's range --------------------------------------------------------------------
def test_the_calendar_defaults_to_four_weeks_from_today():
    assert calendar_range(None, None, date(2026, 12, 6)) == (date(2026, 12, 6), date(2027, 1, 2))
    assert calendar_range(date(2026, 1, 1), None, date(2026, 12, 6))[1] == date(2026, 1, 28)
    assert calendar_range(None, date(2026, 12, 6), date(2026, 12, 6)) == (date(2026, 12, 6),) * 2


def test_the_calendar_range_is_bounded_and_ordered():
    first = date(2026, 1, 1)
    last_ok = first + timedelta(days=CALENDAR_MAX_DAYS - 1)
    assert calendar_range(first, last_ok, first) == (first, last_ok)
    assert code_of(calendar_range, first, last_ok + timedelta(days=1),
                   first) == "CALENDAR_RANGE_TOO_LONG"  # fmt: skip
    assert code_of(calendar_range, first, first - timedelta(days=1),
                   first) == "CALENDAR_RANGE_INVALID"  # fmt: skip
    for edge in (date.max, date.min):
        assert code_of(calendar_range, edge, None, first) == "CALENDAR_RANGE_INVALID"
