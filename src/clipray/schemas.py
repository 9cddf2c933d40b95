"""The vocabulary every stage, route and record speaks: times in seconds, frames 0-based.

Plain frozen dataclasses, no Ray, no SQL. Later issues add the rest of the vocabulary
(face boxes, tracks, clips) here rather than as ad-hoc dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Scene:
    """A shot: ``[start, end)`` in seconds and ``[start_frame, end_frame)``; ``kind`` says
    how it begins: ``"start"`` (first scene), ``"cut"`` or ``"fade"``."""

    start: float
    end: float
    start_frame: int
    end_frame: int
    kind: str
