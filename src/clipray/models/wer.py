"""Word error rate and the word alignment behind it, pure Python, no dependencies.

Used to hold ASR to a number in tests and benchmarks. Normalisation is deliberately thin:
case and punctuation are ignored, but nothing is spelled out (``"15th"`` and
``"fifteenth"`` stay different words), so a model that writes numbers as digits pays for
it against a reference that spells them. That keeps the metric honest and predictable.

    >>> word_error_rate("And so, my fellow Americans", "and so my fellow americans!")
    0.0
    >>> word_error_rate("ask not what", "ask what")
    0.3333333333333333
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_NOT_WORD = re.compile(r"[^\w]+|_+")


def normalize_words(text: str) -> list[str]:
    """Split ``text`` into comparable words: case-folded, apostrophes dropped (``don't`` ->
    ``dont``, so a curly and a straight quote agree) and every other punctuation mark a word
    boundary (``wood-cutters`` -> ``wood cutters``)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text)).split()


def align_words(reference: list[str], hypothesis: list[str]) -> list[tuple[int | None, int | None]]:
    """A minimum-edit alignment of two word lists.

    Returns:
        The edit path in order, as ``(ref_index, hyp_index)`` pairs: both set for a match or
        a substitution, ``(i, None)`` for a deletion, ``(None, j)`` for an insertion. Every
        index of both lists appears exactly once. Ties prefer a match or substitution, so
        that a reference word is paired with a hypothesis word whenever the cost allows.
    """
    n, m = len(reference), len(hypothesis)
    # cost[i][j]: edits turning reference[:i] into hypothesis[:j]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        ref_word, row, above = reference[i - 1], cost[i], cost[i - 1]
        for j in range(1, m + 1):
            diagonal = above[j - 1] + (ref_word != hypothesis[j - 1])
            row[j] = min(diagonal, above[j] + 1, row[j - 1] + 1)

    path: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if (
            i > 0
            and j > 0
            and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1])
        ):
            i, j = i - 1, j - 1
            path.append((i, j))
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
            path.append((i, None))
        else:
            j -= 1
            path.append((None, j))
    path.reverse()
    return path


def word_error_rate(reference: str, hypothesis: str) -> float:
    """``(substitutions + deletions + insertions) / reference words`` after
    :func:`normalize_words`. Can exceed 1 when the hypothesis inserts many words.

    Raises:
        ValueError: if the reference has no words (the rate is undefined).
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        raise ValueError("word_error_rate needs a reference with at least one word")
    errors = sum(1 for r, h in align_words(ref, hyp) if r is None or h is None or ref[r] != hyp[h])
    return errors / len(ref)
