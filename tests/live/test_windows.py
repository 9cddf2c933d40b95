"""Clip windows: within the monitor's durations, on sentence edges of the real LJSpeech
transcript, the same for the same cluster, never emitted twice, capped per hour; the
re-ranking hook can reorder and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from clipray.live.events import Cluster, Event, EventKind, cluster_events
from clipray.live.settings import WindowConfig
from clipray.live.text import SentenceTracker
from clipray.live.windows import ClipWindow, WindowPlanner, rerank, window_for, window_key
from tests.live import transcript

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def ljspeech():
    words = transcript.words()
    sentences = list(SentenceTracker(pause_s=0.8).feed(words))
    return sentences, words


def cluster(*spans: tuple[float, float], kind: EventKind = EventKind.ENERGY) -> Cluster:
    [c] = cluster_events([Event(kind, a, b, 1.0) for a, b in spans], gap_s=60.0)
    return c


@pytest.mark.parametrize(
    "spans",
    [
        pytest.param(((100.0, 101.5),), id="short-burst"),
        pytest.param(((60.0, 61.0), (70.0, 72.0)), id="two-events"),
        pytest.param(((20.0, 21.0), (40.0, 42.0), (75.0, 76.0), (95.0, 96.0)), id="long-run"),
        pytest.param(((2.0, 3.0),), id="near-stream-start"),
        pytest.param(((228.0, 229.0),), id="near-media-end"),
    ],
)
@pytest.mark.parametrize(
    "cfg",
    [
        pytest.param(WindowConfig(), id="15-60s"),
        pytest.param(WindowConfig(min_duration=20, max_duration=30), id="20-30s"),
        pytest.param(WindowConfig(min_duration=8, max_duration=12, snap_s=2), id="8-12s"),
    ],
)
def test_window_fits_durations_holds_the_peak_and_snaps_to_sentences(ljspeech, spans, cfg):
    sentences, words = ljspeech
    c = cluster(*spans)
    start, end, s_snap, e_snap = window_for(c, sentences, words, cfg, media=(0.0, 231.05))
    assert cfg.min_duration - 1e-6 <= end - start <= cfg.max_duration + 1e-6
    assert 0.0 <= start <= c.peak.t_start
    assert end <= 231.05
    assert end >= c.peak.t_end or end - start >= cfg.max_duration - 1e-6
    starts = {round(s.start, 4) for s in sentences}
    ends = {round(s.end, 4) for s in sentences}
    assert s_snap == (round(start, 4) in starts)
    assert e_snap == (round(end, 4) in ends)
    # an edge that did not snap still cuts no word in two
    for w in words:
        assert not (w.start < start < w.end)
        assert not (w.start < end < w.end)


def test_a_burst_inside_a_sentence_grows_by_whole_sentences(ljspeech):
    """A burst at 100.0-101.5 s falls in LJ001-0015 (96.18-105.42 s, the shared media's
    ground truth): pre- and post-roll snap to that sentence's edges, and as 9.2 s is under
    the 15 s minimum the window takes in the sentence before (LJ001-0014, from 85.94 s)."""
    sentences, words = ljspeech
    start, end, s_snap, e_snap = window_for(cluster((100.0, 101.5)), sentences, words,
                                            WindowConfig(), media=(0.0, 231.05))  # fmt: skip
    assert (s_snap, e_snap) == (True, True)
    truth = {round(a, 1): (a, b) for a, b, _ in transcript.sentences()}
    assert start == pytest.approx(truth[85.9][0], abs=1e-3)
    assert end == pytest.approx(truth[96.2][1] - 0.02, abs=0.001)  # its last word's end


def test_without_a_transcript_the_window_is_the_raw_pre_and_post_roll():
    c = cluster((100.0, 101.5))
    start, end, s_snap, e_snap = window_for(c, [], [], WindowConfig(min_duration=5))
    assert (start, end, s_snap, e_snap) == (94.0, 104.5, False, False)


def test_the_same_cluster_gives_the_same_window_and_key(ljspeech):
    sentences, words = ljspeech
    c = cluster((60.0, 61.0), (70.0, 72.0))
    first = window_for(c, sentences, words, WindowConfig(), media=(0.0, 231.05))
    again = window_for(cluster((70.0, 72.0), (60.0, 61.0)), list(sentences), list(words),
                       WindowConfig(), media=(0.0, 231.05))  # fmt: skip
    assert first == again
    assert window_key("mon-1", *first[:2]) == window_key("mon-1", *again[:2])
    assert window_key("mon-1", 10.0, 20.0) == window_key("mon-1", 10.0 + 1e-9, 20.0 - 1e-9)
    assert window_key("mon-1", 10.0, 20.0) != window_key("mon-2", 10.0, 20.0)


def win(planner: WindowPlanner, start: float, end: float, score: float = 0.5) -> ClipWindow:
    return ClipWindow(planner.key(start, end), start, end, score, ())


def test_an_emitted_window_is_never_emitted_again_even_by_a_new_worker():
    cfg = WindowConfig()
    first = WindowPlanner(cfg, "mon-1")
    a = win(first, 100.0, 130.0)
    assert first.admit([a]) == [a]
    assert first.admit([a]) == []
    # A recreated worker restores the persisted keys and re-detects the moment slightly
    # shifted: same key or mostly the same span, it is not emitted again.
    second = WindowPlanner(cfg, "mon-1", emitted=[(k, s, e) for k, (s, e) in
                                                  first.emitted.items()])  # fmt: skip
    shifted = win(second, 102.0, 131.0)
    elsewhere = win(second, 125.0, 160.0)  # 5 s of 35 shared: a new moment
    assert second.admit([a, shifted, elsewhere]) == [elsewhere]
    assert [(s.window.start, s.reason) for s in second.skipped] == [
        (100.0, "duplicate"), (102.0, "overlaps"),
    ]


def test_at_most_max_clips_per_hour_the_best_first():
    planner = WindowPlanner(WindowConfig(max_clips_per_hour=3), "mon-1")
    hour = [win(planner, t, t + 20, score=t / 1000) for t in range(0, 3000, 300)]
    admitted = planner.admit(sorted(hour, key=lambda w: -w.score))
    assert [w.start for w in admitted] == [2100, 2400, 2700]  # the three best, in order
    assert all(s.reason == "hourly_cap" for s in planner.skipped)
    later = win(planner, 2700 + 3600, 2700 + 3620)
    assert planner.admit([later]) == [later]  # the next hour has room again
    ends = sorted(e for _, e in planner.emitted.values())
    assert all(sum(1 for x in ends if t - 3600 < x <= t) <= 3 for t in ends)


def test_rerank_reorders_and_can_never_move_timestamps():
    planner = WindowPlanner(WindowConfig(), "mon-1")
    windows = [win(planner, 10, 40, 0.9), win(planner, 100, 130, 0.6), win(planner, 200, 230, 0.4)]

    def by_key(ws):
        return [ws[2].key, ws[0].key, ws[1].key]

    def moves_times(ws):
        # a hook that answers windows with new edges and scores: only the keys are read
        return [dataclasses.replace(w, start=w.start - 30, end=w.end + 30, score=1.0)
                for w in reversed(ws)]  # fmt: skip

    assert [w.start for w in rerank(windows, by_key)] == [200, 10, 100]
    moved = rerank(windows, moves_times)
    assert [(w.start, w.end, w.score) for w in moved] == [(200, 230, 0.4), (100, 130, 0.6),
                                                          (10, 40, 0.9)]  # fmt: skip
    assert all(any(w is orig for orig in windows) for w in moved)


@pytest.mark.parametrize(
    "hook",
    [
        pytest.param(lambda ws: [ws[0].key], id="drops-a-window"),
        pytest.param(lambda ws: [w.key for w in ws] + ["mon-1:invented"], id="invents-one"),
        pytest.param(lambda ws: [ws[0].key] * len(ws), id="duplicates"),
        pytest.param(lambda ws: 1 / 0, id="raises"),
        pytest.param(None, id="no-hook"),
    ],
)
def test_a_bad_rerank_answer_keeps_the_order(hook):
    planner = WindowPlanner(WindowConfig(), "mon-1")
    windows = [win(planner, 10, 40, 0.9), win(planner, 100, 130, 0.6), win(planner, 200, 230, 0.4)]
    assert rerank(windows, hook) == windows
