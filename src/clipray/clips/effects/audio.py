"""The audio suite: censored words (bleeped or silenced) and denoising.

A censored word is matched on its text lower-cased with the punctuation stripped, so
``" Damn,"`` is the word ``damn``; its span (from the word timings, on the output's
timeline, padded a little as the timings are the recogniser's) is muted in the audio,
with a 1 kHz tone in its place in ``bleep`` mode, and the captions show it starred
(``d***``: the first letter kept). Denoising is FFmpeg's ``afftdn`` (FFT noise reduction).
Music is mixed under the speech, ducked by ``sidechaincompress`` keyed on the speech.
Sound effects (:func:`sfx_graph`) are mixed in at their instants in the same run.

:func:`audio_filter` writes the step as one FFmpeg audio chain, which runs on the clip's
audio before it is normalised: the loudness pass stays the last word on the level, so a
bleep or a quieter denoised track still comes out at the target loudness.

    >>> from clipray.schemas import Word
    >>> ws = [Word(0.2, 0.5, " Oh", 1), Word(0.6, 0.9, " Damn,", 1)]
    >>> censor_spans(ws, CensorConfig(("damn",)), 2.0)
    ((0.55, 0.95),)
    >>> [w.word for w in star_words(ws, ("damn",))]
    [' Oh', ' D***,']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from clipray.clips.effects.graph import CENSOR_MODES, Audio, CensorMode, GraphError, Sfx
from clipray.schemas import Word

MAX_WORDS = 50
"""Censored words per clip: a list, not a dictionary."""
MAX_WORD_LEN = 40
BLEEP_HZ = 1000
BLEEP_AMPLITUDE = 0.1
"""The bleep's peak (-20 dBFS, about a voice's level before normalisation): loud enough
to hear over nothing, not so loud the loudness pass turns the speech down around it."""
_NOT_WORD = re.compile(r"[^\w']+")


def word_key(word: str) -> str:
    """How a word is matched: lower-cased, punctuation stripped (apostrophes inside kept)."""
    return _NOT_WORD.sub("", word.lower()).strip("'")


@dataclass(frozen=True)
class CensorConfig:
    """Which words to censor, and how: ``bleep`` (a 1 kHz tone) or ``silence``."""

    words: tuple[str, ...]
    mode: CensorMode = "bleep"
    pad: float = 0.05
    """Seconds muted before and after each word: recognised word timings are a few
    tens of milliseconds loose, and a half-heard consonant gives the word away."""

    def __post_init__(self) -> None:
        keys = tuple(dict.fromkeys(word_key(w) for w in self.words))
        if not keys or len(keys) > MAX_WORDS or not all(0 < len(k) <= MAX_WORD_LEN for k in keys):
            raise GraphError(f"censor takes 1 to {MAX_WORDS} words of 1 to {MAX_WORD_LEN} "
                             f"letters: {list(self.words)!r}")  # fmt: skip
        if self.mode not in CENSOR_MODES:
            raise GraphError(f"censor mode must be one of {CENSOR_MODES}, not {self.mode!r}")
        object.__setattr__(self, "words", keys)

    @classmethod
    def of(cls, value: CensorConfig | Mapping[str, Any] | None) -> CensorConfig | None:
        """A censor setting as a job's stored settings hold it (``{"words": [...],
        "mode": ...}``); None, or no words, is no censoring."""
        if value is None or isinstance(value, CensorConfig):
            return value
        words = value.get("words") or ()
        if not words:
            return None
        return cls(tuple(words), value.get("mode", "bleep"))


def censor_spans(words: Iterable[Word], cfg: CensorConfig, duration: float
                 ) -> tuple[tuple[float, float], ...]:  # fmt: skip
    """The spans (output seconds, padded, inside ``[0, duration]``, overlaps merged) of
    the censored words among ``words`` (on the output's timeline)."""
    keys = set(cfg.words)
    spans = sorted((max(w.start - cfg.pad, 0.0), min(w.end + cfg.pad, duration))
                   for w in words if word_key(w.word) in keys)  # fmt: skip
    out: list[tuple[float, float]] = []
    for a, b in spans:
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple((round(a, 3), round(b, 3)) for a, b in out)


def star(word: str) -> str:
    """``word`` with everything after its first letter up to its last starred (an inner
    apostrophe too: it would tell the word's shape); spaces and punctuation around kept."""
    at = [i for i, c in enumerate(word) if c.isalnum()]
    if not at:
        return word
    a, b = at[0] + 1, at[-1] + 1
    return word[:a] + "*" * (b - a) + word[b:]


def star_words(words: Sequence[Word], censored: Iterable[str]) -> list[Word]:
    """``words`` with the censored ones starred, for the captions."""
    keys = {word_key(w) for w in censored}
    return [replace(w, word=star(w.word)) if word_key(w.word) in keys else w for w in words]


def plan_audio(words: Sequence[Word], duration: float, censor: CensorConfig | None,
               denoise: bool, music: str | None = None) -> Audio | None:  # fmt: skip
    """The audio step of a clip whose words (on the output's timeline) are ``words``; None
    (a passthrough) when no censored word is said, and no denoising or music is asked for."""
    spans = censor_spans(words, censor, duration) if censor is not None else ()
    if not spans and not denoise and not music:
        return None
    if not spans or censor is None:
        return Audio(denoise=denoise, music=music or None)
    return Audio(censor=censor.words, mode=censor.mode, spans=spans, denoise=denoise,
                 music=music or None)  # fmt: skip


def audio_filter(step: Audio) -> str | None:
    """The step as one FFmpeg audio filter chain; None when it changes nothing.

    The mute is ``aeval`` (sample-accurate, where ``volume``'s ``enable`` switches per
    audio frame of ~20 ms), and the bleep is drawn in the same expression, so no second
    source has to match the clip's rate and channel layout. Denoising runs first: the
    bleep is not noise."""
    chain = []
    if step.denoise:
        chain.append("afftdn=nr=12:nf=-50")
    if step.spans:
        inside = "gt(" + "+".join(f"between(t,{a},{b})" for a, b in step.spans) + ",0)"
        expr = f"val(ch)*(1-{inside})"
        if step.mode == "bleep":
            expr += f"+{BLEEP_AMPLITUDE}*sin(2*PI*{BLEEP_HZ}*t)*{inside}"
        chain.append(f"aeval='{expr}':c=same")
    return ",".join(chain) or None


MUSIC_GAIN_DB = -18.0
"""The music's level against the speech before ducking (both then normalised together):
a bed under the voice, not a second voice."""
DUCK = "sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400:makeup=1"
"""Ducking keyed on the speech: above -34 dBFS of speech the music is pressed down 8:1
(about 15 dB under a talking voice), in within 20 ms, back over 0.4 s after a phrase."""


def music_graph(step: Audio, out: str = "out") -> str:
    """A ``-filter_complex`` over the clip's audio (input 0) and the music (input 1,
    looped by the caller) with the step's chain on the speech, the music in the clip's
    layout and ducked under it, the two mixed into ``[out]`` as long as the clip."""
    speech = audio_filter(step) or "anull"
    return ";".join([
        f"[0:a]{speech},asplit=2[speech][key]",
        f"[1:a]aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo,"
        f"volume={MUSIC_GAIN_DB}dB[bed]",
        f"[bed][key]{DUCK}[ducked]",
        f"[speech][ducked]amix=inputs=2:duration=first:normalize=0[{out}]",
    ])  # fmt: skip


SFX_RATE = 48000
"""The clip audio's rate (``clips/loudness.extract``): a hit is delayed by whole samples."""


def sfx_keys(step: Sfx) -> list[str]:
    """The distinct sounds of ``step`` in the order of their first hit: one FFmpeg input
    each, however often it is played."""
    return list(dict.fromkeys(h.key for h in step.hits))


def sfx_graph(step: Sfx, clip: str, first: int) -> str:
    """Filters mixing ``step``'s hits into the clip's audio (the label ``clip``) as
    ``[out]``, as long as the clip: the sounds are inputs ``first``, ``first + 1`` ... in
    :func:`sfx_keys` order, each in the clip's layout, split among its hits, each hit at its
    gain and delayed to the sample of its ``at``. The mix adds (``normalize=0``): the
    loudness pass after it sets the level of the whole."""
    keys = sfx_keys(step)
    uses = {k: [n for n, h in enumerate(step.hits) if h.key == k] for k in keys}
    parts = []
    for i, key in enumerate(keys):
        outs = "".join(f"[s{n}]" for n in uses[key])
        parts.append(f"[{first + i}:a]aresample={SFX_RATE},"
                     f"aformat=sample_fmts=flt:channel_layouts=stereo,"
                     f"asplit={len(uses[key])}{outs}")  # fmt: skip
    for n, h in enumerate(step.hits):
        parts.append(f"[s{n}]volume={h.gain_db:.2f}dB,"
                     f"adelay=delays={round(h.at * SFX_RATE)}S:all=1[h{n}]")  # fmt: skip
    hits = "".join(f"[h{n}]" for n in range(len(step.hits)))
    parts.append(f"{clip}{hits}amix=inputs={len(step.hits) + 1}:duration=first:"
                 f"normalize=0[out]")  # fmt: skip
    return ";".join(parts)


__all__ = ["CensorConfig", "audio_filter", "censor_spans", "music_graph", "plan_audio",
           "sfx_graph", "sfx_keys", "star", "star_words", "word_key"]  # fmt: skip
