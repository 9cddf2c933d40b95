"""Signals of a live transcript, fed word by word: keyword triggers, sentences and the
sentiment shifts between them.

Keywords are matched on whole words of the transcript (``"go"`` never fires inside
``"going"``), case-insensitively and after Unicode normalisation (NFKC, case folding), so
that ``"Café"`` as the ASR writes it matches ``"cafe\u0301"`` as a user typed it; a phrase
matches across the words, and across the worker's feeds, that make it up.

Sentences end at final punctuation or at a long pause. Each finished sentence gets VADER's
compound score (a maintained lexicon and rule set tuned on social-media text, from the
``vaderSentiment`` package); the mean of the newest ``window_sentences`` sentences against
the mean of the ones before them is the shift, and a large shift (a calm stream turning
furious, a sad one turning jubilant) is an event.

    >>> kw = KeywordDetector(("let's go",), KeywordConfig())
    >>> [e.detail["keyword"] for e in kw.feed([Word(1.0, 1.2, " Let's", 1.0),
    ...                                         Word(1.2, 1.5, " GO!", 1.0)])]
    ["let's go"]
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from clipray.live.events import Event, EventKind, LiveInputError, finite_time, strength
from clipray.live.settings import KeywordConfig, SentimentConfig
from clipray.schemas import Word

SentimentFn = Callable[[str], float]
"""``compound(text) -> [-1, 1]``: VADER's compound score by default; a seam for tests and
for another language's lexicon."""

_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"')\]\u201d\u2019]*$")
_ABBREVIATION = re.compile(r"^(?:\w\.){2,}$|^(?:mr|mrs|ms|dr|prof|st|vs|jr|sr)\.$", re.I)
"""A full stop that ends an abbreviation (``i.e.``, ``e.g.``, ``Dr.``), not a sentence."""


def normalise(text: str) -> str:
    """Text as keywords compare it: NFKC (compatibility forms, composed accents), case
    folded, typographic apostrophes made plain."""
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")


def tokens(text: str) -> tuple[str, ...]:
    """The normalised words of ``text``; punctuation separates words and is dropped."""
    return tuple(_TOKEN.findall(normalise(text)))


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def _checked(words: Iterable[Word]) -> list[Word]:
    out = []
    for w in words:
        if not isinstance(w, Word):
            raise LiveInputError(f"a transcript word must be a Word, not {type(w).__name__}")
        finite_time(w.start, "a word's start")
        finite_time(w.end, "a word's end")
        if w.end < w.start:
            raise LiveInputError(f"a word ends ({w.end:g} s) before it starts ({w.start:g} s)")
        out.append(w)
    return out


class KeywordDetector:
    """Keyword and phrase triggers: the workspace's keywords at full strength, the
    defaults at less; each match is one event over the words that said it."""

    def __init__(self, keywords: Sequence[str], cfg: KeywordConfig) -> None:
        self.cfg = cfg
        self._phrases: dict[tuple[str, ...], tuple[str, str]] = {}
        for source, items in (("default", cfg.defaults), ("workspace", keywords)):
            for kw in items:
                toks = tokens(kw)
                if toks:  # a workspace keyword overrides an equal default
                    self._phrases[toks] = (" ".join(toks), source)
        self._longest = max((len(p) for p in self._phrases), default=1)
        self._tail: deque[_Token] = deque(maxlen=max(0, self._longest - 1))

    def feed(self, words: Iterable[Word]) -> list[Event]:
        """Take transcribed words in order; one event per phrase that ends in them."""
        out: list[Event] = []
        for w in _checked(words):
            for tok in tokens(w.word):
                recent = [*self._tail, _Token(tok, w.start, w.end)]
                for n in range(1, len(recent) + 1):
                    run = recent[-n:]
                    hit = self._phrases.get(tuple(t.text for t in run))
                    if hit:
                        keyword, source = hit
                        power = (self.cfg.workspace_strength if source == "workspace"
                                 else self.cfg.default_strength)  # fmt: skip
                        out.append(Event(EventKind.KEYWORD, run[0].start, run[-1].end, power,
                                         {"keyword": keyword, "source": source}))  # fmt: skip
                if self._tail.maxlen:
                    self._tail.append(recent[-1])
        return out


@dataclass(frozen=True)
class Sentence:
    """A finished sentence of the live transcript."""

    start: float
    end: float
    text: str


class SentenceTracker:
    """Words into sentences: a sentence ends at a word with final punctuation, or before a
    pause of ``pause_s`` (live ASR often leaves out the full stop). Keeps the sentences of
    the last ``keep_s`` seconds for clip edges to snap to."""

    def __init__(self, pause_s: float, keep_s: float = math.inf) -> None:
        self.pause_s = pause_s
        self.keep_s = keep_s
        self._open: list[Word] = []
        self.sentences: deque[Sentence] = deque()

    def feed(self, words: Iterable[Word]) -> list[Sentence]:
        """Take words in order; the sentences they finished."""
        done: list[Sentence] = []
        for w in _checked(words):
            if self._open and w.start - self._open[-1].end >= self.pause_s:
                done.append(self._close())
            self._open.append(w)
            text = w.word.strip()
            if _SENTENCE_END.search(text) and not _ABBREVIATION.match(text):
                done.append(self._close())
        if done:
            latest = done[-1].end
            while self.sentences and self.sentences[0].end < latest - self.keep_s:
                self.sentences.popleft()
        return done

    def flush(self) -> list[Sentence]:
        """The sentence still open (the stream stopped mid-sentence)."""
        return [self._close()] if self._open else []

    @property
    def open_start(self) -> float | None:
        """Where the sentence still being spoken began."""
        return self._open[0].start if self._open else None

    def _close(self) -> Sentence:
        words, self._open = self._open, []
        s = Sentence(words[0].start, words[-1].end, " ".join("".join(w.word for w in words)
                                                             .split()))  # fmt: skip
        self.sentences.append(s)
        return s


@cache
def _vader() -> Callable[[str], dict[str, float]]:
    # Imported here: the lexicon (7,500 entries) loads once per process, when the first
    # stream needs it, not when the package is imported.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer().polarity_scores


def vader_compound(text: str) -> float:
    """VADER's compound score of ``text`` in ``[-1, 1]``."""
    return float(_vader()(text)["compound"])


class SentimentDetector:
    """Sentiment shifts between rolling windows of sentences."""

    def __init__(self, cfg: SentimentConfig, compound: SentimentFn = vader_compound) -> None:
        self.cfg = cfg
        self.compound = compound
        self._scored: deque[tuple[Sentence, float]] = deque(maxlen=2 * cfg.window_sentences)

    def feed(self, sentences: Iterable[Sentence]) -> list[Event]:
        """Take finished sentences; an event for each whose window shifted."""
        out: list[Event] = []
        n = self.cfg.window_sentences
        for s in sentences:
            self._scored.append((s, self.compound(s.text)))
            if len(self._scored) < n + 1:
                continue
            items = list(self._scored)
            new, old = items[-n:], items[:-n]
            now = sum(c for _, c in new) / len(new)
            before = sum(c for _, c in old) / len(old)
            shift = now - before
            if abs(shift) >= self.cfg.shift_threshold:
                out.append(Event(
                    EventKind.SENTIMENT, s.start, s.end,
                    strength(abs(shift), self.cfg.shift_threshold),
                    {"compound": round(now, 4), "before": round(before, 4),
                     "shift": round(shift, 4), "direction": "up" if shift > 0 else "down",
                     "sentence": s.text[:200]},
                ))  # fmt: skip
        return out
