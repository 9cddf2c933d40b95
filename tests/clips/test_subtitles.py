"""Transcripts as SubRip and WebVTT: the text is what FFmpeg's own readers parse back, cue
for cue, times to the centisecond (what its ASS writer keeps)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from clipray.clips.subtitles import timestamp, to_srt, to_vtt

SEGMENTS = [
    {"start": 0.0, "end": 4.5, "text": " And so my fellow Americans,"},
    {"start": 4.5, "end": 7.8, "text": " ask not what your country\ncan do for you,"},
    {"start": 7.8, "end": 7.8, "text": " (an empty cue is dropped)"},
    {"start": 8.0, "end": 9.0, "text": "   "},
    {"start": 3725.25, "end": 3726.004, "text": "R&D <for> a --> b"},
]
CUES = [(0.0, 4.5, "And so my fellow Americans,"),
        (4.5, 7.8, "ask not what your country can do for you,"),
        (3725.25, 3726.0, "R&D <for> a -> b")]  # fmt: skip
_DIALOGUE = re.compile(r"^Dialogue: \d+,(\d+):(\d\d):(\d\d)\.(\d\d),(\d+):(\d\d):(\d\d)\.(\d\d),"
                       r"[^,]*,[^,]*,\d+,\d+,\d+,[^,]*,(.*)$")  # fmt: skip


def _seconds(h: str, m: str, s: str, cs: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(cs) / 100


def parse_back(text: str, suffix: str, tmp_path: Path) -> list[tuple[float, float, str]]:
    """The cues FFmpeg reads from ``text`` (an .srt or .vtt file), through its ASS writer."""
    path = tmp_path / f"t{suffix}"
    path.write_text(text, encoding="utf-8")
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "ass", "-"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    cues = []
    for line in out.splitlines():
        m = _DIALOGUE.match(line)
        if m:
            g = m.groups()
            cues.append((_seconds(*g[0:4]), _seconds(*g[4:8]), g[8]))
    return cues


@pytest.mark.parametrize(
    ("t", "srt", "vtt"),
    [
        pytest.param(0.0, "00:00:00,000", "00:00:00.000", id="zero"),
        pytest.param(4.5, "00:00:04,500", "00:00:04.500", id="half"),
        pytest.param(59.9996, "00:01:00,000", "00:01:00.000", id="rounds-up-a-minute"),
        pytest.param(3725.25, "01:02:05,250", "01:02:05.250", id="an-hour"),
        pytest.param(-0.2, "00:00:00,000", "00:00:00.000", id="never-negative"),
    ],
)
def test_timestamps(t: float, srt: str, vtt: str) -> None:
    assert (timestamp(t), timestamp(t, ".")) == (srt, vtt)


def test_srt_is_numbered_cues_that_ffmpeg_reads_back(tmp_path: Path) -> None:
    srt = to_srt(SEGMENTS)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:04,500\nAnd so my fellow Americans,\n\n")
    assert [int(b.split("\n")[0]) for b in srt.strip().split("\n\n")] == [1, 2, 3]
    back = parse_back(srt, ".srt", tmp_path)
    assert [(a, b) for a, b, _ in back] == [(a, b) for a, b, _ in CUES]
    assert [t for _, _, t in back][:2] == [t for _, _, t in CUES][:2]


def test_vtt_escapes_markup_and_ffmpeg_reads_back_the_words(tmp_path: Path) -> None:
    vtt = to_vtt(SEGMENTS)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:04.500\n")
    assert "R&amp;D &lt;for&gt; a -&gt; b" in vtt
    assert parse_back(vtt, ".vtt", tmp_path) == CUES


def test_no_segments_is_an_empty_but_valid_file(tmp_path: Path) -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n\n"
    assert parse_back(to_vtt([]), ".vtt", tmp_path) == []
