"""The LJSpeech test transcript as live words: its 32 sentences with their exact start and
end (the shared media's ground truth), each sentence's words spread evenly over it."""

from __future__ import annotations

import csv

from clipray.schemas import Word
from tests.conftest import MEDIA

LJSPEECH = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032"


def sentences() -> list[tuple[float, float, str]]:
    """``(start, end, text)`` of each sentence, as ``segments.tsv`` gives them."""
    with open(f"{LJSPEECH}.segments.tsv", encoding="utf-8", newline="") as f:
        return [(float(r["start_s"]), float(r["end_s"]), r["text"])
                for r in csv.DictReader(f, delimiter="\t")]  # fmt: skip


def words_of(start: float, end: float, text: str, final: str = ".") -> list[Word]:
    """The sentence's words evenly over ``[start, end]``; the last one ends with
    ``final`` unless it has its own punctuation."""
    parts = text.split()
    step = (end - start) / len(parts)
    out = []
    for i, p in enumerate(parts):
        if i == len(parts) - 1 and p[-1] not in ".!?":
            p += final
        out.append(Word(start + i * step, start + (i + 1) * step - 0.02, f" {p}", 0.9))
    return out


def words() -> list[Word]:
    return [w for s in sentences() for w in words_of(*s)]
