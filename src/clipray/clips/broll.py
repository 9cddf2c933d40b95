"""Choosing a clip's B-roll cutaways and sound effects from the workspace's library.

Pure: the service hands over the library (``services/library.py``: each item's object key,
tags, title, duration and, when CLIP is configured, its source's indexed frame vectors with
a function that puts text through CLIP's text tower), and the plan hands over the clip's
words on the output's timeline (after any base cut). Nothing here reads a database, a
bucket or a model.

B-roll: the clip's sentences are the candidate moments. Each item is scored against a
moment's text by CLIP text-versus-frame similarity (the best frame's cosine) where the item
has frame vectors and a text encoder is given, else by how many of the moment's words are
among the item's tags and title words (a word the clip is tagged with counts twice).
The best pairs win, greedily: an insert of 1.5-3 s, never in the hook (the first 2 s) nor
the last second, inserts at least 4 s apart, at most ``max_inserts`` per clip, each item
once while unused items remain. The insert shows the item from its best-matching frame
(CLIP) or its middle (keywords). Ties break on time, then on the item's id, so the same
inputs give the same plan.

Sound effects: a library sound whose tag is a word spoken in the clip plays at that word's
start, at most one every 3 s and 5 per clip, 6 dB under its own level.

    >>> from clipray.schemas import Word
    >>> ws = [Word(float(t), t + 0.4, f" {w}", 1.0) for t, w in enumerate(
    ...     "so we went down to the ocean and the waves were huge .".split())]
    >>> sea = LibraryClip("i1", "ws/sources/s1/sea.mp4", "broll", ("ocean", "waves"), "sea", 12.0)
    >>> step = choose_broll(ws, 14.0, Library((sea,)))
    >>> [(i.start, i.end, i.key) for i in step.inserts]
    [(6.0, 9.0, 'ws/sources/s1/sea.mp4')]
    >>> boom = LibraryClip("i2", "ws/sources/s2/boom.wav", "sfx", ("huge",), "boom", 1.2)
    >>> choose_sfx(ws, 14.0, Library((boom,))).hits[0].at
    11.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from clipray.clips.effects.audio import word_key  # tags are matched as censored words are
from clipray.clips.effects.graph import FPS, BRoll, Insert, Sfx, SoundHit
from clipray.schemas import Word

LibraryKind = Literal["broll", "sfx"]
TextEncoder = Callable[[Sequence[str]], np.ndarray]
"""Texts -> one CLIP text vector per row (the space the indexed frames are in)."""

_SENTENCE_END = re.compile(r"[.!?][\"')\]\u201d\u2019]*$")
_STOPWORDS = (
    "a an and are as at be but by for from has have i in is it its of on or so that the "
    "this to was we were with you your they them our my me he she his her not no do did "
    "just very really what can about there here when where which will would could should "
    "been more some than then into like know think going want because said says"
)
_STOP = frozenset(_STOPWORDS.split())
"""Words too common to say what a moment shows: they match no tag."""


def title_words(title: str) -> frozenset[str]:
    """The words of an item's title (a file name: ``city_night-01`` is city, night, 01)."""
    return frozenset(w for w in re.split(r"[\W_]+", title.lower()) if w and w not in _STOP)


@dataclass(frozen=True, eq=False)
class LibraryClip:
    """A library item as a plan sees it."""

    id: str
    key: str
    """The source's object key on the workspace's media bucket (what the render reads)."""
    kind: LibraryKind
    tags: tuple[str, ...]
    title: str
    duration: float
    frame_times: np.ndarray | None = None
    """Seconds of the source's indexed frames (``N``), when it was analysed and CLIP is on."""
    frame_vectors: np.ndarray | None = None
    """Their CLIP image vectors (``N x D``, unit length)."""

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.tags) | title_words(self.title)

    @property
    def has_frames(self) -> bool:
        return self.frame_vectors is not None and len(self.frame_vectors) > 0


