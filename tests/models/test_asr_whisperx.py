"""WhisperX backend: the conversion always; the model only where WhisperX and weights exist."""

import importlib.util
import os
from pathlib import Path

import pytest

from clipray.models.asr_whisperx import WhisperXConfig, runtime_env, to_transcript
from clipray.models.wer import word_error_rate

JFK = Path(__file__).resolve().parents[2].parent / "shared" / "media" / "speech" / "whisper_jfk"

# The shape whisperx.align returns (segments with aligned words; digits get no times).
ALIGNED = {
    "language": "en",
    "segments": [
        {
            "start": 0.5, "end": 3.0, "speaker": "SPEAKER_00",
            "text": " And so, my fellow Americans",
            "words": [
                {"word": "And", "start": 0.5, "end": 0.7, "score": 0.9},
                {"word": "so,", "start": 0.8, "end": 1.0, "score": 0.8},
                {"word": "my", "start": 1.2, "end": 1.3, "score": 0.95},
                {"word": "fellow", "start": 1.35, "end": 1.7, "score": 0.9},
                {"word": "Americans", "start": 1.8, "end": 2.6, "score": 0.97},
            ],
        },
        {
            "start": 3.2, "end": 4.0, "text": " in 1961",
            "words": [{"word": "in", "start": 3.2, "end": 3.3, "score": 0.9}, {"word": "1961"}],
        },
        {"start": 4.5, "end": 4.6, "text": "", "words": []},
    ],
}  # fmt: skip


def test_aligned_result_becomes_a_transcript_with_clipray_invariants():
    tr = to_transcript(ALIGNED, offset=100.0, model="large-v3", language="en")
    assert [s.text for s in tr.segments] == [" And so, my fellow Americans", " in 1961"]
    assert tr.segments[0].speaker == "SPEAKER_00"
    assert tr.segments[1].speaker is None
    americans = tr.segments[0].words[-1]
    assert (americans.start, americans.end) == pytest.approx((101.8, 102.6))
    unaligned = tr.segments[1].words[-1]
    assert unaligned.word == " 1961"
    assert unaligned.start == pytest.approx(103.3)  # the end of the word before
    for seg in tr.segments:
        assert seg.text == "".join(w.word for w in seg.words)
        assert all(seg.start <= w.start <= w.end <= seg.end for w in seg.words)
        assert all(a.start <= b.start for a, b in zip(seg.words, seg.words[1:], strict=False))


def test_whisperx_runs_in_its_own_runtime_env():
    env = runtime_env(WhisperXConfig())
    assert any(p.startswith("whisperx") for p in env["pip"])


@pytest.mark.skipif(
    importlib.util.find_spec("whisperx") is None
    or not os.environ.get("CLIPRAY_TEST_WHISPERX_MODEL"),
    reason="WhisperX is not installed here (it pins torch 2.8) or no weights: set "
    "CLIPRAY_TEST_WHISPERX_MODEL to a local model dir in an environment with whisperx",
)
def test_whisperx_transcribes_jfk():
    from clipray.models.asr import load_audio
    from clipray.models.asr_whisperx import WhisperXModel

    model = WhisperXModel.load(WhisperXConfig(model=os.environ["CLIPRAY_TEST_WHISPERX_MODEL"]))
    (tr,) = model.transcribe_batch([(load_audio(JFK / "jfk.wav"), 0.0)])
    text = "".join(s.text for s in tr.segments)
    assert word_error_rate((JFK / "REFERENCE.txt").read_text(), text) <= 0.05
    americans = next(w for s in tr.segments for w in s.words if "Americans" in w.word)
    assert abs(americans.start - 1.8) <= 0.5
