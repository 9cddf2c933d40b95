"""Word error rate: golden cases small enough to count by hand."""

import pytest

from clipray.models.wer import align_words, normalize_words, word_error_rate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        pytest.param("ask not what", "ask not what", 0.0, id="identical"),
        pytest.param("ask not what", "ask nut what", 1 / 3, id="one-substitution"),
        pytest.param("ask not what", "ask not what now", 1 / 3, id="one-insertion"),
        pytest.param("ask not what", "ask what", 1 / 3, id="one-deletion"),
        pytest.param("ask not what", "", 1.0, id="empty-hypothesis"),
        pytest.param("a b", "x y z w", 2.0, id="insertions-exceed-one"),
        pytest.param(
            "And so, my fellow Americans: ask not!",
            "and so my FELLOW americans ask not",
            0.0,
            id="punctuation-and-case-ignored",
        ),
        pytest.param("don't stop", "Don\u2019t stop.", 0.0, id="curly-apostrophe"),
        pytest.param("the wood-cutters", "the wood cutters", 0.0, id="hyphen-splits"),
        pytest.param("the fifteenth century", "the 15th century", 1 / 3, id="numbers-not-spelled"),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


def test_empty_reference_is_an_error() -> None:
    with pytest.raises(ValueError, match="reference"):
        word_error_rate(" ... ", "anything")


def test_normalize_words() -> None:
    assert normalize_words(" Printing, in the  ONLY sense\u2014i.e. 42-line") == [
        "printing",
        "in",
        "the",
        "only",
        "sense",
        "i",
        "e",
        "42",
        "line",
    ]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "path"),
    [
        pytest.param("a b c", "a b c", [(0, 0), (1, 1), (2, 2)], id="match"),
        pytest.param("a b c", "a x c", [(0, 0), (1, 1), (2, 2)], id="substitution-paired"),
        pytest.param("a b c", "a c", [(0, 0), (1, None), (2, 1)], id="deletion"),
        pytest.param("a c", "a b c", [(0, 0), (None, 1), (1, 2)], id="insertion"),
        pytest.param("", "a", [(None, 0)], id="empty-reference"),
    ],
)
def test_align_words(reference: str, hypothesis: str, path: list) -> None:
    assert align_words(reference.split(), hypothesis.split()) == path
