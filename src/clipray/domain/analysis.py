"""The analysis of one source as typed values: what selection, reframing, rendering, export,
search and the transcript routes read, whether the analysis was just computed or read back
from the bucket.

The stored form is the JSON document ``clipray analyze --json`` prints (times in seconds,
frames 0-based, boxes in source pixels); :meth:`Analysis.to_json` writes it and
:meth:`Analysis.from_json` reads it, and ``from_json(a.to_json()) == a``. Rounding happens
once, when the pipeline's result becomes an :class:`Analysis` (``pipelines/runner.py``), so a
fresh analysis and its stored copy give the same clips.

    >>> a = Analysis.from_json({"source": {"id": "s1", "duration": 12.0}})
    >>> a.source.duration, a.transcript.segments, a.has_audio
    (12.0, (), True)

Words, segments, scenes and face tracks are the pipeline's own rows (``clipray.schemas``), as
faster-whisper hands out ``Segment`` and ``Word`` tuples rather than dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from clipray.schemas import FaceBox, Scene, Segment, Track, Transcript, Word


@dataclass(frozen=True)
class SourceInfo:
    """The analysed file as the analysis saw it."""

    id: str
    sha256: str | None = None
    duration: float | None = None
    """Seconds; None for a source never probed (the transcript then bounds it)."""
    fps: float | None = None
    width: int = 0
    height: int = 0
    has_audio: bool = True
    has_video: bool = True
    """False for an audio-only source (a podcast episode): no scenes, faces or frame
    embeddings, and its clips are audiograms."""


@dataclass(frozen=True)
class Faces:
    model: str | None = None
    sample_fps: float | None = None
    """Face-detection samples per second; None where faces were not looked for."""
    tracks: tuple[Track, ...] = ()


@dataclass(frozen=True)
class AudioPeak:
    t: float
    value: float


@dataclass(frozen=True)
class Audio:
    hop: float = 0.0
    """Seconds between two ``rms`` values."""
    rms: tuple[float, ...] = ()
    peaks: tuple[AudioPeak, ...] = ()


@dataclass(frozen=True)
class EmbeddingsRef:
    """Where the frames' image embeddings are stored (an ``.npz`` of ``vectors`` and
    ``times`` on the media bucket)."""

    model: str
    dim: int
    count: int
    uri: str


@dataclass(frozen=True)
class Analysis:
    source: SourceInfo
    scenes: tuple[Scene, ...] = ()
    transcript: Transcript = field(default_factory=lambda: Transcript(language="", model=""))
    """Empty (no segments) for a source without audio."""
    faces: Faces = field(default_factory=Faces)
    audio: Audio | None = None
    """None in a document without an audio section (or an empty one)."""
    embeddings: EmbeddingsRef | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per stage, summed over the source's parts."""

    @property
    def has_audio(self) -> bool:
        return self.audio is not None and self.source.has_audio

    @property
    def words(self) -> Iterator[Word]:
        """Every word, in transcript order."""
        return (w for s in self.transcript.segments for w in s.words)

    @property
    def cut_times(self) -> list[float]:
        """Where the hard cuts are (scene starts of kind ``cut``), seconds."""
        return [s.start for s in self.scenes if s.kind == "cut"]

    # --- the stored form ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The document: the ``clipray analyze --json`` shape."""
        src, tr, faces = self.source, self.transcript, self.faces
        return {
            "source": {
                "id": src.id,
                "sha256": src.sha256,
                "duration": src.duration,
                "fps": src.fps,
                "width": src.width,
                "height": src.height,
                "has_audio": src.has_audio,
                "has_video": src.has_video,
            },
            "scenes": [
                {
                    "start": s.start,
                    "end": s.end,
                    "start_frame": s.start_frame,
                    "end_frame": s.end_frame,
                    "kind": s.kind,
                }
                for s in self.scenes
            ],
            "transcript": {
                "language": tr.language or None,
                "model": tr.model,
                "segments": [_segment_json(s) for s in tr.segments],
            },
            "faces": {
                "model": faces.model,
                "sample_fps": faces.sample_fps,
                "tracks": [
                    _track_json(t)
                    for t in faces.tracks
                ],
            },
            "audio": None
            if self.audio is None
            else {
                "hop": self.audio.hop,
                "rms": list(self.audio.rms),
                "peaks": [{"t": p.t, "value": p.value} for p in self.audio.peaks],
            },
            "embeddings": None
            if self.embeddings is None
            else {
                "model": self.embeddings.model,
                "dim": self.embeddings.dim,
                "count": self.embeddings.count,
                "uri": self.embeddings.uri,
            },
            "timings": dict(self.timings),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Analysis:
        """The analysis of a stored document. A section left out (an older or hand-written
        document) reads as empty.

        Raises:
            ValueError: a present field has the wrong type (not a number where one belongs).
        """
        src = doc.get("source") or {}
        tr = doc.get("transcript") or {}
        faces = doc.get("faces") or {}
        audio = doc.get("audio")
        emb = doc.get("embeddings")
        return cls(
            source=SourceInfo(
                id=str(src.get("id", "")),
                sha256=src.get("sha256"),
                duration=_opt_float(src.get("duration")),
                fps=_opt_float(src.get("fps")),
                width=int(src.get("width") or 0),
                height=int(src.get("height") or 0),
                has_audio=src.get("has_audio") is not False,
                has_video=src.get("has_video") is not False,
            ),
            scenes=tuple(
                Scene(
                    float(s["start"]),
                    float(s.get("end", s["start"])),
                    int(s.get("start_frame", 0)),
                    int(s.get("end_frame", 0)),
                    str(s.get("kind", "cut")),
                )
                for s in doc.get("scenes") or ()
            ),
            transcript=Transcript(
                language=str(tr.get("language") or ""),
                model=str(tr.get("model") or ""),
                segments=tuple(_segment(s) for s in tr.get("segments") or ()),
            ),
            faces=Faces(
                model=faces.get("model"),
                sample_fps=_opt_float(faces.get("sample_fps")) or None,
                tracks=tuple(
                    Track(
                        int(t["id"]),
                        tuple(
                            FaceBox(float(d["t"]), _box(d["box"]), float(d.get("score", 0.0)))
                            for d in t.get("detections") or ()
                        ),
                        tuple(float(v) for v in t.get("speaking") or ()),
                    )
                    for t in faces.get("tracks") or ()
                ),
            ),
            audio=None
            if not audio
            else Audio(
                hop=float(audio.get("hop") or 0.0),
                rms=tuple(float(v) for v in audio.get("rms") or ()),
                peaks=tuple(
                    AudioPeak(float(p["t"]), float(p["value"])) for p in audio.get("peaks") or ()
                ),
            ),
            embeddings=None
            if not emb
            else EmbeddingsRef(
                str(emb["model"]), int(emb["dim"]), int(emb["count"]), str(emb["uri"])
            ),
            timings={str(k): float(v) for k, v in (doc.get("timings") or {}).items()},
        )


def _track_json(t: Track) -> dict[str, Any]:
    """A track; ``speaking`` (one score per detection) only where it was measured, so an
    analysis without it reads and writes as it did before speaking scores."""
    out: dict[str, Any] = {
        "id": t.id,
        "detections": [{"t": d.t, "box": list(d.box), "score": d.score} for d in t.detections],
    }
    if t.speaking:
        out["speaking"] = list(t.speaking)
    return out


def _segment_json(s: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": s.start,
        "end": s.end,
        "text": s.text,
        "words": [
            {"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
            for w in s.words
        ],
    }
    if s.speaker is not None:
        out["speaker"] = s.speaker
    return out


def _segment(s: Mapping[str, Any]) -> Segment:
    return Segment(
        start=float(s["start"]),
        end=float(s["end"]),
        text=str(s.get("text") or ""),
        words=tuple(
            Word(
                float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 1.0))
            )
            for w in s.get("words") or ()
        ),
        speaker=s.get("speaker"),
    )


def _box(v: Any) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(c) for c in v)
    return (x1, y1, x2, y2)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)
