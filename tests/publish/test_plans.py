"""Each platform's upload plan (chunk sizes and counts, part ranges) by its documented rules:
pure arithmetic, checked without a socket."""

from __future__ import annotations

import pytest

from clipray.publish.tiktok import MIN_CHUNK, chunk_plan

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


