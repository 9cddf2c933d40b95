"""Sentences longer than a clip are cut at their breaks; an empty selection says why."""

from __future__ import annotations

import random
from typing import Any

import pytest

from clipray.clips import select as sel
from clipray.clips.select import SelectConfig
from clipray.clips.sentences import split_long_sentence
from clipray.domain.analysis import Analysis
from clipray.schemas import Word

# The JFK sentence as tiny.en heard it in one run: one 10.4 s segment, no full stop inside.
JFK_WORDS = [
    (0.1, 0.74, " And"), (0.74, 1.08, " so,"), (1.38, 1.42, " my"), (1.42, 1.76, " fellow"),
    (1.76, 2.26, " Americans"), (2.26, 3.88, " ask"), (3.88, 4.52, " not"),
    (4.52, 5.7, " what"), (5.7, 6.02, " your"), (6.02, 6.36, " country"),
    (6.36, 6.76, " can"), (6.76, 7.02, " do"), (7.02, 7.26, " for"), (7.26, 8.26, " you,"),
    (8.32, 8.66, " ask"), (8.66, 8.94, " what"), (8.94, 9.28, " you"), (9.28, 9.5, " can"),
    (9.5, 9.72, " do"), (9.72, 9.92, " for"), (9.92, 10.24, " your"),
    (10.24, 10.48, " country."),
]  # fmt: skip


def _words(spec: list[tuple[float, float, str]]) -> list[Word]:
    return [Word(s, e, w, 0.9) for s, e, w in spec]


def _word_rows(spec: list[tuple[float, float, str]]) -> list[dict[str, Any]]:
    return [{"start": s, "end": e, "word": w, "probability": 0.9} for s, e, w in spec]


# The documents are written in the stored shape; selection reads them as an Analysis.
def select(doc: dict[str, Any], cfg: SelectConfig) -> list[sel.Candidate]:
    return sel.select(Analysis.from_json(doc), cfg)


def candidates(doc: dict[str, Any], cfg: SelectConfig) -> list[sel.Candidate]:
    return sel.candidates(Analysis.from_json(doc), cfg)


def why_no_clips(doc: dict[str, Any], cfg: SelectConfig) -> sel.NoClips:
    return sel.why_no_clips(Analysis.from_json(doc), cfg)


def _doc(segments: list[list[tuple[float, float, str]]], duration: float) -> dict[str, Any]:
    segs = [
        {"start": ws[0][0], "end": ws[-1][1], "text": "".join(w for *_, w in ws),
         "words": _word_rows(ws)}
        for ws in segments
    ]  # fmt: skip
    return {
        "source": {"id": "src-jfk", "duration": duration, "has_audio": True},
        "transcript": {"segments": segs},
        "scenes": [{"start": 0.0, "kind": "start"}, {"start": 8.0, "kind": "cut"}],
        "audio": {"peaks": []},
        "faces": {"sample_fps": 2.0, "tracks": []},
    }


def _texts(words: list[tuple[float, float, str]], runs: list[tuple[int, int]]) -> list[str]:
    return ["".join(w for *_, w in words[lo:hi]).strip() for lo, hi in runs]


@pytest.mark.parametrize(
    ("words", "max_len", "texts"),
    [
        pytest.param(JFK_WORDS, 12.0, ["And so, my fellow Americans ask not what your country "
                     "can do for you, ask what you can do for your country."], id="fits-uncut"),
        pytest.param(JFK_WORDS, 10.0, ["And so,", "my fellow Americans ask not what your "
                     "country can do for you, ask what you can do for your country."],
                     id="jfk-at-the-comma-and-pause"),
        pytest.param(JFK_WORDS, 5.0, ["And so,", "my fellow Americans ask not", "what your "
                     "country can do for you,", "ask what you can do for your country."],
                     id="jfk-in-four"),
        pytest.param([(0, 3, " one"), (3, 6, " two"), (6.8, 9, " three"), (9, 12, " four")],
                     8.0, ["one two", "three four"], id="at-the-pause"),
        pytest.param([(0, 3, " we"), (3, 6, " stayed"), (6, 9, " but"), (9, 12, " left")],
                     8.0, ["we stayed", "but left"], id="before-a-conjunction"),
        pytest.param([(0, 20, " Soooo.")], 5.0, ["Soooo."], id="one-word-is-never-cut"),
    ],
)  # fmt: skip
def test_long_sentences_are_cut_at_their_breaks(words, max_len, texts) -> None:
    assert _texts(words, split_long_sentence(_words(words), max_len)) == texts


