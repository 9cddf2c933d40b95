"""The live analysis on real audio: LJSpeech (231 s of read speech, the shared media) mixed
with a loud burst at a known time, fed in 2 s chunks with its transcript lagging behind as
live ASR's does. The loud moment lands on the burst, read speech alone has none, a clip
window holds the burst on sentence edges, a workspace keyword makes its own window, and a
recreated analyzer that restores the emitted keys emits nothing twice.

Integration tier: the fixture decodes the FLAC with FFmpeg (the package itself only ever
sees numpy arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from clipray.live import EventKind, LiveAnalyzer, live_config
from clipray.live.settings import EnergyConfig
from clipray.live.signals import EnergyDetector
from clipray.media.ffmpeg import check, run
from tests.conftest import MEDIA
from tests.live import transcript

RATE = 16_000
CHUNK_S = 2.0
ASR_LAG_S = 3.0
BURST_S = 1.5


def decode(path: str) -> np.ndarray:
    """Mono 16 kHz signed 16-bit PCM of ``path``, by FFmpeg."""
    proc = check(run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1",
                      "-ar", str(RATE), "-f", "s16le", "-"], text=False), "decode")  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.int16)


@pytest.fixture(scope="module")
def ljspeech() -> np.ndarray:
    return decode(f"{transcript.LJSPEECH}.flac")


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return decode(str(MEDIA / "speech" / "whisper_jfk" / "jfk.wav"))


def with_burst(pcm: np.ndarray, at: float, seed: int = 7) -> np.ndarray:
    """``pcm`` with 1.5 s of loud noise (RMS 0.4 of full scale: a crowd roaring about
    15 dB over the reader's median level) added at ``at`` seconds."""
    x = pcm.astype(np.float64) / 32768
    a, b = int(at * RATE), int((at + BURST_S) * RATE)
    x[a:b] += np.random.default_rng(seed).normal(0.0, 0.4, b - a)
    return (np.clip(x, -1, 32767 / 32768) * 32768).astype(np.int16)


def energy_events(pcm: np.ndarray):
    det = EnergyDetector(EnergyConfig())
    step = int(CHUNK_S * RATE)
    events = []
    for k in range(0, len(pcm), step):
        events += det.feed(k / RATE, pcm[k : k + step], RATE)
    return events + det.flush()


def test_read_speech_has_no_loud_moment(ljspeech, jfk):
    assert energy_events(ljspeech) == []
    assert energy_events(jfk) == []


@pytest.mark.parametrize("at", [30.0, 100.0, 150.0, 212.5])
def test_the_loud_moment_lands_on_the_burst(ljspeech, at):
    [event] = energy_events(with_burst(ljspeech, at))
    assert event.kind is EventKind.ENERGY
    assert abs(event.t_start - at) <= 0.3
    assert abs(event.t_end - (at + BURST_S)) <= 0.3
    assert event.detail["peak_dbfs"] - event.detail["baseline_dbfs"] >= 12.0
    assert 0.5 <= event.strength <= 1.0


def test_stereo_float_audio_is_the_same_signal(ljspeech):
    pcm = with_burst(ljspeech, 150.0)
    stereo = np.stack([pcm, pcm], axis=1).astype(np.float32) / 32768
    det = EnergyDetector(EnergyConfig())
    events = []
    step = int(CHUNK_S * RATE)
    for k in range(0, len(stereo), step):
        events += det.feed(k / RATE, stereo[k : k + step], RATE)
    [a], [b] = events, energy_events(pcm)
    assert (a.t_start, a.t_end) == pytest.approx((b.t_start, b.t_end))


def run_live(pcm: np.ndarray, live: LiveAnalyzer) -> list:
    """Feed ``pcm`` chunk by chunk, each sentence's words once the audio is ``ASR_LAG_S``
    past its end, and ask for windows after every chunk; the stream then stops."""
    words = transcript.words()
    step = int(CHUNK_S * RATE)
    fed = 0
    windows = []
    for k in range(0, len(pcm), step):
        live.feed_audio(k / RATE, pcm[k : k + step], RATE)
        upto = next((i for i, w in enumerate(words[fed:], fed)
                     if w.end > live.media_end - ASR_LAG_S), len(words))  # fmt: skip
        live.feed_words(words[fed:upto])
        fed = upto
        windows += live.ready()
    live.feed_words(words[fed:])
    return windows + live.ready(final=True)


def test_clip_windows_hold_the_burst_and_the_keyword_on_sentence_edges(ljspeech):
    cfg = live_config({"window": {"min_duration": 15, "max_duration": 30}})
    pcm = with_burst(ljspeech, 150.0)
    live = LiveAnalyzer(cfg, "mon-1", keywords=("calligraphy",))
    windows = run_live(pcm, live)
    assert len(windows) == 2, [w.to_json() for w in windows]
    keyword, burst = windows
    kinds = {e.kind for e in keyword.events}
    assert EventKind.KEYWORD in kinds
    [kw] = [e for e in keyword.events if e.kind is EventKind.KEYWORD]
    assert kw.detail["keyword"] == "calligraphy"
    assert keyword.start <= kw.t_start
    assert kw.t_end <= keyword.end
    assert burst.start <= 150.0
    assert burst.end >= 150.0 + BURST_S
    assert [e.kind for e in burst.events] == [EventKind.ENERGY]
    starts = {round(a, 3) for a, _, _ in transcript.sentences()}
    ends = {round(b - 0.02, 3) for _, b, _ in transcript.sentences()}
    for w in windows:
        assert 15.0 <= w.duration <= 30.0
        assert w.snapped_start
        assert round(w.start, 3) in starts
        assert w.snapped_end
        assert round(w.end, 3) in ends
        assert w.score >= cfg.scoring.threshold

    # A recreated worker restores what was emitted and sees the same stream again:
    again = LiveAnalyzer(cfg, "mon-1", keywords=("calligraphy",),
                         emitted=[(k, s, e) for k, (s, e) in live.planner.emitted.items()])
    assert run_live(pcm, again) == []
    assert sorted(s.reason for s in again.planner.skipped) == ["duplicate", "duplicate"]
    # ...and a fresh one computes the very same windows (keys included).
    fresh = run_live(pcm, LiveAnalyzer(cfg, "mon-1", keywords=("calligraphy",)))
    assert [(w.key, w.start, w.end) for w in fresh] == [(w.key, w.start, w.end)
                                                        for w in windows]  # fmt: skip


def test_no_window_is_due_before_its_cluster_closes_and_its_audio_is_in(ljspeech):
    cfg = live_config()
    pcm = with_burst(ljspeech, 150.0)
    live = LiveAnalyzer(cfg, "mon-1")
    due_at = None
    step = int(CHUNK_S * RATE)
    for k in range(0, len(pcm), step):
        live.feed_audio(k / RATE, pcm[k : k + step], RATE)
        if live.ready():
            due_at = live.media_end
            break
    assert due_at is not None
    # closed: the gap (8 s) passed after the burst; in: the post-roll is in the buffer
    assert 150.0 + BURST_S + cfg.scoring.gap_s <= due_at <= 150.0 + BURST_S + 8.0 + 2 * CHUNK_S


def test_every_event_is_heard_as_it_is_detected(ljspeech):
    """The worker's hook (``on_event``) hears each event once, when a detector reports it:
    before any window is due, and including what the final flush finds."""
    cfg = live_config({"window": {"min_duration": 15, "max_duration": 30}})
    heard: list = []
    live = LiveAnalyzer(cfg, "mon-1", keywords=("calligraphy",), on_event=heard.append)
    windows = run_live(with_burst(ljspeech, 150.0), live)
    assert windows
    in_windows = [e for w in windows for e in w.events]
    assert all(any(e == h for h in heard) for e in in_windows)
    assert len(heard) == len(set(heard))
    [burst] = [e for e in heard if e.kind is EventKind.ENERGY]
    assert 149.0 <= burst.t_start <= 151.0
