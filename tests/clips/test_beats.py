"""Beat-synced cuts: joins, zoom starts and B-roll edges move to the nearest beat within
the window, on the frame grid, with every word kept whole and no cut word brought back;
the setting is refused without music; and the real beat tracker (librosa, the track
decoded by FFmpeg) finds a 120 BPM click track's clicks within 20 ms."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipray.clips.effects.beats import (
    WINDOW,
    Beats,
    snap_broll,
    snap_cut,
    snap_to,
    snap_zooms,
)
from clipray.clips.effects.graph import (
    FPS,
    Audio,
    BaseCut,
    BRoll,
    EffectsGraph,
    GraphError,
    Insert,
    Zoom,
    Zooms,
)
from clipray.clips.effects.plan import (
    BeatSyncNeedsMusic,
    EffectsConfig,
    check_beat_sync,
    plan_graph,
)
from clipray.schemas import Word

FRAME = 1 / FPS
# (start, end) in span seconds; the third word is a filler the cut removes
WORDS = [(0.2, 0.8), (1.0, 1.7), (2.2, 2.6), (3.1, 3.6), (4.0, 4.8)]
CUT = BaseCut(((0.0, 2.0), (3.0, 5.0)))
JOIN = 2.0 - FRAME  # where the second part starts on the output


def _whole(cut: BaseCut, words: list[tuple[float, float]]) -> set[int]:
    """The words a cut keeps whole; asserts no word is kept in part."""
    kept = set()
    for n, (s, e) in enumerate(words):
        inside = [a - 1e-6 <= s and e <= b + 1e-6 for a, b in cut.keep]
        partly = [s < b - 1e-6 and e > a + 1e-6 and not whole
                  for (a, b), whole in zip(cut.keep, inside, strict=True)]  # fmt: skip
        assert not any(partly), f"word {n} ({s}-{e}) is cut in part by {cut.keep}"
        if any(inside):
            kept.add(n)
    return kept


@pytest.mark.unit
def test_snap_to_the_nearest_beat_in_reach() -> None:
    beats = [0.5, 1.0, 1.5]
    assert snap_to(beats, 1.1) == pytest.approx(1.0)
    assert snap_to(beats, 1.3) == pytest.approx(1.5)
    assert snap_to(beats, 1.75) == pytest.approx(1.5)  # 0.25 s: at the window's edge
    assert snap_to(beats, 1.8) is None
    assert snap_to([], 1.0) is None
    # on the frame grid
    got = snap_to([1.013], 1.0)
    assert got is not None
    assert round(got * FPS) == pytest.approx(got * FPS)


@pytest.mark.unit
def test_beats_loop_with_the_track() -> None:
    beats = Beats((0.25, 0.75), 1.0).until(2.8)
    assert beats == pytest.approx([0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
    assert Beats((), 1.0).until(5.0) == []


@pytest.mark.unit
def test_a_join_moves_onto_a_beat_and_keeps_the_words_whole() -> None:
    snapped = snap_cut(CUT, WORDS, [1.0, 2.1, 3.0])
    join = snapped.offsets()[1]
    assert join == pytest.approx(2.1, abs=FRAME / 2 + 1e-9)
    assert abs(join - JOIN) <= WINDOW
    assert _whole(snapped, WORDS) == _whole(CUT, WORDS) == {0, 1, 3, 4}
    assert snapped.keep[1] == CUT.keep[1]  # the next part starts where it did


@pytest.mark.parametrize(
    ("beats", "why"),
    [
        pytest.param([2.2], "the filler at 2.2 would come back", id="filler-stays-cut"),
        pytest.param([2.5], "no beat within the window", id="out-of-reach"),
    ],
)
@pytest.mark.unit
def test_a_join_stays_where_a_snap_would_break_it(beats: list[float], why: str) -> None:
    assert snap_cut(CUT, WORDS, beats) == CUT, why


@pytest.mark.unit
def test_a_join_never_cuts_the_last_word_of_its_part() -> None:
    words = [(0.2, 0.8), (1.0, 1.95), (3.1, 3.6)]
    assert snap_cut(CUT, words, [1.8]) == CUT  # shrinking would cut "1.0-1.95"
    moved = snap_cut(CUT, [(0.2, 0.8), (1.0, 1.6), (3.1, 3.6)], [1.8])
    assert moved.offsets()[1] == pytest.approx(1.8, abs=FRAME / 2 + 1e-9)


@pytest.mark.unit
def test_joins_are_snapped_in_order() -> None:
    """Three parts: moving the first join shifts the second, which is snapped after."""
    cut = BaseCut(((0.0, 2.0), (3.0, 5.0), (6.0, 8.0)))
    words = [(0.5, 1.5), (3.5, 4.5), (6.5, 7.5)]
    beats = [i * 0.5 for i in range(1, 20)]
    snapped = snap_cut(cut, words, beats)
    for off in snapped.offsets()[1:]:
        assert min(abs(off - b) for b in beats) <= FRAME / 2 + 1e-9
    assert _whole(snapped, words) == {0, 1, 2}


@pytest.mark.unit
def test_zoom_starts_move_to_beats_whole() -> None:
    zooms = Zooms("smooth", (Zoom(1.1, 2.3, 1.3, 0.5, 0.4), Zoom(2.3, 3.0, 1.3, 0.5, 0.4),
                             Zoom(5.3, 6.0, 1.2, 0.5, 0.5)))  # fmt: skip
    got = snap_zooms(zooms, [1.0, 2.0, 4.0, 6.0], duration=6.5)
    first, second, third = got.zooms
    assert (first.start, first.end) == pytest.approx((1.0, 2.2))  # moved whole
    # 2.0 would start the second before the first ends: it stays
    assert (second.start, second.end) == pytest.approx((2.3, 3.0))
    assert (third.start, third.end) == pytest.approx((5.3, 6.0))  # no beat in reach


@pytest.mark.unit
def test_broll_edges_move_to_beats() -> None:
    broll = BRoll((Insert(1.1, 2.9, "lib/a.mp4"), Insert(4.2, 5.0, "lib/b.mp4", 1.0)))
    got = snap_broll(broll, [1.0, 3.0, 4.0, 5.1])
    edges = [t for i in got.inserts for t in (i.start, i.end)]
    assert edges == pytest.approx([1.0, 3.0, 4.0, 5.1])
    assert got.inserts[1].src_start == 1.0


def _speech() -> list[Word]:
    text = [(0.2, 0.6, "So"), (0.7, 1.0, "um,"), (1.6, 2.0, "money"), (2.1, 2.5, "is"),
            (4.0, 4.4, "uh"), (4.6, 5.0, "great"), (5.2, 5.9, "really."),
            (6.5, 7.0, "Listen"), (7.1, 7.6, "now.")]  # fmt: skip
    return [Word(10 + a, 10 + b, f" {w}", 0.9) for a, b, w in text]


@pytest.mark.unit
def test_plan_graph_snaps_the_cut_and_records_the_setting() -> None:
    cfg = EffectsConfig(remove_fillers=True, music="music/bed.mp3", beat_sync=True)
    beats = Beats((0.0, 0.5), 1.0)  # a beat every half second from the clip's start
    off = plan_graph(EffectsConfig(remove_fillers=True, music="music/bed.mp3"), _speech(),
                     10.0, 18.0, "t", (), (), lambda t: None)  # fmt: skip
    on = plan_graph(cfg, _speech(), 10.0, 18.0, "t", (), (), lambda t: None, beats=beats)
    assert off.base_cut is not None
    assert on.base_cut is not None
    on_beat = beats.until(10.0)
    moved = 0
    for before, after in zip(off.base_cut.offsets()[1:], on.base_cut.offsets()[1:],
                             strict=True):  # fmt: skip
        near = min(abs(before - b) for b in on_beat)
        if after != pytest.approx(before):
            moved += 1
            assert min(abs(after - b) for b in on_beat) <= FRAME / 2 + 1e-9
            assert near <= WINDOW + 1e-9
    assert moved >= 1
    spoken = [(w.start - 10, w.end - 10) for w in _speech()]
    assert _whole(on.base_cut, spoken) == _whole(off.base_cut, spoken)
    assert on.audio == Audio(music="music/bed.mp3", beat_sync=True)
    assert EffectsGraph.from_json(on.to_json()) == on


@pytest.mark.unit
def test_beat_sync_needs_music() -> None:
    with pytest.raises(BeatSyncNeedsMusic) as err:
        EffectsConfig(beat_sync=True)
    assert err.value.code == "BEAT_SYNC_NEEDS_MUSIC"
    assert err.value.status == 422
    with pytest.raises(BeatSyncNeedsMusic):
        check_beat_sync(True, None)
    check_beat_sync(False, None)
    check_beat_sync(True, "music/bed.mp3")
    with pytest.raises(GraphError):
        Audio(denoise=True, beat_sync=True)


@pytest.mark.unit
def test_an_audio_step_without_beat_sync_is_stored_as_before() -> None:
    """The spec (and its hash) of a clip rendered before beat sync stays the same."""
    g = EffectsGraph((Audio(music="music/bed.mp3"),))
    assert g.to_json() == [{"step": "audio", "censor": (), "mode": "bleep", "spans": (),
                            "denoise": False, "music": "music/bed.mp3"}]  # fmt: skip
    synced = EffectsGraph((Audio(music="music/bed.mp3", beat_sync=True),))
    assert synced.to_json()[0]["beat_sync"] is True


@pytest.mark.integration
def test_beats_of_a_click_track(tmp_path: Path) -> None:
    """Clicks (10 ms of 1 kHz) every 0.5 s (120 BPM) from 0.25 s for 12 s: every click has
    a beat within 20 ms, and every beat is on a click."""
    from clipray.pipelines.beats import track_beats

    clicks = tmp_path / "clicks.wav"
    expr = "if(gte(t,0.25)*lt(mod(t-0.25,0.5),0.01),sin(2*PI*1000*t),0)"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"aevalsrc='{expr}':s=44100:d=12", "-c:a", "libmp3lame", "-b:a", "192k",
                    str(clicks.with_suffix(".mp3"))], check=True)  # fmt: skip
    beats = track_beats(str(clicks.with_suffix(".mp3")))
    assert beats.period == pytest.approx(12.0, abs=0.1)
    truth = [0.25 + 0.5 * k for k in range(24)]
    for t in truth:
        assert min(abs(t - b) for b in beats.times) <= 0.020, t
    for b in beats.times:
        assert min(abs(t - b) for t in truth) <= 0.020, b
    assert track_beats(str(clicks.with_suffix(".mp3"))) == beats  # deterministic


@pytest.mark.integration
def test_clipray_run_refuses_beat_sync_without_music(tmp_path: Path) -> None:
    """Refused before anything is ingested: the one CLI printer, exit 2."""
    from tests.clirun import clipray

    video = tmp_path / "talk.mp4"
    video.write_bytes(b"not read")
    res = clipray(tmp_path / "home", "run", str(video), "--beat-sync", "--emoji")
    assert res.returncode == 2, res.stderr
    assert "error: BEAT_SYNC_NEEDS_MUSIC:" in res.stderr
    bad = clipray(tmp_path / "home", "run", str(video), "--safe-area", "snapchat")
    assert bad.returncode == 2
    assert "--safe-area" in bad.stderr
