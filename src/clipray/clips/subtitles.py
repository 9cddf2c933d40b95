"""A transcript as subtitles: SubRip (``.srt``) and WebVTT (``.vtt``), one cue per segment.

Pure: segments in, text out. Cue text is kept on one line (a blank line would end an SRT
cue early), and what either format would read as markup is escaped or dropped.

    >>> print(to_srt([{"start": 0.0, "end": 1.5, "text": " Hello there."}]), end="")
    1
    00:00:00,000 --> 00:00:01,500
    Hello there.
    <BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_SPACE = re.compile(r"\s+")


def timestamp(t: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``sep="."``, ``HH:MM:SS.mmm`` (WebVTT)."""
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(segments: Iterable[Mapping[str, Any]]) -> list[tuple[float, float, str]]:
    cues = []
    for seg in segments:
        text = _SPACE.sub(" ", str(seg.get("text", ""))).strip().replace("-->", "->")
        start, end = float(seg["start"]), float(seg["end"])
        if text and end > start:
            cues.append((start, end, text))
    return cues


def to_srt(segments: Iterable[Mapping[str, Any]]) -> str:
    """SubRip: numbered cues from 1, ``HH:MM:SS,mmm`` times, a blank line after each."""
    return "".join(f"{i}\n{timestamp(a)} --> {timestamp(b)}\n{text}\n\n"
                   for i, (a, b, text) in enumerate(_cues(segments), start=1))  # fmt: skip


def to_vtt(segments: Iterable[Mapping[str, Any]]) -> str:
    """WebVTT: the ``WEBVTT`` header, then cues with ``HH:MM:SS.mmm`` times; ``&``, ``<``
    and ``>`` escaped, since a browser reads cue text as markup."""
    body = "".join(
        f"{timestamp(a, '.')} --> {timestamp(b, '.')}\n"
        f"{text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}\n\n"
        for a, b, text in _cues(segments)
    )
    return "WEBVTT\n\n" + body
