"""Cutting a sentence that is longer than any clip at its natural breaks.

A clip is a run of whole sentences (``clips/select.py``), so a sentence longer than the
longest clip would yield no clip at all: a 10.4 s sentence and ``max_duration`` 10 left a
16 s talk without one. Such a sentence is cut where a speaker would pause: after a comma,
semicolon, colon or dash, before a conjunction, in the longest gap between words. Pure
functions over the analysis' words (:class:`~clipray.schemas.Word`).

    >>> from clipray.schemas import Word
    >>> words = [Word(0.0, 4.0, " one,", 1.0), Word(4.1, 8.0, " two", 1.0)]
    >>> split_long_sentence(words, max_len=5.0)
    [(0, 1), (1, 2)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clipray.schemas import Word

_CLAUSE_END = re.compile(r"[,;:\u2013\u2014-][\"')\]\u201d\u2019]*$")
_CONJUNCTIONS = frozenset(
    ("and", "but", "or", "nor", "so", "yet", "because", "although", "though", "while",
     "whereas", "which", "who", "when", "where", "unless", "until", "since", "if", "then")
)  # fmt: skip
"""Words that open a clause: a sentence may be cut before them."""
_BREAK_CLAUSE = 1.0  # a comma, semicolon, colon or dash closes the word before the cut
_BREAK_CONJUNCTION = 0.5  # a conjunction opens the word after it
_BREAK_PAUSE_FULL_S = 0.5  # a pause this long is as good a break as a clause end


def _break_strength(words: Sequence[Word], k: int) -> float:
    """How good a cut between ``words[k]`` and ``words[k + 1]`` is: a clause end before it,
    a conjunction after it, and the pause between them (full marks at 0.5 s)."""
    before, after = words[k].word.strip(), words[k + 1].word.strip()
    pause = max(0.0, words[k + 1].start - words[k].end)
    opener = re.sub(r"^\W+|\W+$", "", after).casefold()
    return (
        _BREAK_CLAUSE * bool(_CLAUSE_END.search(before))
        + _BREAK_CONJUNCTION * (opener in _CONJUNCTIONS)
        + min(pause, _BREAK_PAUSE_FULL_S) / _BREAK_PAUSE_FULL_S
    )


def split_long_sentence(
    words: Sequence[Word], max_len: float
) -> list[tuple[int, int]]:
    """Cut one sentence's words into runs no longer than ``max_len`` seconds at its
    strongest breaks (clause ends, conjunctions, pauses).

    A sentence longer than the longest clip would otherwise yield no clip at all: a whole
    sentence is the unit of selection. A run that already fits is never cut. A run that
    does not is cut at its strongest break; of equal breaks, one that leaves both sides
    fitting wins, then the one nearer the middle. A single word is never cut.

    Returns:
        ``(first, end)`` word index ranges covering ``words`` in order.
    """

    def span(lo: int, hi: int) -> float:
        return words[hi - 1].end - words[lo].start

    def cut(lo: int, hi: int) -> list[tuple[int, int]]:
        if hi - lo < 2 or span(lo, hi) <= max_len:
            return [(lo, hi)]
        middle = (words[lo].start + words[hi - 1].end) / 2

        def rank(k: int) -> tuple[float, bool, float]:
            fits = span(lo, k + 1) <= max_len and span(k + 1, hi) <= max_len
            at = (words[k].end + words[k + 1].start) / 2
            return _break_strength(words, k), fits, -abs(at - middle)

        k = max(range(lo, hi - 1), key=rank)
        return cut(lo, k + 1) + cut(k + 1, hi)

    return cut(0, len(words)) if words else []