@dataclass(frozen=True, eq=False)
class Library:
    """The workspace's library for one plan; ``encode``: None without CLIP (keywords only)."""

    items: tuple[LibraryClip, ...] = ()
    encode: TextEncoder | None = None
    warnings: tuple[str, ...] = field(default=())
    """What a job's log should say (an empty library asked for)."""

    def of_kind(self, kind: LibraryKind) -> list[LibraryClip]:
        return sorted((i for i in self.items if i.kind == kind), key=lambda i: i.id)


@dataclass(frozen=True)
class BrollConfig:
    max_inserts: int = 3
    min_len: float = 1.5
    """A cutaway shorter than this is a flash, not a shot."""
    max_len: float = 3.0
    """Longer and the viewer loses the speaker."""
    hook: float = 2.0
    """The first seconds stay on the speaker: the hook is what stops the scroll."""
    tail: float = 1.0
    gap: float = 4.0
    """Seconds between one insert's end and the next one's start."""
    min_clip_score: float = 0.2
    """CLIP text-image cosines of unrelated pairs sit around 0.1-0.18; related ones above."""


@dataclass(frozen=True)
class SfxConfig:
    max_hits: int = 5
    gap: float = 3.0
    gain_db: float = -6.0


@dataclass(frozen=True)
class Moment:
    """A sentence of the clip on the output's timeline."""

    start: float
    end: float
    text: str
    words: tuple[tuple[float, str], ...]
    """Each word's start and key."""


def sentences(words: Sequence[Word], duration: float, pause: float = 0.7) -> list[Moment]:
    """The clip's sentences: runs of words ended by ``.``, ``!``, ``?`` or a pause."""
    out: list[Moment] = []
    run: list[Word] = []

    def close() -> None:
        if run:
            keys = tuple((w.start, word_key(w.word)) for w in run if word_key(w.word))
            text = "".join(w.word for w in run).strip()
            out.append(Moment(run[0].start, min(run[-1].end, duration), text, keys))
            run.clear()

    for w in words:
        if w.end <= 0 or w.start >= duration:
            continue
        if run and w.start - run[-1].end >= pause:
            close()
        run.append(w)
        if _SENTENCE_END.search(w.word.strip()):
            close()
    close()
    return out


def _snap(t: float) -> float:
    """On the output's frame grid, as every other cut point."""
    return round(round(t * FPS) / FPS, 3)


@dataclass(frozen=True)
class _Pair:
    score: float
    at: float
    """Where the insert would start (the first matching word, or the sentence's start)."""
    item: LibraryClip
    src_at: float | None
    """The best frame's time (CLIP), None: the item's middle."""


def _pairs(moments: Sequence[Moment], items: Sequence[LibraryClip], keys: frozenset[str],
           encode: TextEncoder | None, cfg: BrollConfig) -> list[_Pair]:  # fmt: skip
    texts = None
    if encode is not None and any(i.has_frames for i in items) and moments:
        texts = np.asarray(encode([m.text for m in moments]), dtype=np.float32)
        texts /= np.maximum(np.linalg.norm(texts, axis=1, keepdims=True), 1e-9)
    pairs: list[_Pair] = []
    for n, m in enumerate(moments):
        for item in items:
            if item.duration < cfg.min_len:
                continue
            if texts is not None and item.has_frames:
                sims = np.asarray(item.frame_vectors, dtype=np.float32) @ texts[n]
                best = int(np.argmax(sims))
                if float(sims[best]) >= cfg.min_clip_score:
                    t = float(np.asarray(item.frame_times)[best])
                    pairs.append(_Pair(float(sims[best]), m.start, item, t))
                continue
            hits = [(t, k) for t, k in m.words if k in item.words and k not in _STOP]
            if hits:
                score = sum(2 if k in keys else 1 for _, k in hits)
                pairs.append(_Pair(float(score), hits[0][0], item, None))
    return sorted(pairs, key=lambda p: (-p.score, p.at, p.item.id))


