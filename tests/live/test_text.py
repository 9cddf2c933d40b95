"""Transcript signals: keyword triggers on whole, normalised words; sentences from words;
VADER sentiment shifts on real sentences."""

from __future__ import annotations

import pytest

from clipray.live.events import EventKind, LiveInputError
from clipray.live.settings import KeywordConfig, SentimentConfig
from clipray.live.text import (
    KeywordDetector,
    Sentence,
    SentenceTracker,
    SentimentDetector,
    tokens,
    vader_compound,
)
from clipray.schemas import Word
from tests.live import transcript

pytestmark = pytest.mark.unit


def said(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [Word(start + i * step, start + (i + 1) * step, f" {w}", 1.0)
            for i, w in enumerate(text.split())]  # fmt: skip


def hits(det: KeywordDetector, text: str, **kw: float) -> list[tuple[str, str, float, float]]:
    return [(e.detail["keyword"], e.detail["source"], round(e.t_start, 2), round(e.t_end, 2))
            for e in det.feed(said(text, **kw))]  # fmt: skip


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        pytest.param("goal", "what a GOAL!", ["goal"], id="case-and-punctuation"),
        pytest.param("go", "he is going home", [], id="no-match-inside-a-word"),
        pytest.param("go", "go, go, go", ["go", "go", "go"], id="each-occurrence"),
        pytest.param("café", "meet at the cafe\u0301 now", ["café"], id="unicode-nfkc"),
        pytest.param("\uff27\uff27", "that was gg", ["gg"], id="fullwidth-nfkc"),
        pytest.param("STRASSE", "die Straße hier", ["strasse"], id="casefold-sharp-s"),
        pytest.param("don't stop", "Don\u2019t stop me now", ["don't stop"], id="apostrophes"),
        pytest.param("game over", "the game is over", [], id="phrase-needs-adjacent-words"),
    ],
)
def test_keyword_matches_whole_normalised_words(keyword: str, text: str, expected: list[str]):
    det = KeywordDetector((keyword,), KeywordConfig(defaults=()))
    assert [h[0] for h in hits(det, text)] == expected


def test_phrase_spans_feeds_and_carries_word_times():
    det = KeywordDetector(("what a play",), KeywordConfig(defaults=()))
    assert hits(det, "oh what", start=10.0) == []
    [(kw, source, t0, t1)] = hits(det, "a play!", start=10.6)
    assert (kw, source) == ("what a play", "workspace")
    assert (t0, t1) == (10.3, 11.2)  # from "what" (10.3-10.6) to "play!" (10.9-11.2)


def test_workspace_keywords_outweigh_defaults():
    det = KeywordDetector(("touchdown",), KeywordConfig())
    events = det.feed(said("no way, touchdown!"))
    by_kw = {e.detail["keyword"]: e for e in events}
    assert set(by_kw) == {"no way", "touchdown"}
    assert by_kw["touchdown"].strength == 1.0 > by_kw["no way"].strength == 0.7
    assert all(e.kind is EventKind.KEYWORD for e in events)


def test_no_keyword_in_the_ljspeech_transcript_but_the_one_asked_for():
    det = KeywordDetector(("printing",), KeywordConfig())
    events = det.feed(transcript.words())
    text = " ".join(s[2] for s in transcript.sentences())
    assert len(events) == len(tokens(text)) - len([t for t in tokens(text) if t != "printing"])
    assert {e.detail["keyword"] for e in events} == {"printing"}


def test_a_bad_word_is_refused_with_a_code():
    det = KeywordDetector(("x",), KeywordConfig())
    with pytest.raises(LiveInputError) as err:
        det.feed([Word(2.0, 1.0, " x", 1.0)])
    assert err.value.code == "LIVE_INPUT_INVALID"
    with pytest.raises(LiveInputError):
        det.feed(["x"])  # type: ignore[list-item]


def test_sentences_end_at_punctuation_and_long_pauses():
    tracker = SentenceTracker(pause_s=0.8)
    done = tracker.feed(said("hello there. how are", step=0.3))
    assert [s.text for s in done] == ["hello there."]
    assert tracker.open_start == pytest.approx(0.6)
    done = tracker.feed(said("you doing", start=5.0))  # a 3.8 s pause closes "how are"
    assert [s.text for s in done] == ["how are"]
    assert [s.text for s in tracker.flush()] == ["you doing"]


def test_ljspeech_sentences_are_found_with_their_exact_edges():
    tracker = SentenceTracker(pause_s=0.8)
    truth = transcript.sentences()
    found = tracker.feed(transcript.words())
    assert len(found) == len(truth) == 32
    for s, (start, end, _) in zip(found, truth, strict=True):
        assert s.start == pytest.approx(start)
        assert s.end == pytest.approx(end - 0.02)


CALM = [
    "The meeting is scheduled for three o'clock in the main room.",
    "We will review the quarterly numbers and the plan for next year.",
    "The slides are in the folder on the desk.",
]
JOY = "Oh my god, this is amazing, absolutely wonderful, I love it so much!"
FURY = "This is terrible, awful, the worst disaster, I hate it!"


def test_vader_scores_real_sentences():
    assert all(abs(vader_compound(s)) < 0.3 for s in CALM)
    assert vader_compound(JOY) > 0.8
    assert vader_compound(FURY) < -0.8


def _sentences(texts: list[str]) -> list[Sentence]:
    return [Sentence(4.0 * i, 4.0 * i + 3.5, t) for i, t in enumerate(texts)]


def test_a_turn_to_joy_is_an_upward_shift_on_the_sentence_that_made_it():
    det = SentimentDetector(SentimentConfig(window_sentences=1))
    events = det.feed(_sentences([*CALM, JOY]))
    [e] = events
    assert e.kind is EventKind.SENTIMENT
    assert (e.t_start, e.t_end) == (12.0, 15.5)
    assert e.detail["direction"] == "up"
    assert e.detail["shift"] >= 0.5
    assert 0.5 <= e.strength <= 1.0


def test_joy_to_fury_is_a_downward_shift_and_steady_calm_is_none():
    det = SentimentDetector(SentimentConfig(window_sentences=1))
    events = det.feed(_sentences([JOY, FURY]))
    assert [e.detail["direction"] for e in events] == ["down"]
    assert events[0].strength == 1.0  # a swing of ~1.9 is twice the threshold and more
    calm = SentimentDetector(SentimentConfig())
    assert calm.feed(_sentences(CALM * 3)) == []


def test_read_speech_shifts_where_its_words_turn():
    """LJSpeech's text about typography turns from "ugly ones" to letters that "should be
    beautiful" (VADER: -0.51 then +0.80, +0.77, +0.74): the two-sentence windows shift up
    twice there and down where the praise gives way to plain description; the other 29
    sentences stay quiet (golden with vaderSentiment 3.3.2)."""
    det = SentimentDetector(SentimentConfig())
    tracker = SentenceTracker(pause_s=0.8)
    events = det.feed(tracker.feed(transcript.words()))
    assert [(round(e.t_start, 1), e.detail["direction"]) for e in events] == [
        (96.2, "up"), (105.7, "up"), (118.6, "down"),
    ]
    assert "beautiful" in events[0].detail["sentence"]
