"""The vocabulary every stage, route and record speaks: times in seconds, frames 0-based.

Plain frozen dataclasses, no Ray, no SQL. Later issues add the rest of the vocabulary
(face boxes, tracks, clips) here rather than as ad-hoc dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from clipray.domain.errors import CodedError  # noqa: F401  (re-exported: the refusal base)


@dataclass(frozen=True)
class Word:
    """One recognised word; ``word`` keeps its leading space as the ASR model emits it."""

    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech. Invariant: ``text == "".join(w.word for w in words)``."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    speaker: str | None = None
    """Who speaks, where the ASR backend diarizes (WhisperX); None otherwise."""


@dataclass(frozen=True)
class Scene:
    """A shot: ``[start, end)`` in seconds and ``[start_frame, end_frame)``; ``kind`` says
    how it begins: ``"start"`` (first scene), ``"cut"`` or ``"fade"``."""

    start: float
    end: float
    start_frame: int
    end_frame: int
    kind: str


@dataclass(frozen=True)
class Transcript:
    """What speech recognition made of one stretch of audio. Segment and word times are
    absolute (seconds from the start of the source file), so transcripts of the chunks of
    one file can be concatenated as they are."""

    language: str
    model: str
    """The configured model (``"bundled:tiny.en"``, a directory or a model name)."""
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


@dataclass(frozen=True)
class FaceBox:
    """One detected face in one sampled frame: ``box`` is ``(x1, y1, x2, y2)`` in that frame's
    pixels, ``t`` the frame's time in seconds, ``score`` the detector's confidence."""

    t: float
    box: tuple[float, float, float, float]
    score: float
    mouth: float | None = None
    """Motion of the mouth region around this sample (``pipelines/stages/speaking.py``);
    None where it was not measured. Only the analysis carries it: the stored document keeps
    the track's speaking scores instead."""


@dataclass(frozen=True)
class Track:
    """One face followed across samples. ``id`` is stable within a video and grows with first
    appearance; ``detections`` are in time order, one per sample the face was found in."""

    id: int
    detections: tuple[FaceBox, ...]
    speaking: tuple[float, ...] = ()
    """How much this face speaks at each detection, in [0, 1] (one value per detection; empty
    where not measured: a silent source, or an analysis made before speaking scores)."""

    @property
    def start(self) -> float:
        return self.detections[0].t

    @property
    def end(self) -> float:
        return self.detections[-1].t


# --- Ray Data rows of the analysis pipeline ----------------------------------------------
class VideoRow(TypedDict):
    """One video entering the analysis pipeline."""

    source_id: str
    uri: str
    """What PyAV and ffmpeg open on the worker: a local path or a presigned URL."""
    duration: float
    has_audio: bool
    width: int
    height: int
    has_video: NotRequired[bool]
    """False for an audio-only source: only the audio branch runs (True when missing)."""


class PartRow(TypedDict):
    """One finished part of a video's analysis, on its way to the driver's merge.

    ``kind`` is ``"window"`` (video branch) or ``"chunk"`` (audio branch); ``total`` is how
    many parts of that kind the video has, known to the part that is last (-1 before).
    ``result`` is the pickled stage output, so both branches share one schema and union.
    """

    source_id: str
    kind: str
    index: int
    total: int
    result: bytes