def choose_broll(words: Sequence[Word], duration: float, library: Library,
                 keywords: Sequence[str] = (), cfg: BrollConfig | None = None
                 ) -> BRoll | None:  # fmt: skip
    """The B-roll step of a clip of ``duration`` seconds whose ``words`` are on the output's
    timeline; None when nothing in the library fits (or it has no B-roll)."""
    cfg = cfg or BrollConfig()
    items = library.of_kind("broll")
    if not items or cfg.max_inserts < 1:
        return None
    keys = frozenset(word_key(k.strip("#")) for k in keywords)
    pairs = _pairs(sentences(words, duration), items, keys, library.encode, cfg)
    chosen: list[Insert] = []
    used: set[str] = set()
    for reuse in (False, True):  # each item once while an unused one fits
        for p in pairs:
            if len(chosen) >= cfg.max_inserts:
                break
            if not reuse and p.item.id in used:
                continue
            ins = _place(p, duration, cfg, chosen)
            if ins is not None:
                chosen.append(ins)
                used.add(p.item.id)
    if not chosen:
        return None
    return BRoll(tuple(sorted(chosen, key=lambda i: i.start)))


def _place(p: _Pair, duration: float, cfg: BrollConfig, taken: Sequence[Insert]
           ) -> Insert | None:  # fmt: skip
    start = _snap(max(p.at, cfg.hook))
    room = min(duration - cfg.tail, start + cfg.max_len) - start
    length = min(cfg.max_len, room, p.item.duration)
    length = math.floor(length * FPS) / FPS
    if length < cfg.min_len - 1e-9:
        return None
    end = _snap(start + length)
    for other in taken:
        if start < other.end + cfg.gap and other.start < end + cfg.gap:
            return None
    latest = max(p.item.duration - length, 0.0)
    wanted = latest / 2 if p.src_at is None else p.src_at - length / 2
    return Insert(start, end, p.item.key, round(min(max(wanted, 0.0), latest), 3))


def rank(library: Library, text: str, limit: int, cfg: BrollConfig | None = None
         ) -> list[LibraryClip]:  # fmt: skip
    """The library's B-roll that fits ``text``, best first, at most ``limit`` (what a
    provider answers): scored as a moment of the clip would be."""
    keys = tuple((0.0, k) for k in (word_key(w) for w in text.split()) if k)
    moment = Moment(0.0, 0.0, text, keys)
    pairs = _pairs([moment], library.of_kind("broll"), frozenset(), library.encode,
                   cfg or BrollConfig())  # fmt: skip
    return [p.item for p in pairs][:max(limit, 0)]


def topics(words: Iterable[Word], n: int = 3, min_len: int = 4) -> list[str]:
    """The ``n`` words said most often (of at least ``min_len`` letters, not common ones),
    first said first on a tie: what to search stock footage for."""
    counts: dict[str, int] = {}
    for w in words:
        k = word_key(w.word)
        if len(k) >= min_len and k not in _STOP:
            counts[k] = counts.get(k, 0) + 1
    order = {k: i for i, k in enumerate(counts)}
    return sorted(counts, key=lambda k: (-counts[k], order[k]))[:max(n, 0)]


def choose_sfx(words: Sequence[Word], duration: float, library: Library,
               cfg: SfxConfig | None = None) -> Sfx | None:  # fmt: skip
    """The sound-effects step: a library sound on each spoken word that is one of its tags
    (the first sound by id where two share a tag); None when no tag is spoken."""
    cfg = cfg or SfxConfig()
    by_tag: dict[str, LibraryClip] = {}
    for item in library.of_kind("sfx"):
        for tag in item.tags:
            by_tag.setdefault(tag, item)
    hits: list[SoundHit] = []
    for w in sorted(words, key=lambda w: w.start):
        if len(hits) >= cfg.max_hits:
            break
        item = by_tag.get(word_key(w.word))
        if item is None or w.start < 0 or w.start >= duration:
            continue
        if hits and w.start < hits[-1].at + cfg.gap:
            continue
        hits.append(SoundHit(round(float(w.start), 3), item.key, cfg.gain_db))
    return Sfx(tuple(hits)) if hits else None


__all__ = [
    "BrollConfig", "Library", "LibraryClip", "Moment", "SfxConfig", "TextEncoder",
    "choose_broll", "choose_sfx", "rank", "sentences", "title_words", "topics", "word_key",
]  # fmt: skip
