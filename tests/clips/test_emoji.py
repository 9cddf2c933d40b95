"""Caption emoji: dictionary matching (case, punctuation, plural and -ing forms), one emoji
a line and one per two seconds, every style's document, and a real libass render that
draws the emoji where an outline font has it, or leaves it out with a warning where none
does (what fontconfig says on this machine decides which is asserted)."""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from clipray.clips import emoji
from clipray.clips.captions import (
    EMOJI_FONT,
    CaptionConfig,
    build_ass,
    emoji_fallback,
    emoji_font,
)
from clipray.clips.render import RenderSpec, render_clip
from clipray.schemas import Word

EMOJI_CHARS = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def _words(text: str, step: float = 0.3) -> list[Word]:
    return [Word(step * k, step * k + 0.25, f" {w}", 0.9) for k, w in enumerate(text.split())]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("word", "expected"),
    [
        pytest.param("money", "💰", id="plain"),
        pytest.param("MONEY!", "💰", id="case-and-punctuation"),
        pytest.param("“Cash,”", "💰", id="quotes"),
        pytest.param("dollars", "💰", id="plural-s"),
        pytest.param("parties", "🎉", id="plural-ies"),
        pytest.param("laughing", "😂", id="ing"),
        pytest.param("running", "🏃", id="ing-doubled"),
        pytest.param("burned", "🔥", id="ed"),
        pytest.param("brain's", "🧠", id="possessive"),
        pytest.param("table", None, id="no-entry"),
        pytest.param("...", None, id="punctuation-only"),
        pytest.param("is", None, id="too-short-to-stem"),
    ],
)
def test_emoji_for(word: str, expected: str | None) -> None:
    assert emoji.emoji_for(word) == expected


@pytest.mark.unit
def test_the_dictionary_has_a_few_hundred_entries() -> None:
    assert len(emoji._index()) >= 300


@pytest.mark.unit
def test_one_emoji_a_line_and_one_per_two_seconds() -> None:
    lines = [[(0.0, "money"), (0.3, "fire")], [(0.6, "love"), (0.9, "is")],
             [(2.1, "hot"), (2.4, "brain")], [(4.0, "time"), (4.2, "cash")]]  # fmt: skip
    got, last = emoji.pick(lines)
    # "fire" shares money's line, "love" is 0.6 s after it, "time" 1.9 s after "hot"
    assert got == {(0, 0): "💰", (2, 0): "🔥", (3, 1): "💰"}
    assert last == 4.2
    # the gap carries over from the previous page
    again, _ = emoji.pick([[(5.0, "money")], [(6.2, "fire")]], last)
    assert again == {(1, 0): "🔥"}


@pytest.mark.unit
@pytest.mark.parametrize("style", ["highlight_word", "karaoke", "pop_in", "typewriter", "bounce"])
def test_every_style_carries_the_emoji_after_its_word(style: str) -> None:
    words = _words("Money is hot and I love laughing at my brain all the time.")
    cfg = CaptionConfig(style=style, emoji=True)  # type: ignore[arg-type]
    ass = build_ass(words, 0.0, 6.0, 1080, 1920, cfg)
    plain = build_ass(words, 0.0, 6.0, 1080, 1920, CaptionConfig(style=style))  # type: ignore[arg-type]
    events = [e for e in ass.splitlines() if e.startswith("Dialogue")]
    tag = f"{{\\fn{EMOJI_FONT}}}💰{{\\fn{cfg.font}}}"
    assert any(tag in e for e in events)
    # at most one emoji in any line of any event, never two within 2 s (money 0.0,
    # brain 2.7: "hot" and "love" are too close to money)
    for e in events:
        for line in e.split(",", 9)[9].split("\\N"):
            assert len(EMOJI_CHARS.findall(line)) <= 1
    assert set(EMOJI_CHARS.findall(ass)) == {"💰", "🧠"}
    # with the emoji dropped, every event says the same words, and nothing else
    dropped = emoji_fallback(ass, lambda e: None)
    assert not EMOJI_CHARS.search(dropped)
    assert EMOJI_FONT not in dropped
    assert _said(dropped) == _said(ass.replace("💰", "").replace("🧠", "")) != []
    assert _said(dropped)[-1][-1] == _said(plain)[-1][-1] == "time."


