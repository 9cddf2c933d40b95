"""ASS captions: document shape, word coverage, timing, escaping, and a real libass burn."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import (
    CaptionConfig,
    ass_time,
    build_ass,
    escape,
    resolve_font,
)
from clipray.schemas import Word

STYLES = ["highlight_word", "karaoke", "pop_in"]
HIDDEN = "{\\alpha&HFF&}"
TAG = re.compile(r"(?<!\\)\{\\[^{}]*\}")  # an override block; ``\{`` is an escaped brace
TEXT = (
    "So here is the thing, nobody tells you this. Captions {matter} more than C:\\music\\N "
    "the thumbnail — because most people watch muted!"
)


def words_from(text: str, t0: float, step: float = 0.32, dur: float = 0.26) -> list[Word]:
    """ASR-shaped words (leading space) every ``step`` seconds from ``t0``."""
    return [
        Word(t0 + k * step, t0 + k * step + dur, f" {w}", 0.9) for k, w in enumerate(text.split())
    ]


def centis(s: str) -> int:
    h, m, rest = s.split(":")
    sec, cs = rest.split(".")
    return ((int(h) * 60 + int(m)) * 60 + int(sec)) * 100 + int(cs)


def dialogues(ass: str) -> list[list[str]]:
    return [
        line.removeprefix("Dialogue: ").split(",", 9)
        for line in ass.splitlines()
        if line.startswith("Dialogue:")
    ]


def visible(text: str) -> str:
    """Event text as a reader sees it: tags and hard breaks gone, escapes undone."""
    text = TAG.sub("", text).replace("\\N", " ")
    return text.replace("\\{", "{").replace("\\}", "}").replace("\\\u2060", "\\")


@pytest.mark.parametrize("style", [*STYLES, "none"])
def test_document_has_the_three_sections_and_ten_field_events(style):
    ass = build_ass(words_from(TEXT, 5.0), 5.0, 12.0, 1080, 1920, CaptionConfig(style=style))
    sections = re.findall(r"^\[([^\]]+)\]$", ass, re.M)
    assert sections == ["Script Info", "V4+ Styles", "Events"]
    assert "PlayResX: 1080\n" in ass
    assert "PlayResY: 1920\n" in ass
    formats = [line for line in ass.splitlines() if line.startswith("Format:")]
    assert [len(f.split(",")) for f in formats] == [23, 10]
    style_line = next(line for line in ass.splitlines() if line.startswith("Style:"))
    assert len(style_line.split(",")) == 23
    events = dialogues(ass)
    assert all(len(e) == 10 for e in events)
    assert (len(events) == 0) == (style == "none")


def shown(text: str) -> list[str]:
    """The words of an event a viewer can see: pop_in lays later words out transparent."""
    return [visible(tok) for tok in re.split(r" |\\N", text) if not tok.startswith(HIDDEN)]


@pytest.mark.parametrize("style", STYLES)
def test_every_word_of_the_span_appears_in_order(style):
    words = words_from(TEXT, 100.0)
    start, end = 100.5, 108.0  # cuts into the first word and drops the last ones
    ass = build_ass(words, start, end, 1080, 1920, CaptionConfig(style=style))
    expected = [w.word.strip() for w in words if w.end > start and w.start < end]
    assert 0 < len(expected) < len(words)
    events = dialogues(ass)
    seen = {w for e in events for w in shown(e[-1])}
    assert [w for w in expected if w not in seen] == []
    pages = dict.fromkeys(visible(e[-1]) for e in events)
    assert " ".join(pages).split() == expected, "pages hold the words in spoken order, once"


@pytest.mark.parametrize("style", STYLES)
def test_event_times_are_inside_the_clip_and_ordered(style):
    words = words_from(TEXT, 2.0)
    # the fourth word overlaps the next one, as ASR words sometimes do
    words[3] = replace(words[3], end=words[3].end + 0.3)
    start, end = 1.0, 9.3
    events = dialogues(build_ass(words, start, end, 540, 960, CaptionConfig(style=style)))
    spans = [(centis(e[1]), centis(e[2])) for e in events]
    assert spans
    assert all(0 <= s < e <= round((end - start) * 100) for s, e in spans)
    assert all(e0 <= s1 for (_, e0), (s1, _) in itertools.pairwise(spans)), (
        "events follow each other without overlap"
    )


def test_the_highlight_covers_exactly_the_word():
    words = words_from(TEXT, 30.0)
    start = 30.4
    cfg = CaptionConfig(style="highlight_word", highlight_colour="#12AB34")
    events = dialogues(build_ass(words, start, 40.0, 1080, 1920, cfg))
    on = "{\\1c&H34AB12&}"
    lit = [e for e in events if on in e[-1]]
    spoken = [w for w in words if w.end > start and w.start < 40.0]
    assert len(lit) == len(spoken), "one highlighted event per word"
    for w, event in zip(spoken, lit, strict=True):
        assert f"{on}{escape(w.word.strip())}{{\\r}}" in event[-1]
        s = round((max(w.start, start) - start) * 100)
        e = round((w.end - start) * 100)
        assert (event[1], event[2]) == (ass_time(s), ass_time(e)), w
    assert all(e[-1].count(on) <= 1 for e in events), "one active word at a time"


def test_karaoke_durations_add_up_to_the_word_starts():
    words = words_from("one two three four", 0.0, step=0.5, dur=0.4)
    (event,) = dialogues(build_ass(words, 0.0, 5.0, 540, 960, CaptionConfig(style="karaoke")))
    assert [int(k) for k in re.findall(r"\\k(\d+)", event[-1])] == [50, 50, 50, 40]
    assert (event[1], event[2]) == ("0:00:00.00", "0:00:02.30")  # 0.4 s linger after the last


def test_braces_and_backslashes_are_escaped():
    words = words_from("a {\\b1} c\\Nd }x{", 0.0)
    for style in STYLES:
        for *_, text in dialogues(build_ass(words, 0.0, 3.0, 540, 960, CaptionConfig(style=style))):
            bare = TAG.sub("", text)
            assert not re.search(r"(?<!\\)[{}]", bare), (
                f"an unescaped brace would open a tag: {text}"
            )
            assert "c\\\u2060Nd" in bare, "a transcript's \\N is text, not a line break"
            assert visible(text).split()[:4] == ["a", "{\\b1}", "c\\Nd", "}x{"]


def test_words_outside_the_clip_give_no_events():
    ass = build_ass(words_from("far away", 50.0), 0.0, 10.0, 540, 960, CaptionConfig())
    assert dialogues(ass) == []


def test_time_format():
    assert ass_time(0) == "0:00:00.00"
    assert ass_time(366_105) == "1:01:01.05"


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="needs fontconfig")
def test_resolve_font_falls_back_to_an_installed_family():
    installed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    families = {f.strip().lower() for line in installed.splitlines() for f in line.split(",")}
    assert resolve_font("No Such Font 4711").lower() in families
    if "dejavu sans" in families:
        assert resolve_font("dejavu sans") == "DejaVu Sans"


# --- a real burn with libass ------------------------------------------------------------
def frame_at(vf: str | None, t: float, size=(540, 960)) -> np.ndarray:
    w, h = size
    args = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s={w}x{h}:d=2:r=25",
    ]
    if vf:
        args += ["-vf", vf]
    args += ["-ss", str(t), "-frames:v", "1", "-pix_fmt", "gray", "-f", "rawvideo", "-"]
    proc = subprocess.run(args, capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return np.frombuffer(proc.stdout, np.uint8).reshape(h, w)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg with libass")
@pytest.mark.parametrize("style", STYLES)
def test_libass_burns_the_captions_into_the_bottom_only(style, tmp_path: Path):
    words = words_from("Burn these words {in} now, please", 0.1, step=0.3, dur=0.25)
    cfg = CaptionConfig(style=style, font=resolve_font("DejaVu Sans"))
    ass = tmp_path / "captions.ass"
    ass.write_text(build_ass(words, 0.0, 2.0, 540, 960, cfg), encoding="utf-8")
    plain = frame_at(None, 1.0)
    burned = frame_at(f"subtitles=filename={ass}", 1.0)
    diff = np.abs(burned.astype(int) - plain.astype(int))
    assert diff[:480].max() == 0, "nothing is drawn in the top half"
    band = diff[960 - round(cfg.margin_bottom * 960) - 250 :]
    assert (band > 128).sum() > 1000, "the caption band holds bright text"
