"""Turn-taking between two faces: the hold, scene cuts, the split while both speak, and the
speaking scores stored in the analysis."""

import itertools

import numpy as np
import pytest

from clipray.clips.reframe import ReframeConfig, crop_path
from clipray.clips.speaker import SpeakerConfig, plan_turns
from clipray.domain.analysis import Analysis, Faces, SourceInfo
from clipray.schemas import FaceBox, Track

pytestmark = pytest.mark.unit

TS = np.round(np.arange(0, 12, 0.1), 3)


def _on(*spans: tuple[float, float], level: float = 0.8) -> np.ndarray:
    out = np.zeros(TS.size)
    for a, b in spans:
        out[(a <= TS) & (b > TS)] = level
    return out


def test_each_turn_goes_to_who_speaks():
    turns = plan_turns(TS, {0: _on((0, 4), (8, 12)), 1: _on((4, 8))}, 0, SpeakerConfig())
    assert [t.faces for t in turns] == [(0,), (1,), (0,)]
    assert [t.start for t in turns[1:]] == pytest.approx([4.0, 8.0], abs=0.5)


def test_rapid_back_and_forth_never_switches_within_the_hold():
    # They swap every 0.7 s: the picture may change at most once per 1.5 s.
    spans = [(a, a + 0.7) for a in np.arange(0, 12, 1.4)]
    left = _on(*spans)
    right = np.where(left > 0, 0.0, 0.8)
    turns = plan_turns(TS, {0: left, 1: right}, 0, SpeakerConfig(allow_split=False))
    for a, b in itertools.pairwise(turns):
        assert b.start - a.start >= 1.5 - 1e-9


def test_a_blip_of_the_other_face_does_not_take_the_turn():
    turns = plan_turns(TS, {0: _on((0, 12)), 1: _on((5, 5.3), level=0.9)}, 0,
                       SpeakerConfig(allow_split=False))  # fmt: skip
    assert [t.faces for t in turns] == [(0,)]


def test_both_speaking_is_a_split_and_speaker_mode_never_splits():
    scores = {0: _on((0, 12)), 1: _on((4, 8), level=0.7)}
    turns = plan_turns(TS, scores, 0, SpeakerConfig())
    assert [t.faces for t in turns] == [(0,), (0, 1), (0,)]
    assert [t.faces for t in plan_turns(TS, scores, 0, SpeakerConfig(allow_split=False))] == [
        (0,)
    ]


def test_nobody_speaking_keeps_the_default_face():
    turns = plan_turns(TS, {0: np.zeros(TS.size), 1: np.zeros(TS.size)}, 1, SpeakerConfig())
    assert [t.faces for t in turns] == [(1,)]


def _tracks(left: np.ndarray, right: np.ndarray, times: np.ndarray) -> list[Track]:
    def track(i: int, box: tuple[float, ...], said: np.ndarray) -> Track:
        dets = tuple(FaceBox(float(t), box, 0.9) for t in times)
        return Track(i, dets, tuple(float(v) for v in said))

    return [track(0, (140, 150, 370, 400), left), track(1, (650, 150, 880, 400), right)]


def _side(path, ts):
    return np.where(path.at(ts)[:, 0] + path.crop_size[0] / 2 < 512, 0, 1)


def test_a_scene_cut_allows_a_switch_inside_the_hold():
    times = np.arange(0, 12, 0.5)
    left = np.where(times < 6.0, 0.8, 0.0)
    right = np.where((times >= 5.5), 0.8, 0.0)  # the right face speaks from the cut on
    tracks = _tracks(left, right, times)
    path = crop_path(1024, 512, 5.0, 12.0, tracks, [6.0], ReframeConfig(layout="speaker"))
    # the clip starts on the left face; the cut at 6 s (clip 1.0 s) switches at once
    ts = np.array([0.5, 1.2, 3.0])
    assert _side(path, ts).tolist() == [0, 1, 1]


def test_auto_overlays_the_split_while_both_speak_and_wide_letterboxes():
    times = np.arange(0, 12, 0.5)
    left = np.full(times.size, 0.8)
    right = np.where((times >= 4) & (times < 8), 0.7, 0.0)
    tracks = _tracks(left, right, times)
    path = crop_path(1024, 512, 0, 12, tracks, [], ReframeConfig(layout="auto"))
    assert path.layout == "speaker"
    assert path.overlay is not None
    ((a, b),) = path.overlay_spans
    assert a == pytest.approx(4.0, abs=0.5)
    assert b == pytest.approx(8.0, abs=0.5)
    assert "overlay=enable='between(t," in path.to_ffmpeg_filter()
    assert crop_path(1024, 512, 0, 12, tracks, [], ReframeConfig(layout="speaker")).overlay is None
    wide = crop_path(1024, 512, 0, 12, tracks, [], ReframeConfig(layout="wide"))
    assert wide.layout == "letterbox"
    assert "pad=1080:1920" in wide.to_ffmpeg_filter()


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="layout"):
        ReframeConfig(layout="zoom")  # type: ignore[arg-type]


def test_speaking_scores_round_trip_and_old_documents_read():
    track = Track(3, (FaceBox(1.0, (1.0, 2.0, 3.0, 4.0), 0.9),), (0.42,))
    a = Analysis(SourceInfo("s"), faces=Faces("m", 2.0, (track,)))
    doc = a.to_json()
    assert doc["faces"]["tracks"][0]["speaking"] == [0.42]
    assert Analysis.from_json(doc) == a
    del doc["faces"]["tracks"][0]["speaking"]
    assert Analysis.from_json(doc).faces.tracks[0].speaking == ()
