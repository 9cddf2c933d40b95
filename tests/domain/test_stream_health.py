"""The pure figures of a stream's health: ingest lag against the source's clock anchor, when
a moment of a clip arrived, a clip's event-to-clip latency, percentiles, and the health's
JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipray.domain.streams import (
    StreamHealth,
    arrived_at,
    event_to_clip_s,
    ingest_lag_s,
    percentile,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.mark.parametrize(("now", "received", "end", "anchor", "lag"), [
    pytest.param(100.0, 100.0, 50.0, 50.0, 0.0, id="fresh-real-time"),
    pytest.param(103.0, 100.0, 50.0, 50.0, 3.0, id="nothing-landed-for-3s"),
    pytest.param(100.0, 100.0, 44.0, 50.0, 6.0, id="delivery-fell-6s-behind"),
    pytest.param(100.0, 100.0, 52.0, 50.0, 0.0, id="delivered-faster-than-anchor"),
    pytest.param(99.0, 100.0, 50.0, 50.0, 0.0, id="clock-skew-never-negative"),
])  # fmt: skip
def test_ingest_lag(now, received, end, anchor, lag):
    assert ingest_lag_s(now, received, end, anchor) == pytest.approx(lag)


def test_a_moment_arrives_between_the_clips_edges():
    assert arrived_at(15.0, 10.0, 30.0, at(0), at(20)) == at(5)
    assert arrived_at(5.0, 10.0, 30.0, at(0), at(20)) == at(0)  # clamped to the clip
    assert arrived_at(40.0, 10.0, 30.0, at(0), at(20)) == at(20)
    assert arrived_at(10.0, 10.0, 10.0, at(0), at(20)) == at(20)  # an empty span
    # A stall inside the clip: 20 s of stream took 40 s to arrive; the slope follows it.
    assert arrived_at(20.0, 10.0, 30.0, at(0), at(40)) == at(20)


@pytest.mark.parametrize(("events", "latency"), [
    pytest.param([{"score": 0.8}, {"kind": "energy", "t_start": 12.0, "t_end": 15.0}], 35.0,
                 id="one-event"),
    pytest.param([{"kind": "energy", "t_end": 15.0}, {"kind": "keyword", "t_end": 25.0}],
                 25.0, id="the-last-event-counts"),
    pytest.param([{"score": 0.5}], None, id="no-events"),
    pytest.param([{"kind": "energy", "t_end": 100.0}], 20.0, id="after-the-clip-clamped"),
])  # fmt: skip
def test_event_to_clip(events, latency):
    got = event_to_clip_s(events, 10.0, 30.0, at(0), at(20), at(40))
    assert got == (None if latency is None else pytest.approx(latency))


def test_event_to_clip_needs_received_times_and_is_never_negative():
    assert event_to_clip_s([{"t_end": 15.0}], 10.0, 30.0, None, at(20), at(40)) is None
    assert event_to_clip_s([{"t_end": 15.0}], 10.0, 30.0, at(0), at(20), at(1)) == 0.0


@pytest.mark.parametrize(("values", "q", "expected"), [
    pytest.param([], 50, None, id="empty"),
    pytest.param([7.0], 95, 7.0, id="one"),
    pytest.param([10.0, 20.0, 30.0, 40.0], 50, 25.0, id="median-between"),
    pytest.param([40.0, 10.0, 30.0, 20.0], 95, 38.5, id="p95-unsorted"),
    pytest.param([1.0, 2.0, 3.0], 100, 3.0, id="max"),
])  # fmt: skip
def test_percentile_matches_numpy_linear(values, q, expected):
    assert percentile(values, q) == expected
    if values:
        import numpy as np

        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_health_round_trips_through_json():
    h = StreamHealth(at(1.5), 120.0, 60.0, 1_000_000, 2.5, None)
    raw = h.as_json()
    assert raw["measured_at"] == "2026-12-06T12:00:01.500000+00:00"
    assert StreamHealth.of(raw) == h