def test_runs_cover_the_sentence_in_order_and_fit() -> None:
    rng = random.Random(7)  # noqa: S311 - synthetic test data, not a secret
    for _ in range(200):
        t, spec = 0.0, []
        for _ in range(rng.randint(2, 60)):
            t += rng.choice([0.0, 0.0, 0.05, 0.3, 0.9])
            length = rng.uniform(0.1, 0.9)
            spec.append((t, t + length, rng.choice([" a", " b,", " and", " c;"])))
            t += length
        max_len = rng.uniform(1.0, 15.0)
        runs = split_long_sentence(_words(spec), max_len)
        assert [i for lo, hi in runs for i in range(lo, hi)] == list(range(len(spec)))
        for lo, hi in runs:
            assert hi - lo == 1 or spec[hi - 1][1] - spec[lo][0] <= max_len


def test_a_sentence_longer_than_the_longest_clip_still_yields_a_clip() -> None:
    """The 16 s JFK job with max_duration 10 ended with no clip when ASR returned the
    sentence as one 10.4 s segment."""
    doc = _doc([JFK_WORDS], duration=16.0)
    cfg = SelectConfig(max_clips=1, min_duration=3.0, max_duration=10.0)
    (clip,) = select(doc, cfg)
    assert 3.0 <= clip.duration <= 10.0
    assert clip.text.endswith("ask what you can do for your country.")
    starts = [s for s, _, _ in JFK_WORDS]
    ends = [e for _, e, _ in JFK_WORDS]
    for edge in (clip.start, clip.end):  # never inside a word
        assert not any(s < edge < e for s, e in zip(starts, ends, strict=True))
    assert all(3.0 <= c.duration <= 10.0 for c in candidates(doc, cfg))


def test_sentences_that_fit_are_never_cut() -> None:
    doc = _doc([JFK_WORDS], duration=16.0)
    (clip,) = candidates(doc, SelectConfig(max_clips=1, min_duration=3.0, max_duration=11.0))
    assert clip.text.startswith("And so,")
    assert clip.text.endswith("country.")


@pytest.mark.parametrize(
    ("segments", "cfg", "code"),
    [
        pytest.param([], SelectConfig(1, 3.0, 10.0), "NO_SPEECH", id="no-speech"),
        pytest.param([[(0.5, 1.0, " Hi."), (1.2, 1.8, " Bye.")]], SelectConfig(1, 3.0, 10.0),
                     "SPEECH_TOO_SHORT", id="too-short"),
        pytest.param([[(0.0, 2.0, " Hello.")], [(20.0, 22.0, " Again.")]],
                     SelectConfig(1, 5.0, 10.0), "NO_SPAN_FITS", id="nothing-fits"),
        pytest.param([JFK_WORDS], SelectConfig(0, 3.0, 10.0), "NO_CLIPS_ASKED", id="zero-asked"),
    ],
)  # fmt: skip
def test_an_empty_selection_says_why(segments, cfg, code) -> None:
    doc = _doc(segments, duration=30.0) if segments else {**_doc([JFK_WORDS], 30.0),
                                                         "transcript": {"segments": []}}
    assert select(doc, cfg) == []
    why = why_no_clips(doc, cfg)
    assert why.code == code
    assert why.message
    assert why.to_json() == {"code": code, "message": why.message}
