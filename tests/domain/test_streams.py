"""Live streams' vocabulary: settings bounds, what each control does in each state, the
quota decision, and when a lease or a heartbeat has lapsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipray.domain.errors import RateLimited
from clipray.domain.streams import (
    LIVE,
    RUNNABLE,
    Control,
    MonitorSettings,
    MonitorStatus,
    StreamSettingsError,
    StreamStateError,
    after,
    can,
    check_stream_quota,
    heartbeat_stale,
    lease_lapsed,
)

pytestmark = pytest.mark.unit

S = MonitorStatus
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_defaults_and_round_trip():
    chosen = MonitorSettings.of({"keywords": ["goal", " goal ", "wow"], "max_duration": 30})
    assert chosen.keywords == ("goal", "wow")  # stripped, duplicates dropped, order kept
    assert chosen.max_duration == 30.0
    assert isinstance(chosen.max_duration, float)
    assert MonitorSettings.of(chosen.as_json()) == chosen
    assert MonitorSettings.of(None) == MonitorSettings()


@pytest.mark.parametrize("raw", [
    pytest.param({"min_duration": 4}, id="min-below-5s"),
    pytest.param({"max_duration": 181}, id="max-above-180s"),
    pytest.param({"min_duration": 40, "max_duration": 20}, id="min-above-max"),
    pytest.param({"min_duration": True}, id="bool-is-not-seconds"),
    pytest.param({"keywords": "goal"}, id="keywords-a-string"),
    pytest.param({"keywords": [""]}, id="empty-keyword"),
    pytest.param({"keywords": ["a\nb"]}, id="keyword-with-newline"),
    pytest.param({"keywords": ["x" * 65]}, id="keyword-too-long"),
    pytest.param({"keywords": [f"k{i}" for i in range(51)]}, id="too-many-keywords"),
    pytest.param({"aspect": "4:3"}, id="unknown-aspect"),
    pytest.param({"caption_style": "comic"}, id="unknown-caption-style"),
    pytest.param({"max_clips_per_hour": 0}, id="no-clips-per-hour"),
    pytest.param({"max_clips_per_hour": 121}, id="too-many-clips-per-hour"),
    pytest.param({"max_clips_per_hour": 2.5}, id="fractional-clips"),
    pytest.param({"max_clip": 3}, id="misspelt-option"),
])  # fmt: skip
def test_out_of_bounds_settings_are_refused_with_a_code(raw):
    with pytest.raises(StreamSettingsError) as err:
        MonitorSettings.of(raw)
    assert err.value.code == "STREAM_SETTINGS_INVALID"
    assert err.value.status == 422


# Each control, spelled out by hand: the state it applies in -> the state it leads to.
MOVES = {
    Control.PAUSE: {S.IDLE: S.PAUSED, S.CONNECTING: S.PAUSED, S.ACTIVE: S.PAUSED},
    Control.RESUME: {S.PAUSED: S.IDLE, S.ERROR: S.IDLE},
    Control.STOP: {S.IDLE: S.STOPPED, S.CONNECTING: S.STOPPED, S.ACTIVE: S.STOPPED,
                   S.PAUSED: S.STOPPED, S.ERROR: S.STOPPED},
}  # fmt: skip
REFUSED = {Control.PAUSE: "STREAM_NOT_PAUSABLE", Control.RESUME: "STREAM_NOT_RESUMABLE",
           Control.STOP: "STREAM_NOT_STOPPABLE"}  # fmt: skip


@pytest.mark.parametrize(("control", "status"), [
    pytest.param(c, s, id=f"{c}-{s}") for c in Control for s in MonitorStatus])  # fmt: skip
def test_controls_by_state(control, status):
    expected = MOVES[control].get(status)
    assert can(control, status) is (expected is not None)
    if expected is None:
        with pytest.raises(StreamStateError) as err:
            after(control, status)
        assert err.value.status == 409
        assert err.value.code == REFUSED[control]
    else:
        assert after(control, status) is expected


def test_runnable_and_live_states():
    assert {S.IDLE, S.CONNECTING, S.ACTIVE} == RUNNABLE
    assert set(MonitorStatus) - {S.STOPPED} == LIVE


@pytest.mark.parametrize(("ws", "cluster", "code"), [
    pytest.param(2, 10, None, id="room-left"),
    pytest.param(3, 10, "STREAM_QUOTA_EXCEEDED", id="workspace-full"),
    pytest.param(0, 20, "STREAM_CAPACITY_EXCEEDED", id="cluster-full"),
    pytest.param(3, 20, "STREAM_QUOTA_EXCEEDED", id="both-full-workspace-first"),
])  # fmt: skip
def test_stream_quota(ws, cluster, code):
    if code is None:
        check_stream_quota(ws, 3, cluster, 20, 60)
        return
    with pytest.raises(RateLimited) as err:
        check_stream_quota(ws, 3, cluster, 20, 60)
    assert err.value.code == code
    assert err.value.status == 429
    assert err.value.headers == {"Retry-After": "60"}


def test_lease_lapses_at_its_expiry():
    assert lease_lapsed(None, T0)
    assert not lease_lapsed(T0 + timedelta(seconds=1), T0)
    assert lease_lapsed(T0, T0)


def test_heartbeat_stale_counts_from_the_last_beat_or_gives_a_new_worker_its_start():
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    # no beat yet: the start allowance (60 s), not the heartbeat timeout (30 s)
    assert not heartbeat_stale(None, T0, at(60), 30, 60)
    assert heartbeat_stale(None, T0, at(61), 30, 60)
    # a beat from before this worker started (its predecessor's) does not count
    assert not heartbeat_stale(at(-100), T0, at(60), 30, 60)
    assert heartbeat_stale(at(-100), T0, at(61), 30, 60)
    # once it beats, the heartbeat timeout
    assert not heartbeat_stale(at(20), T0, at(50), 30, 60)
    assert heartbeat_stale(at(20), T0, at(51), 30, 60)
