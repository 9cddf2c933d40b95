"""The domain's error model and time helpers: pure, no services."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from clipray.domain import (
    CodedError,
    DependencyMissing,
    NotFound,
    RateLimited,
    Unavailable,
    as_utc,
    new_id,
    rfc3339,
)
from clipray.domain.errors import not_found

pytestmark = pytest.mark.unit


def test_status_and_retryable_come_from_the_class_and_can_be_overridden() -> None:
    assert (CodedError("X", "m").status, CodedError("X", "m").retryable) == (422, False)
    assert NotFound("JOB_NOT_FOUND", "gone").status == 404
    assert Unavailable("S3_DOWN", "down").retryable is True
    assert CodedError("X", "m", status=409, retryable=True).status == 409
    assert CodedError("X", "m", status=409, retryable=True).retryable is True
    assert CodedError.status == 422, "an instance override must not change the class"


def test_rate_limited_carries_retry_after_as_a_header() -> None:
    exc = RateLimited("QUOTA_CONCURRENT_JOBS", "too many", retry_after=30)
    assert (exc.status, exc.headers) == (429, {"Retry-After": "30"})


def test_dependency_missing_is_503_with_the_fix() -> None:
    exc = DependencyMissing("ffprobe", "apt-get install -y ffmpeg")
    assert (exc.code, exc.status, exc.retryable) == ("DEPENDENCY_MISSING", 503, False)
    assert "apt-get install -y ffmpeg" in exc.message
    assert exc.detail == {"tool": "ffprobe"}


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(CodedError("MEDIA_CORRUPT", "bad", detail={"f": 1}), id="base"),
        pytest.param(RateLimited("RATE", "slow down", retry_after=5), id="rate-limited"),
        pytest.param(DependencyMissing("ffmpeg", "install it"), id="dependency"),
        pytest.param(CodedError("X", "m", status=409, retryable=True), id="overridden"),
    ],
)
def test_errors_survive_pickling_as_ray_sends_them(exc: CodedError) -> None:
    back = pickle.loads(pickle.dumps(exc))  # noqa: S301  (our own bytes, as Ray does)
    assert type(back) is type(exc)
    assert (back.code, back.message, back.status, back.retryable, back.detail, back.headers) == (
        exc.code, exc.message, exc.status, exc.retryable, exc.detail, exc.headers)  # fmt: skip
    assert str(back) == str(exc)


def test_not_found_names_the_kind() -> None:
    exc = not_found("job", "abc")
    assert (exc.code, exc.status, exc.message) == ("JOB_NOT_FOUND", 404, "job abc not found")


def test_rfc3339_always_has_an_offset_and_is_the_same_for_naive_and_aware() -> None:
    aware = datetime(2026, 12, 1, 8, 30, 5, 120000, tzinfo=UTC)
    naive = aware.replace(tzinfo=None)
    other_zone = aware.astimezone(timezone(timedelta(hours=-5)))
    assert rfc3339(aware) == rfc3339(naive) == rfc3339(other_zone) == "2026-12-01T08:30:05.120000Z"
    assert datetime.fromisoformat(rfc3339(aware)) == aware
    assert as_utc(other_zone).utcoffset() == timedelta(0)


def test_ids_are_32_hex_and_unique() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
