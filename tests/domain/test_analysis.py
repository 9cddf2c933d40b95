"""The typed analysis: the stored document and the values selection reads are one thing."""

from __future__ import annotations

import json

import pytest

from clipray.domain.analysis import Analysis, Audio, AudioPeak, EmbeddingsRef, Faces, SourceInfo
from clipray.schemas import FaceBox, Scene, Segment, Track, Transcript, Word

pytestmark = pytest.mark.unit

FULL = Analysis(
    source=SourceInfo("src1", "ab" * 32, 16.0, 25.0, 1280, 720, True),
    scenes=(Scene(0.0, 8.0, 0, 200, "start"), Scene(8.0, 16.0, 200, 400, "cut")),
    transcript=Transcript(
        "en",
        "bundled:tiny.en",
        (
            Segment(
                0.3,
                2.1,
                " Ask not, what",
                (
                    Word(0.3, 0.9, " Ask", 0.91),
                    Word(0.9, 1.4, " not,", 0.8),
                    Word(1.5, 2.1, " what", 0.77),
                ),
            ),
            Segment(9.0, 9.6, " Yes.", (Word(9.0, 9.6, " Yes.", 0.99),), speaker="SPEAKER_01"),
        ),
    ),
    faces=Faces(
        "yolov8n-face",
        2.0,
        (
            Track(
                0,
                (
                    FaceBox(0.5, (10.0, 20.5, 110.0, 140.0), 0.91),
                    FaceBox(1.0, (12.0, 20.5, 112.0, 140.0), 0.9),
                ),
            ),
        ),
    ),
    audio=Audio(0.02, (0.1, 0.25, 0.05), (AudioPeak(0.02, 0.25),)),
    embeddings=EmbeddingsRef("ViT-B-32", 512, 32, "s3://media/w/analysis/src1/e.npz"),
    timings={"asr": 1.25, "decode": 0.5},
)


def test_the_stored_document_reads_back_as_the_same_analysis() -> None:
    doc = json.loads(json.dumps(FULL.to_json()))
    assert Analysis.from_json(doc) == FULL
    assert set(doc) == {"source", "scenes", "transcript", "faces", "audio", "embeddings",
                        "timings"}  # fmt: skip
    assert doc["transcript"]["segments"][1]["speaker"] == "SPEAKER_01"
    assert "speaker" not in doc["transcript"]["segments"][0]  # only where a backend diarizes


def test_views_over_the_analysis() -> None:
    assert [w.word for w in FULL.words] == [" Ask", " not,", " what", " Yes."]
    assert FULL.cut_times == [8.0]
    assert FULL.has_audio
    silent = Analysis.from_json({**FULL.to_json(), "source": {"id": "s", "has_audio": False}})
    assert not silent.has_audio


def test_an_audio_only_analysis_reads_back_as_audio_only() -> None:
    podcast = Analysis(SourceInfo("p", duration=11.0, has_video=False),
                       transcript=FULL.transcript, audio=FULL.audio)  # fmt: skip
    doc = json.loads(json.dumps(podcast.to_json()))
    assert doc["source"]["has_video"] is False
    assert Analysis.from_json(doc) == podcast
    assert Analysis.from_json(doc).has_audio
    # a document from before audio-only sources describes a video
    older = {**FULL.to_json(), "source": {"id": "s", "width": 640, "height": 360}}
    assert Analysis.from_json(older).source.has_video


def test_a_video_without_audio_keeps_its_null_language() -> None:
    a = Analysis(SourceInfo("s", has_audio=False), transcript=Transcript("", "m"))
    doc = a.to_json()
    assert doc["transcript"] == {"language": None, "model": "m", "segments": []}
    assert Analysis.from_json(doc) == a


def test_sections_left_out_read_as_empty() -> None:
    a = Analysis.from_json({"source": {"id": "s1"}, "audio": {}})
    assert a.source.duration is None
    assert (a.scenes, a.transcript.segments, a.faces.tracks) == ((), (), ())
    assert a.audio is None
    assert not a.has_audio
    assert a.faces.sample_fps is None
    assert a.embeddings is None


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({"scenes": [{"start": "soon"}]}, id="scene-start-not-a-number"),
        pytest.param({"transcript": {"segments": [{"start": 0, "end": 1, "words": [
            {"start": 0, "end": None, "word": "x"}]}]}}, id="word-end-null"),
        pytest.param({"faces": {"tracks": [{"id": 0, "detections": [
            {"t": 0.5, "box": [1, 2, 3], "score": 1}]}]}}, id="box-of-three"),
    ],
)  # fmt: skip
def test_a_malformed_document_is_refused(doc) -> None:
    with pytest.raises((ValueError, TypeError)):
        Analysis.from_json({"source": {"id": "s"}, **doc})
