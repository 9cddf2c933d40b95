"""The analyzer's decisions on fed signals, without real media: when a window is due, the
hourly cap against the re-ranking hook's order, the final flush, and refusals of bad input.
(Real audio is in test_analyzer.py; here the audio is a quiet synthetic bed, so that the
buffer's extent is known.)"""

from __future__ import annotations

import numpy as np
import pytest

from clipray.live import EventKind, LiveAnalyzer, LiveInputError, live_config
from clipray.schemas import Word

pytestmark = pytest.mark.unit

RATE = 8000


def bed(live: LiveAnalyzer, upto: float, start: float = 0.0) -> None:
    """Quiet noise from ``start`` to ``upto`` seconds, in 1 s chunks."""
    rng = np.random.default_rng(int(start))
    for t in np.arange(start, upto, 1.0):
        live.feed_audio(float(t), rng.normal(0, 0.01, RATE).astype(np.float32), RATE)


def say(live: LiveAnalyzer, at: float, text: str) -> None:
    parts = text.split()
    live.feed_words([Word(at + 0.3 * i, at + 0.3 * i + 0.25, f" {p}", 1.0)
                     for i, p in enumerate(parts)])  # fmt: skip


def test_a_keyword_window_is_due_once_the_gap_passed_and_its_audio_is_in():
    live = LiveAnalyzer(live_config(), "mon-1", keywords=("touchdown",))
    bed(live, 40.0)
    say(live, 32.0, "and that is a touchdown.")
    assert live.ready() == []  # the stream is at 40 s: the cluster (ends 33.45) is open
    bed(live, 42.0, start=40.0)
    [w] = live.ready()  # 42 >= 33.45 + 8 gap, and the post-roll is in the buffer
    assert [e.kind for e in w.events] == [EventKind.KEYWORD]
    assert w.start <= 32.9 <= w.end <= 42.0
    assert live.ready(now=60.0) == []  # decided once


def test_final_decides_what_is_still_open():
    live = LiveAnalyzer(live_config(), "mon-1", keywords=("touchdown",))
    bed(live, 33.0)
    say(live, 30.0, "touchdown")
    assert live.ready() == []
    [w] = live.ready(final=True)
    assert w.end <= 33.0


def test_the_hook_orders_and_the_cap_keeps_its_favourites():
    # max 20 s: no window can grow onto its neighbour's one-word sentence 30 s away
    cfg = live_config({"window": {"max_clips_per_hour": 2, "max_duration": 20}})
    seen = []

    def prefer_late(windows):
        seen.append([w.start for w in windows])
        return [w.key for w in sorted(windows, key=lambda w: -w.start)]

    live = LiveAnalyzer(cfg, "mon-1", keywords=("alpha", "beta", "gamma"),
                        reranker=prefer_late)  # fmt: skip
    bed(live, 200.0)
    for at, word in ((120.0, "alpha"), (150.0, "beta"), (180.0, "gamma")):
        say(live, at, word)
    windows = live.ready()
    assert len(seen) == 1
    assert len(seen[0]) == 3  # asked once, with all three due
    assert [w.events[0].detail["keyword"] for w in windows] == ["beta", "gamma"]
    assert [s.reason for s in live.planner.skipped] == ["hourly_cap"]


def test_moments_that_grow_into_the_same_window_make_one_clip():
    live = LiveAnalyzer(live_config(), "mon-1", keywords=("alpha", "beta"))
    bed(live, 60.0)
    say(live, 20.0, "alpha.")
    say(live, 33.0, "beta.")  # 13 s later: two clusters, each grows onto the other's sentence
    windows = live.ready()
    assert len(live.decided) == 2
    [w] = windows
    # "alpha." to "beta." is 13.25 s: the 15 s minimum adds plain seconds, 2/3 before
    assert (w.start, w.end) == pytest.approx((20.0 - 1.75 * 2 / 3, 33.25 + 1.75 / 3))
    assert live.planner.skipped == []


def test_the_hook_is_not_asked_for_a_lone_window():
    asked = []
    live = LiveAnalyzer(live_config(), "mon-1", keywords=("alpha",),
                        reranker=lambda ws: asked.append(ws) or ws)  # fmt: skip
    bed(live, 60.0)
    say(live, 30.0, "alpha")
    assert len(live.ready()) == 1
    assert asked == []


def test_a_chat_spike_alone_makes_a_window():
    live = LiveAnalyzer(live_config(), "mon-1")
    calm = [i * 0.5 for i in range(240)]  # 2 messages a second for two minutes
    flood = [120.0 + i * 0.02 for i in range(400)]  # then 50 a second for 8 s
    after = [128.0 + i * 0.5 for i in range(100)]
    chat = calm + flood + after
    windows = []
    for second in range(200):  # as a worker does: a second of audio and chat, then ask
        bed(live, second + 1.0, start=float(second))
        live.feed_chat([t for t in chat if second <= t < second + 1])
        windows += live.ready()
    [w] = windows
    [spike] = w.events
    assert spike.kind is EventKind.CHAT
    assert spike.strength == 1.0
    assert w.start <= 114.0 <= 128.0 <= w.end


@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        pytest.param(np.zeros((2, 2, 2)), RATE, id="3-d"),
        pytest.param(np.array(["a", "b"]), RATE, id="strings"),
        pytest.param(np.array([0.0, np.nan]), RATE, id="nan"),
        pytest.param(np.zeros(10), 0, id="zero-rate"),
        pytest.param(np.zeros(10), 44100.5, id="fractional-rate"),
    ],
)
def test_bad_audio_is_refused_with_a_code(samples, rate):
    live = LiveAnalyzer(live_config(), "mon-1")
    with pytest.raises(LiveInputError) as err:
        live.feed_audio(0.0, samples, rate)
    assert err.value.code == "LIVE_INPUT_INVALID"
    assert live.media_end == 0.0  # nothing was taken


def test_a_bad_time_is_refused():
    live = LiveAnalyzer(live_config(), "mon-1")
    with pytest.raises(LiveInputError):
        live.feed_audio(float("inf"), np.zeros(10), RATE)
    with pytest.raises(LiveInputError):
        live.feed_scene_cuts(["soon"])  # type: ignore[list-item]
    with pytest.raises(LiveInputError):
        live.ready(now=float("nan"))
