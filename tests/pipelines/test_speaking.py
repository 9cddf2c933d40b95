"""Speaking scores from mouth motion and speech, on synthetic frames and tracks."""

import numpy as np
import pytest

from clipray.pipelines.stages.speaking import (
    MotionAccumulator,
    SpeakingConfig,
    speaking_series,
    speech_activity,
    with_mouth_motion,
)
from clipray.schemas import FaceBox, Track, Word

pytestmark = pytest.mark.unit

BOX = (20.0, 20.0, 60.0, 80.0)  # a 40x60 face in a 128x96 frame


def _frames(moving: str, n: int = 10) -> list[np.ndarray]:
    """Frames whose mouth region (``moving="mouth"``) or whole face (``"face"``) flickers."""
    out = []
    for i in range(n):
        f = np.full((96, 128, 3), 100, np.uint8)
        level = 100 + 60 * (i % 2)
        if moving == "mouth":
            f[60:78, 28:52] = level
        elif moving == "face":
            f[20:80, 20:60] = level
        out.append(f)
    return out


@pytest.mark.parametrize(("moving", "speaks"), [("mouth", True), ("face", True), ("none", False)])
def test_mouth_motion_counts_the_mouth_more_than_the_head(moving, speaks):
    acc = MotionAccumulator(2.0)
    for i, f in enumerate(_frames(moving)):
        acc.add(i * 0.04, f)
    maps = acc.maps([0], (96, 128))
    (sample,) = with_mouth_motion([[FaceBox(0.0, BOX, 0.9)]], maps, (96, 128))
    mouth = sample[0].mouth
    assert (mouth > 10) is speaks, mouth
    if moving == "face":  # a head flickering by 60 levels counts half: 30
        assert mouth == pytest.approx(30.0, abs=1.0)


def test_speech_activity_is_voiced_time_counted_fully_under_words():
    rms = np.r_[np.full(20, 0.2), np.full(20, 0.001), np.full(20, 0.2)]  # 6 s, 0.1 s hop
    words = [Word(0.0, 1.8, "hello", 1.0)]  # ASR heard the first loud part only
    got = speech_activity(np.array([1.0, 3.0, 5.0]), 0.25, words, rms, 0.1, SpeakingConfig())
    assert got == pytest.approx([1.0, 0.0, 0.5])


def test_the_face_whose_mouth_moves_during_speech_scores_high():
    times = np.arange(0, 6, 0.5)
    rms = np.full(60, 0.2)
    left = [FaceBox(float(t), BOX, 0.9, 8.0 if t < 3 else 0.2) for t in times]
    right = [FaceBox(float(t), BOX, 0.9, 0.2 if t < 3 else 8.0) for t in times]
    a, b = speaking_series([Track(0, tuple(left)), Track(1, tuple(right))], [], rms, 0.1, 2.0)
    sa, sb = np.array(a.speaking), np.array(b.speaking)
    assert len(sa) == len(times)
    assert np.all(sa[times < 3] > 0.4)
    assert np.all(sa[times >= 3] < 0.05)
    assert np.all(sb[times >= 3] > 0.4)
    assert np.all(sb[times < 3] < 0.05)


def test_silence_scores_nobody_and_unmeasured_tracks_are_left_alone():
    dets = tuple(FaceBox(float(t), BOX, 0.9, 8.0) for t in range(4))
    (quiet,) = speaking_series([Track(0, dets)], [], np.zeros(40), 0.1, 2.0)
    assert quiet.speaking == () or max(quiet.speaking) == 0.0
    old = Track(1, (FaceBox(0.0, BOX, 0.9),))
    assert speaking_series([old], [], np.full(40, 0.2), 0.1, 2.0) == [old]
