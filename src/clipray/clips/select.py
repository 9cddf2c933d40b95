"""Choosing the moments of an analysed video worth posting as short clips.

Pure functions over an :class:`~clipray.domain.analysis.Analysis`: no Ray, no I/O. A clip
is a run of whole sentences (transcript segments) lasting between ``min_duration`` and
``max_duration`` seconds; a sentence longer than ``max_duration`` is first cut at its clause
breaks and pauses (``clips/sentences.py``), so that it is not lost. Its edges may move onto
a nearby scene cut, so that a clip does not open or close a few frames into the next shot,
but only within the pause between two sentences: an edge never falls inside a word, and a
clip never picks up a stray word of the sentence before or after it. When nothing fits,
:func:`why_no_clips` says why.

Every candidate is scored from what the analysis measured (speech density, a question or an
exclamation as the opening sentence, hook keywords, audio peaks, scene cuts, faces on screen)
and carries the reasons for its score, so that a person can see why a clip was picked and
tune the weights.

    >>> picks = select(analysis, SelectConfig(max_clips=3))  # doctest: +SKIP
    >>> picks[0].reasons  # doctest: +SKIP
    ('question hook', 'face on screen 92%', 'speech density 3.1 words/s', '2 scene cuts')
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import accumulate

from clipray.clips.sentences import split_long_sentence
from clipray.clips.titles import (  # noqa: F401  (re-exported: callers import them from here)
    _CLOSERS,
    TITLE_MAX_CHARS,
    first_sentence,
    shorten,
    title_and_hashtags,
)
from clipray.domain.analysis import Analysis
from clipray.schemas import Segment

DEFAULT_KEYWORDS: tuple[str, ...] = (
    "secret",
    "mistake",
    "never",
    "best",
    "worst",
    "truth",
    "surprising",
    "nobody",
    "actually",
    "imagine",
    "important",
    "the reason",
)
"""Words that tend to open or carry a hook in spoken video (matched whole, case-folded)."""

# Normalisers that map a raw measurement onto 0..1. A feature at or above its normaliser
# scores full marks, so a clip cannot win on one runaway feature alone.
_FULL_WORDS_PER_S = 3.0  # brisk conversational speech; narration runs about 2.5 words/s
_FULL_CUTS_PER_MIN = 6.0  # a cut every 10 s: edited, but not a montage
_FULL_KEYWORDS = 2  # two distinct hook words already make a pitch
_EXCLAMATION_HOOK = 0.6  # an exclamation grabs attention, but less than an open question
_CUT_MARGIN_S = 0.1  # a cut this close to an edge is the edge itself (the clip snapped to it)



@dataclass(frozen=True)
class Weights:
    """How much each feature counts; the score is the weighted mean of features in 0..1.

    A feature the analysis could not measure (no audio track, face detection not run) drops
    out of the mean instead of counting as zero, so such videos are not all scored down.
    """

    speech: float = 1.0
    """Speech density: words per second, full marks at 3 words/s."""
    hook: float = 1.0
    """The clip opens on a question (full marks) or an exclamation."""
    keywords: float = 0.5
    """Distinct hook keywords in the clip, full marks at two."""
    audio: float = 0.75
    """The loudest audio peak inside the clip, relative to the loudest of the video."""
    scenes: float = 0.5
    """Scene cuts inside the clip per minute, full marks at six."""
    faces: float = 0.75
    """The fraction of face-detection samples in the clip that found a face."""


@dataclass(frozen=True)
class SelectConfig:
    """How clips are cut and ranked."""

    max_clips: int = 5
    """At most this many clips are selected."""
    min_duration: float = 15.0
    """Shortest clip, seconds: shorter ones rarely carry a whole thought."""
    max_duration: float = 60.0
    """Longest clip, seconds: the limit of most short-video platforms."""
    snap_to_cut_s: float = 1.0
    """An edge moves onto a scene cut at most this far from its sentence boundary, and only
    where the cut lies in the pause between two sentences."""
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    """Hook words or phrases, matched whole and case-folded."""
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        if self.max_clips < 0:
            raise ValueError(f"max_clips must be >= 0, got {self.max_clips}")
        if not 0 < self.min_duration <= self.max_duration:
            raise ValueError(
                f"need 0 < min_duration <= max_duration, got {self.min_duration}, "
                f"{self.max_duration}"
            )
        if self.snap_to_cut_s < 0:
            raise ValueError(f"snap_to_cut_s must be >= 0, got {self.snap_to_cut_s}")


@dataclass(frozen=True)
class Candidate:
    """A span of the source that could become a clip; times in seconds from its start.

    ``candidates`` returns them unscored (``score`` 0.0, no ``reasons``); ``score`` and
    ``select`` fill both in.
    """

    id: str
    """``clip_id(source_id, start, end)``: the same span of the same source keeps its id
    across runs, so a re-analysis does not orphan rendered clips or user edits."""
    start: float
    end: float
    text: str
    """The transcript of the span: its whole sentences, whitespace collapsed."""
    title: str
    hashtags: tuple[str, ...] = ()
    score: float = 0.0
    """0..1, the weighted mean of the features; comparable within one video."""
    reasons: tuple[str, ...] = ()
    """Human-readable reasons for the score, the strongest contribution first."""

    @property
    def duration(self) -> float:
        return self.end - self.start


ClipChoice = Candidate
"""A selected candidate: the same record, named for where it ends up."""


def clip_id(source_id: str, start: float, end: float) -> str:
    """A stable 32-hex-char id of a span; times are taken to the millisecond so that float
    noise from a re-computation does not change it."""
    key = f"{source_id}|{start:.3f}|{end:.3f}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


# --- the analysis, indexed once -------------------------------------------------------------
@dataclass(frozen=True)
class _Sentence:
    start: float
    end: float
    first: float
    """Start of the first word (the segment start where a segment has no words)."""
    last: float
    """End of the last word."""
    text: str


@dataclass(frozen=True)
class _Index:
    """What scoring needs from the analysis, sorted for binary search: ``select`` looks at
    thousands of spans of a long video, each in O(log n)."""

    source_id: str
    duration: float
    sentences: tuple[_Sentence, ...]
    word_starts: tuple[float, ...]
    cuts: tuple[float, ...]
    peak_times: tuple[float, ...]
    peak_values: tuple[float, ...]
    peak_max: float
    has_audio: bool
    face_fps: float | None
    """Face-detection sample rate; None where faces were not looked for."""
    face_samples: tuple[int, ...]
    """Indices ``round(t * face_fps)`` of the samples where at least one face was found."""
    has_video: bool = True
    """False for an audio-only source: scene cuts are not scored (there is no picture to
    cut), so its moments rank on the transcript and the audio energy alone."""


def _pieces(seg: Segment, max_len: float) -> list[_Sentence]:
    """A transcript segment as one sentence, or as runs of its words where it lasts longer
    than ``max_len`` (:func:`split_long_sentence`)."""
    words = seg.words
    whole = _Sentence(
        start=seg.start,
        end=seg.end,
        first=min((w.start for w in words), default=seg.start),
        last=max((w.end for w in words), default=seg.end),
        text=seg.text,
    )
    if max(whole.end, whole.last) - min(whole.start, whole.first) <= max_len or len(words) < 2:
        return [whole]
    ordered = sorted(words, key=lambda w: w.start)
    runs = split_long_sentence(ordered, max_len)
    out = []
    for n, (lo, hi) in enumerate(runs):
        run = ordered[lo:hi]
        first, last = run[0].start, max(w.end for w in run)
        out.append(
            _Sentence(
                start=min(seg.start, first) if n == 0 else first,
                end=max(seg.end, last) if n == len(runs) - 1 else last,
                first=first,
                last=last,
                text="".join(w.word for w in run),
            )
        )
    return out


def _index(analysis: Analysis, max_len: float = math.inf) -> _Index:
    """The analysis indexed for selection; sentences longer than ``max_len`` seconds are
    cut at their breaks, so that each can still be part of a clip."""
    sentences: list[_Sentence] = []
    word_starts: list[float] = []
    for seg in analysis.transcript.segments:
        word_starts.extend(w.start for w in seg.words)
        sentences.extend(_pieces(seg, max_len))
    sentences.sort(key=lambda s: (s.start, s.end))
    duration = analysis.source.duration
    if duration is None:  # an unprobed source: the transcript is all we know of its length
        duration = max((max(s.end, s.last) for s in sentences), default=0.0)

    cuts = sorted(s.start for s in analysis.scenes if s.kind != "start" and s.start > 0)
    peaks = sorted((p.t, p.value) for p in analysis.audio.peaks) if analysis.audio else []
    fps = analysis.faces.sample_fps
    samples: set[int] = set()
    if fps:
        for track in analysis.faces.tracks:
            samples.update(round(d.t * fps) for d in track.detections)
    return _Index(
        source_id=analysis.source.id,
        duration=float(duration),
        sentences=tuple(sentences),
        word_starts=tuple(sorted(word_starts)),
        cuts=tuple(cuts),
        peak_times=tuple(t for t, _ in peaks),
        peak_values=tuple(v for _, v in peaks),
        peak_max=max((v for _, v in peaks), default=0.0),
        has_audio=analysis.has_audio,
        face_fps=float(fps) if fps else None,
        face_samples=tuple(sorted(samples)),
        has_video=analysis.source.has_video,
    )


# --- candidates -----------------------------------------------------------------------------
def _gaps(ix: _Index) -> list[tuple[float, float]]:
    """The pause before each sentence, and one after the last: ``gaps[k]`` is ``(lo, hi)``,
    the latest word end before sentence ``k`` and the earliest word start from it on, within
    ``[0, duration]``. An edge anywhere in it cuts no word and takes no word of a neighbour;
    ``lo > hi`` means sentences overlap there and no clip may begin or end at ``k``."""
    n = len(ix.sentences)
    los = [0.0, *accumulate((max(0.0, s.last) for s in ix.sentences), max)]
    his = [*accumulate((s.first for s in reversed(ix.sentences)), min, initial=ix.duration)]
    his.reverse()
    return [(los[k], min(his[k], ix.duration)) for k in range(n + 1)]


def _edge(reference: float, lo: float, hi: float, cuts: Sequence[float], snap: float) -> float:
    """The sentence boundary ``reference`` kept inside its pause ``[lo, hi]``, moved onto the
    nearest scene cut within ``snap`` seconds that lies in the pause (the earlier on a tie)."""
    at = min(max(reference, lo), hi)
    left, right = max(lo, at - snap), min(hi, at + snap)
    near = cuts[bisect_left(cuts, left) : bisect_right(cuts, right)]
    return min(near, key=lambda c: (abs(c - at), c), default=at)


def _candidates(ix: _Index, cfg: SelectConfig) -> list[Candidate]:
    gaps = _gaps(ix)
    snap = cfg.snap_to_cut_s
    starts = [_edge(s.start, *gaps[k], ix.cuts, snap) for k, s in enumerate(ix.sentences)]
    ends = [_edge(s.end, *gaps[k + 1], ix.cuts, snap) for k, s in enumerate(ix.sentences)]
    out: list[Candidate] = []
    for i in range(len(ix.sentences)):
        if gaps[i][0] > gaps[i][1]:
            continue
        start = starts[i]
        for j in range(i, len(ix.sentences)):
            lo, hi = gaps[j + 1]
            if lo - start > cfg.max_duration:
                break  # every later edge lies beyond lo: all longer still
            end = ends[j]
            if lo > hi or not cfg.min_duration <= end - start <= cfg.max_duration:
                continue
            # joined with a space: not every ASR backend starts a segment's text with one
            text = " ".join(" ".join(s.text for s in ix.sentences[i : j + 1]).split())
            title, hashtags = title_and_hashtags(text)
            cid = clip_id(ix.source_id, start, end)
            out.append(Candidate(cid, start, end, text, title, hashtags))
    return out


def candidates(analysis: Analysis, cfg: SelectConfig | None = None) -> list[Candidate]:
    """Every span of consecutive whole sentences whose length fits the config, in order of
    start then end, unscored. A sentence longer than ``max_duration`` counts as the runs of
    words :func:`~clipray.clips.sentences.split_long_sentence` cuts it into.

    An edge lies in the pause between two sentences (never inside a word, never taking a
    word of a neighbouring sentence) and within ``[0, source duration]``; where a scene cut
    lies in that pause within ``snap_to_cut_s`` of the sentence boundary, the edge is the cut.
    """
    cfg = cfg or SelectConfig()
    return _candidates(_index(analysis, cfg.max_duration), cfg)


# --- scoring --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Feature:
    weight: float
    value: float
    """0..1."""
    reason: str | None


@lru_cache(maxsize=16)
def _keyword_pattern(keywords: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """One alternation for all keywords, longest first so that a phrase wins over a word it
    starts with; compiled once per config, as ``select`` matches it against every span."""
    folded = tuple(dict.fromkeys(k.casefold() for k in keywords if k.strip()))
    alternation = "|".join(re.escape(k) for k in sorted(folded, key=len, reverse=True))
    return folded, re.compile(rf"(?<!\w)(?:{alternation or '(?!)'})(?!\w)")


def _keyword_hits(text: str, keywords: tuple[str, ...]) -> list[str]:
    """The distinct keywords found in ``text``, in config order."""
    folded, pattern = _keyword_pattern(keywords)
    found = set(pattern.findall(text.casefold()))
    return [k for k in folded if k in found]


def _features(c: Candidate, ix: _Index, cfg: SelectConfig) -> list[_Feature]:
    w = cfg.weights
    span = max(c.duration, 1e-9)
    words = bisect_left(ix.word_starts, c.end) - bisect_left(ix.word_starts, c.start)
    density = words / span
    feats = [
        _Feature(
            w.speech, min(1.0, density / _FULL_WORDS_PER_S), f"speech density {density:.1f} words/s"
        )
    ]

    opening = first_sentence(c.text).rstrip(_CLOSERS)
    if opening.endswith("?"):
        feats.append(_Feature(w.hook, 1.0, "question hook"))
    elif opening.endswith("!"):
        feats.append(_Feature(w.hook, _EXCLAMATION_HOOK, "exclamation hook"))
    else:
        feats.append(_Feature(w.hook, 0.0, None))

    hits = _keyword_hits(c.text, cfg.keywords)
    feats.append(
        _Feature(
            w.keywords,
            min(1.0, len(hits) / _FULL_KEYWORDS),
            f"keywords: {', '.join(hits)}" if hits else None,
        )
    )

    if ix.has_audio:
        lo, hi = bisect_left(ix.peak_times, c.start), bisect_right(ix.peak_times, c.end)
        if hi > lo and ix.peak_max > 0:
            k = max(range(lo, hi), key=lambda k: (ix.peak_values[k], -k))
            value = max(0.0, ix.peak_values[k] / ix.peak_max)
            feats.append(_Feature(w.audio, value, f"audio peak at {ix.peak_times[k]:.1f} s"))
        else:
            feats.append(_Feature(w.audio, 0.0, None))

    if ix.has_video:
        lo, hi = (
            bisect_right(ix.cuts, c.start + _CUT_MARGIN_S),
            bisect_left(ix.cuts, c.end - _CUT_MARGIN_S),
        )
        inside = max(0, hi - lo)
        per_min = inside / (span / 60.0)
        feats.append(
            _Feature(
                w.scenes,
                min(1.0, per_min / _FULL_CUTS_PER_MIN),
                f"{inside} scene cut{'s' if inside != 1 else ''}" if inside else None,
            )
        )

    if ix.face_fps:
        # samples k / fps with start <= k / fps < end
        k0 = math.ceil(c.start * ix.face_fps - 1e-9)
        k1 = math.ceil(c.end * ix.face_fps - 1e-9)
        if k1 > k0:
            seen = bisect_left(ix.face_samples, k1) - bisect_left(ix.face_samples, k0)
            share = seen / (k1 - k0)
            reason = f"face on screen {round(share * 100)}%" if seen else None
            feats.append(_Feature(w.faces, share, reason))
    return feats


def _score(c: Candidate, ix: _Index, cfg: SelectConfig) -> Candidate:
    feats = _features(c, ix, cfg)
    total = sum(f.weight for f in feats)
    value = sum(f.weight * f.value for f in feats) / total if total > 0 else 0.0
    # sorted() is stable: equal contributions keep the order of _features
    ranked = sorted((f for f in feats if f.reason), key=lambda f: -f.weight * f.value)
    return replace(c, score=round(value, 4), reasons=tuple(f.reason for f in ranked if f.reason))


def score(
    candidate: Candidate, analysis: Analysis, cfg: SelectConfig | None = None
) -> Candidate:
    """``candidate`` with its score (0..1) and the reasons for it.

    Features are speech density, a question or exclamation as the opening sentence, hook
    keywords, the loudest audio peak inside, scene cuts inside and the share of
    face-detection samples with a face. The speech-density reason is always given, so no
    candidate is left without one. ``select`` indexes the analysis once; calling this for
    many candidates of one analysis indexes it each time.
    """
    cfg = cfg or SelectConfig()
    return _score(candidate, _index(analysis, cfg.max_duration), cfg)


def select(analysis: Analysis, cfg: SelectConfig | None = None) -> list[Candidate]:
    """The best non-overlapping candidates, highest score first, at most ``max_clips``.

    Greedy: a candidate is taken unless it overlaps one already taken (clips may touch).
    Ties go to the earlier start, then the shorter clip, so the same analysis and config
    always give the same clips.
    """
    cfg = cfg or SelectConfig()
    ix = _index(analysis, cfg.max_duration)
    scored = sorted(
        (_score(c, ix, cfg) for c in _candidates(ix, cfg)),
        key=lambda c: (-c.score, c.start, c.end),
    )
    picks: list[Candidate] = []
    for c in scored:
        if len(picks) >= cfg.max_clips:
            break
        if all(c.end <= p.start or p.end <= c.start for p in picks):
            picks.append(c)
    return picks


@dataclass(frozen=True)
class NoClips:
    """Why an analysis yields no clip: a machine-readable code and a sentence for people, so
    that an empty result is never a bare success."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def why_no_clips(analysis: Analysis, cfg: SelectConfig | None = None) -> NoClips:
    """The reason ``select(analysis, cfg)`` returned no clip (ask only when it did)."""
    cfg = cfg or SelectConfig()
    if cfg.max_clips == 0:
        return NoClips("NO_CLIPS_ASKED", "max_clips is 0")
    ix = _index(analysis, cfg.max_duration)
    if not ix.word_starts:
        return NoClips("NO_SPEECH", "the transcript has no words, and clips are cut at "
                       "sentences: a video without speech yields none")  # fmt: skip
    speech = max(s.last for s in ix.sentences) - min(s.first for s in ix.sentences)
    bounds = f"{cfg.min_duration:g}-{cfg.max_duration:g} s"
    if speech < cfg.min_duration:
        return NoClips("SPEECH_TOO_SHORT", f"the speech lasts {speech:.1f} s, shorter than "
                       f"the shortest clip ({bounds})")  # fmt: skip
    return NoClips("NO_SPAN_FITS", f"no run of whole sentences or clauses lasts {bounds} "
                   f"({len(ix.sentences)} sentences and clauses over {speech:.1f} s of "
                   "speech): widen the duration bounds")  # fmt: skip
