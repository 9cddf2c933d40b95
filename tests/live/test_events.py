"""Events, clusters and scores; the scene-rate and chat-velocity detectors; the settings'
refusals."""

from __future__ import annotations

import math
import random

import pytest

from clipray.live.events import Event, EventKind, cluster_events, score_cluster, strength
from clipray.live.settings import (
    ChatConfig,
    LiveConfigError,
    SceneConfig,
    ScoringConfig,
    live_config,
)
from clipray.live.signals import ChatVelocityDetector, SceneRateDetector

pytestmark = pytest.mark.unit

E, K, S, M, C = (EventKind.ENERGY, EventKind.KEYWORD, EventKind.SCENE, EventKind.SENTIMENT,
                 EventKind.CHAT)  # fmt: skip


def ev(kind: EventKind, t0: float, t1: float | None = None, s: float = 1.0) -> Event:
    return Event(kind, t0, t0 + 0.5 if t1 is None else t1, s)


def test_strength_is_half_at_the_threshold_and_full_at_twice_it():
    assert strength(3.0, 3.0) == 0.5
    assert strength(6.0, 3.0) == strength(60.0, 3.0) == 1.0
    assert strength(0.0, 3.0) == 0.0


def test_events_cluster_by_gap_in_any_order():
    events = [ev(E, 10), ev(K, 15), ev(C, 40), ev(M, 20.4), ev(S, 28.0)]
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)  # noqa: S311 (test data, not a secret)
        clusters = cluster_events(shuffled, gap_s=8.0)
        assert [[e.kind for e in c.events] for c in clusters] == [[E, K, M, S], [C]]
        assert (clusters[0].t_start, clusters[0].t_end) == (10, 28.5)


def test_a_cluster_never_grows_past_its_longest_span():
    chatter = [ev(C, float(t)) for t in range(0, 100, 5)]
    clusters = cluster_events(chatter, gap_s=8.0, max_cluster_s=30.0)
    assert all(c.t_end - c.t_start <= 30.0 for c in clusters)
    assert sum(len(c.events) for c in clusters) == len(chatter)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([ev(E, 0)], 0.30, id="energy-alone"),
        pytest.param([ev(K, 0)], 0.25, id="keyword-alone"),
        pytest.param([ev(S, 0)], 0.15, id="scene-alone"),
        pytest.param([ev(M, 0)], 0.15, id="sentiment-alone"),
        pytest.param([ev(C, 0)], 0.15, id="chat-alone"),
        pytest.param([ev(E, 0), ev(K, 1), ev(S, 2), ev(M, 3), ev(C, 4)], 1.0, id="all-five"),
        pytest.param([ev(E, 0, s=0.5), ev(E, 1, s=0.5)], 0.30 * 0.75, id="noisy-or"),
        pytest.param([ev(K, 0, s=0.6), ev(C, 1, s=0.5)], 0.25 * 0.6 + 0.15 * 0.5, id="mixed"),
    ],
)
def test_score_weights_as_the_plan_says(events: list[Event], expected: float):
    [cluster] = cluster_events(events, gap_s=8.0)
    score = score_cluster(cluster, now=cluster.t_end, cfg=ScoringConfig())
    assert score.total == pytest.approx(expected)
    assert score.decay == 1.0


def test_score_decays_with_age_and_weights_come_from_settings():
    [cluster] = cluster_events([ev(E, 0.0, 1.0), ev(C, 2.0, 3.0)], gap_s=8.0)
    fresh = score_cluster(cluster, now=3.0, cfg=ScoringConfig()).total
    assert score_cluster(cluster, now=3.0 + 8.0, cfg=ScoringConfig()).total == fresh
    old = score_cluster(cluster, now=3.0 + 8.0 + 120.0, cfg=ScoringConfig()).total
    assert old == pytest.approx(fresh / 2)
    chat_heavy = live_config({"scoring": {"weights": {"energy": 0.1, "chat": 0.9}}}).scoring
    assert score_cluster(cluster, now=3.0, cfg=chat_heavy).total == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"window": {"min_duration": 50, "max_duration": 20}}, "window",
                     id="min-over-max"),
        pytest.param({"scoring": {"weights": {"energy": -1}}}, "scoring.weights.energy",
                     id="negative-weight"),
        pytest.param({"chat": {"ratio": 0.5}}, "chat.ratio", id="ratio-under-one"),
        pytest.param({"window": {"max_clips_per_hour": 0}}, "window.max_clips_per_hour",
                     id="no-clips"),
        pytest.param({"nonsense": 1}, "nonsense", id="unknown-field"),
    ],
)
def test_bad_settings_are_refused_with_a_code_and_the_field(overrides: dict, field: str):
    with pytest.raises(LiveConfigError) as err:
        live_config(overrides)
    assert err.value.code == "LIVE_CONFIG_INVALID"
    assert err.value.status == 422
    assert field in [p["field"] for p in err.value.detail]


def test_chat_velocity_rises_against_the_channels_own_baseline():
    """A channel chatting at 2 messages a second for two minutes, then 20 a second for 8 s:
    one spike, placed on the flood (its start moved back by the reaction time)."""
    det = ChatVelocityDetector(ChatConfig())
    rng = random.Random(1)  # noqa: S311 (test data, not a secret)
    times = sorted(rng.uniform(0, 120) for _ in range(240))
    times += sorted(rng.uniform(120, 128) for _ in range(160))
    times += sorted(rng.uniform(128, 180) for _ in range(104))
    events = det.feed(times) + det.advance(180.0)
    [spike] = events
    assert spike.kind is EventKind.CHAT
    assert 120 - 6 - 1 <= spike.t_start <= 120 - 6 + 1
    assert 128 <= spike.t_end <= 134
    assert spike.detail["baseline_per_s"] == pytest.approx(2.0, abs=0.6)
    assert spike.detail["rate_per_s"] >= 15


def test_a_busy_channel_at_its_usual_pace_has_no_spike_and_a_quiet_one_needs_a_minimum():
    busy = ChatVelocityDetector(ChatConfig())
    rng = random.Random(2)  # noqa: S311 (test data, not a secret)
    assert busy.feed(sorted(rng.uniform(0, 300) for _ in range(3000))) == []
    assert busy.advance(300.0) == []
    quiet = ChatVelocityDetector(ChatConfig())
    # 2 messages after a long silence are a big ratio but no spike (min_rate 0.5/s)
    assert quiet.feed([30.0, 60.0, 61.0]) + quiet.advance(90.0) == []


def test_scene_cuts_burst_against_the_streams_average():
    det = SceneRateDetector(SceneConfig())
    steady = [float(t) for t in range(0, 200, 20)]  # a cut every 20 s
    burst = [200.0, 201.5, 203.0, 204.0, 205.5, 207.0]
    events = det.feed(steady + burst + [260.0]) + det.flush()
    [e] = events
    assert e.kind is EventKind.SCENE
    assert (e.t_start, e.t_end) == (200.0, 207.0)
    assert e.detail["cuts"] >= 3
    assert det.feed([250.0]) == []  # earlier than the newest cut: ignored


def test_non_finite_times_are_refused():
    det = ChatVelocityDetector(ChatConfig())
    with pytest.raises(ValueError, match="finite") as err:
        det.feed([math.nan])
    assert err.value.code == "LIVE_INPUT_INVALID"  # type: ignore[attr-defined]
