"""The workspace library's vocabulary: what kinds of items it holds, the rules of their tags
and of the sources each kind takes, and an item as every door shows it.

A library item marks one of the workspace's sources as material for its clips: ``broll``
(footage cut away to while someone speaks) or ``sfx`` (a short sound played on a spoken
word). The source stays a source; removing the item leaves it.

    >>> normalise_tags([" Ocean", "waves", "ocean"])
    ('ocean', 'waves')
    >>> source_problem("sfx", duration_s=14.0, has_video=False, has_audio=True)
    'a sound effect lasts at most 10 s; this source lasts 14.0 s'
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from clipray.domain.errors import CodedError


class LibraryKind(enum.StrEnum):
    BROLL = "broll"
    SFX = "sfx"


MAX_TAGS = 20
MAX_TAG_LEN = 32
SFX_MAX_S = 10.0
"""A sound effect punctuates a word: longer, it is music (the audio step's ``music``)."""
BROLL_MIN_S = 1.5
"""The shortest cutaway a clip shows (``clips/broll.py``): shorter footage never fits."""
_TAG = re.compile(r"^[^\W_]+(?:[-'][^\W_]+)*$")
"""A word: letters and digits, joined by a hyphen or an apostrophe (``slow-motion``)."""


class LibraryTagsInvalidError(CodedError):
    """Tags that are not 1 to 20 words of 1 to 32 characters."""

    status = 422

    def __init__(self, message: str) -> None:
        super().__init__("LIBRARY_TAGS_INVALID", message)


def normalise_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The tags lower-cased and trimmed, repeats dropped, in the order given.

    Raises:
        LibraryTagsInvalidError: none, more than 20, or one that is not a word of 1 to 32
            characters.
    """
    out = tuple(dict.fromkeys(t.strip().lower() for t in tags))
    if not 1 <= len(out) <= MAX_TAGS:
        raise LibraryTagsInvalidError(f"give 1 to {MAX_TAGS} tags, not {len(out)}")
    for t in out:
        if not 1 <= len(t) <= MAX_TAG_LEN or not _TAG.match(t):
            raise LibraryTagsInvalidError(f"a tag is one word of 1 to {MAX_TAG_LEN} letters or "
                                          f"digits, not {t[:40]!r}")  # fmt: skip
    return out


def source_problem(kind: LibraryKind | str, duration_s: float, has_video: bool,
                   has_audio: bool) -> str | None:  # fmt: skip
    """Why a source cannot be a library item of ``kind``; None when it can."""
    if kind == LibraryKind.BROLL:
        if not has_video:
            return "B-roll is footage: this source has no video stream"
        if duration_s < BROLL_MIN_S:
            return f"B-roll lasts at least {BROLL_MIN_S} s; this source lasts {duration_s:.1f} s"
        return None
    if not has_audio:
        return "a sound effect is a sound: this source has no audio stream"
    if duration_s > SFX_MAX_S:
        return f"a sound effect lasts at most {SFX_MAX_S:g} s; this source lasts {duration_s:.1f} s"
    return None


@dataclass(frozen=True)
class LibraryEntry:
    """A library item with what it shows of its source."""

    id: str
    source_id: str
    kind: LibraryKind
    tags: tuple[str, ...]
    title: str
    """The source's file name, without its extension."""
    duration_s: float
    created_at: datetime
    storage_key: str
    """The source's object key on the workspace's media bucket (what a render reads)."""


__all__ = [
    "BROLL_MIN_S", "MAX_TAGS", "MAX_TAG_LEN", "SFX_MAX_S", "LibraryEntry", "LibraryKind",
    "LibraryTagsInvalidError", "normalise_tags", "source_problem",
]  # fmt: skip
