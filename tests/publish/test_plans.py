"""Each platform's upload plan (chunk sizes and counts, part ranges) by its documented rules:
pure arithmetic, checked without a socket."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from clipray.publish.base import MediaRejected, PlatformOff, PlatformSettings, PublishSettings
from clipray.publish.http import retry_after_s
from clipray.publish.linkedin import seconds_to_utc_midnight
from clipray.publish.registry import adapter_for
from clipray.publish.tiktok import MIN_CHUNK, chunk_plan
from clipray.publish.x import segment_plan

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("size", "wanted", "plan"), [
    pytest.param(3_000_000, 8 << 20, (3_000_000, 1), id="under-5MB-whole"),
    pytest.param(21_000_000, 1 << 20, (MIN_CHUNK, 4), id="raised-to-5MB"),
    pytest.param(21_000_000, 8 << 20, (8 << 20, 2), id="last-takes-remainder"),
    pytest.param(400 << 20, 128 << 20, (64 << 20, 6), id="capped-at-64MB"),
])
def test_chunk_plan_follows_tiktoks_rules(size: int, wanted: int, plan: tuple[int, int]) -> None:
    chunk, count = chunk_plan(size, wanted)
    assert (chunk, count) == plan
    assert size - chunk * (count - 1) <= 128 << 20




@pytest.mark.parametrize(("size", "wanted", "plan"), [
    pytest.param(21_000_000, 8 << 20, (4 << 20, 6), id="capped-at-4MiB"),
    pytest.param(1_000, 8 << 20, (4 << 20, 1), id="small-one-segment"),
    pytest.param(21_000_000, 1 << 20, (1 << 20, 21), id="smaller-wanted"),
])
def test_x_segment_plan(size: int, wanted: int, plan: tuple[int, int]) -> None:
    assert segment_plan(size, wanted) == plan


def test_x_refuses_a_file_needing_more_than_1000_segments() -> None:
    with pytest.raises(MediaRejected):
        segment_plan(5_000_000_000, 4 << 20)


def test_the_linkedin_daily_limit_reopens_at_utc_midnight() -> None:
    assert seconds_to_utc_midnight(datetime(2026, 3, 1, 23, 0, tzinfo=UTC)) == 3600


@pytest.mark.parametrize(("headers", "seconds"), [
    pytest.param({"retry-after": "120"}, 120.0, id="retry-after-seconds"),
    pytest.param({"retry-after": "Sun, 01 Mar 2026 00:01:00 GMT"}, 60.0, id="retry-after-date"),
    pytest.param({"x-rate-limit-reset": "1772323290"}, 90.0, id="x-rate-limit-reset"),
    pytest.param({}, None, id="none"),
])
def test_retry_time_from_headers(headers: dict[str, str], seconds: float | None) -> None:
    r = httpx.Response(429, headers=headers)
    now = datetime(2026, 3, 1, 0, 0, tzinfo=UTC).timestamp()
    assert retry_after_s(r, now=now) == seconds


@pytest.mark.parametrize("platform", ["tiktok", "instagram", "x", "linkedin"])
def test_the_registry_builds_each_adapter_and_refuses_an_unconfigured_one(platform: str) -> None:
    on = PlatformSettings(client_id="c", client_secret="s")
    adapter = adapter_for(platform, PublishSettings(**{platform: on}))
    assert adapter.platform == platform
    assert adapter.settings is on
    with pytest.raises(PlatformOff) as off:
        adapter_for(platform, PublishSettings())
    assert off.value.code == "PLATFORM_OFF"
