"""The caption styler's preview frame: drawn by the render's filters and libass on one frame
of real media, so styles differ where the captions are and nowhere else."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.preview import caption_spans, caption_time, preview_args, preview_frame
from clipray.clips.render import RenderError, RenderSpec
from clipray.schemas import Word

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"  # 33.6 s, 480x480, with audio

# Words spoken from 10 s of the source; the clip is 8 s to 16 s of it.
TEXT = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
WORDS = [Word(10.0 + 0.4 * k, 10.35 + 0.4 * k, f" {w}", 0.9) for k, w in enumerate(TEXT)]
ASS_STYLES = ("highlight_word", "karaoke", "pop_in")


def _spec(style: str, aspect: str = "9:16") -> RenderSpec:
    return RenderSpec(source_id="s", start=8.0, end=16.0, aspect=aspect, captions=style)


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), dtype=np.int16)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("near", "want"),
    [
        pytest.param(2.5, None, id="inside-a-caption"),
        pytest.param(0.5, 0, id="before-the-first: its middle"),
        pytest.param(7.9, -1, id="after-the-last: its middle"),
    ],
)
def test_caption_time_lands_on_a_shown_caption(near, want):
    ass = build_ass(WORDS, 8.0, 16.0, 1080, 1920, CaptionConfig(style="karaoke"))
    spans = caption_spans(ass)
    assert spans
    assert all(0 <= a < b <= 8.0 for a, b in spans)
    got = caption_time(ass, near)
    expected = near if want is None else sum(spans[want]) / 2
    assert got == pytest.approx(expected, abs=0.01)
    assert any(a <= got < b for a, b in spans)


@pytest.mark.unit
def test_caption_time_without_captions_keeps_the_asked_time():
    assert caption_time(None, 3.0) == 3.0
    assert caption_time("[Script Info]\n", 3.0) == 3.0


@pytest.mark.unit
def test_preview_args_seek_to_the_clip_time_and_keep_the_render_clock():
    args = preview_args("in.mp4", _spec("karaoke"), (480, 480), Path("c.ass"), 2.5,
                        Path("out.png"))  # fmt: skip
    assert args[args.index("-ss") + 1] == "10.500"
    vf = args[args.index("-vf") + 1]
    assert vf.startswith("setpts=PTS-STARTPTS+2.500/TB,")
    assert "subtitles=filename=" in vf
    assert "scale=1080:1920" in vf
    assert args[-1] == "out.png"
    assert args[args.index("-frames:v") + 1] == "1"
    # a time past the clip's end is drawn from its last frame
    late = preview_args("in.mp4", _spec("none"), (480, 480), None, 99.0, Path("o.png"))
    assert late[late.index("-ss") + 1] == "15.950"


@pytest.mark.unit
def test_a_preview_of_a_clip_with_b_roll_draws_the_captions_on_the_speakers_frame():
    from dataclasses import replace

    from clipray.clips.effects.graph import BRoll, EffectsGraph, Hook, Insert

    graph = EffectsGraph((BRoll((Insert(1.0, 3.0, "w/lib/city.mp4"),)), Hook("Sleep")))
    spec = replace(_spec("karaoke"), effects=graph)
    args = preview_args("in.mp4", spec, (480, 480), Path("c.ass"), 2.0, Path("out.png"))
    vf = args[args.index("-vf") + 1]
    assert args.count("-i") == 1  # the source only: no B-roll input to open
    assert not vf.split(",", 1)[1].startswith("[")  # a chain, not a graph
    assert "subtitles=filename=" in vf


@pytest.mark.integration
def test_each_style_draws_its_own_captions_on_the_same_frame(tmp_path):
    at = 2.5  # "jumps" is spoken: every style shows a caption
    frames = {}
    for style in (*ASS_STYLES, "none"):
        ass = build_ass(WORDS, 8.0, 16.0, 1080, 1920, CaptionConfig(style=style)) \
            if style != "none" else None  # fmt: skip
        png = preview_frame(_spec(style), str(HEAD), (480, 480), ass, at, tmp_path / style)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        frames[style] = _pixels(png)
    bare = frames["none"]
    assert bare.shape == (1920, 1080, 3)
    for style in ASS_STYLES:
        diff = np.abs(frames[style] - bare).max(axis=2) > 40
        assert diff.mean() > 0.003, f"{style}: no captions drawn"
        rows = np.nonzero(diff.any(axis=1))[0]
        # the captions sit in the lower part of the frame, above the 20 % bottom margin
        assert rows.min() > 1920 * 0.5, (style, rows.min())
        assert rows.max() < 1920 * 0.85, (style, rows.max())
    pairs = [("highlight_word", "karaoke"), ("highlight_word", "pop_in"), ("karaoke", "pop_in")]
    for a, b in pairs:
        differ = (np.abs(frames[a] - frames[b]).max(axis=2) > 40).mean()
        assert differ > 0.0005, f"{a} and {b} look the same"


@pytest.mark.integration
def test_a_preview_of_an_audiogram_or_unreadable_source_is_refused(tmp_path):
    from clipray.clips.audiogram import AudiogramSpec

    spec = RenderSpec(source_id="s", start=0.0, end=4.0, captions="none", audiogram=AudiogramSpec())
    with pytest.raises(RenderError, match="audiogram"):
        preview_frame(spec, str(HEAD), (480, 480), None, 1.0, tmp_path)
    with pytest.raises(RenderError) as err:
        preview_frame(_spec("none"), str(tmp_path / "missing.mp4"), (480, 480), None, 1.0, tmp_path)
    assert err.value.code == "RENDER_FAILED"
    assert not (tmp_path / "preview.png").exists()