def _said(ass: str) -> list[list[str]]:
    """Each event's words, override tags taken out."""
    tags = re.compile(r"(?<!\\)\{[^{}]*\}")
    return [tags.sub("", e.split(",", 9)[9]).replace("\\N", " ").split()
            for e in ass.splitlines() if e.startswith("Dialogue")]


@pytest.mark.unit
def test_another_emoji_family_takes_its_place() -> None:
    ass = build_ass(_words("money talks"), 0.0, 2.0, 1080, 1920, CaptionConfig(emoji=True))
    swapped = emoji_fallback(ass, lambda e: "Twemoji")
    assert "{\\fnTwemoji}💰" in swapped
    assert EMOJI_FONT not in swapped
    assert emoji_fallback(ass, lambda e: EMOJI_FONT) == ass
    # only the emoji no font has are left out
    two = build_ass(_words("fire " + "money " * 8), 0.0, 4.0, 1080, 1920,
                    CaptionConfig(emoji=True))  # fmt: skip
    assert "💰" in two
    kept = emoji_fallback(two, lambda e: EMOJI_FONT if e == "🔥" else None)
    assert "🔥" in kept
    assert "💰" not in kept


@pytest.mark.integration
def test_render_draws_the_emoji_or_leaves_it_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 3 s 1:1 render of "This fire" on a grey frame. Where an outline font has 🔥,
    libass draws it after the word: the caption has more drawn pixels, right of where the
    words alone end. Where none has it, the render leaves it out with a warning and draws
    the words alone, the same frame as captions without emoji (no empty box)."""
    src = tmp_path / "grey.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=0x808080:s=320x320:r=30:d=3", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", str(src)], check=True)  # fmt: skip
    words = [Word(0.5, 1.0, " This", 0.9), Word(1.0, 2.5, " fire", 0.9)]
    cfg = CaptionConfig(emoji=True)
    ass = build_ass(words, 0.0, 3.0, 1080, 1080, cfg)
    assert "🔥" in ass
    spec = RenderSpec(source_id="s", start=0.0, end=3.0, aspect="1:1", emoji=True)
    font = emoji_font("🔥")
    with caplog.at_level(logging.WARNING, logger="clipray.clips.captions"):
        done = render_clip(spec, str(src), (320, 320), False, tmp_path / "on", ass)
    plain = build_ass(words, 0.0, 3.0, 1080, 1080, CaptionConfig())
    bare = render_clip(replace(spec, emoji=False), str(src), (320, 320), False,
                       tmp_path / "off", plain)  # fmt: skip
    with_emoji, without = _drawn(done.video), _drawn(bare.video)
    assert without.sum() > 500  # the words are drawn either way
    written = (tmp_path / "on" / "captions.ass").read_text(encoding="utf-8")
    if font is None:
        assert "no installed font draws 🔥" in caplog.text
        assert "🔥" not in written
        assert EMOJI_FONT not in written
        assert abs(int(with_emoji.sum()) - int(without.sum())) < 0.02 * without.sum()
    else:
        assert "🔥" in written
        assert "draws 🔥" not in caplog.text
        right = int(np.nonzero(without.any(axis=0))[0].max())
        assert with_emoji[:, right + 10:].sum() > 150


def _drawn(video: Path, at: float = 2.0, size: int = 1080) -> np.ndarray:
    """Where the caption band of the frame at ``at`` is drawn on: far from the grey."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{at}", "-i", str(video),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout  # fmt: skip
    frame = np.frombuffer(raw, np.uint8).reshape(size, size, 3)[600:]
    return np.abs(frame.astype(int) - 128).max(axis=2) > 60
