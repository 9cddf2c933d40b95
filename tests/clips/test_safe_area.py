"""Safe areas, and the caption settings' way into a clip's plan: every line of a long
caption, as libass lays it out from the ASS document's own numbers and measured in the
real caption font (found by fontconfig, so those tests are integration), lies inside each
platform's UI-free area on a 9:16 frame; other aspects keep their plain margins."""

from __future__ import annotations

import re
import subprocess

import pytest
from PIL import ImageFont

from clipray.clips.captions import CaptionConfig, build_ass, resolve_font
from clipray.clips.safe_area import AREAS, PLAIN, SAFE_AREAS, area
from clipray.schemas import Word

TAG = re.compile(r"(?<!\\)\{[^{}]*\}")
LONG = ("Nobody tells you this, but the WORLD'S most successful creators rewrite "
        "their first sentence twenty times before they ever press record, because "
        "attention is won or lost in the opening seconds of every single video.")  # fmt: skip


def _words(text: str) -> list[Word]:
    return [Word(0.3 * k, 0.3 * k + 0.25, f" {w}", 0.9) for k, w in enumerate(text.split())]


def _font(size: int) -> ImageFont.FreeTypeFont:
    family = resolve_font("DejaVu Sans")
    path = subprocess.run(["fc-match", "-f", "%{file}", f"{family}:bold"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    return ImageFont.truetype(path, size)


def _line_boxes(ass: str) -> list[tuple[float, float, float, float]]:
    """Each event line's box ``(x0, y0, x1, y1)`` as libass places it: bottom-centred
    (alignment 2) between ``MarginL`` and ``PlayResX - MarginR``, the last line
    ``MarginV`` above the bottom, lines ``Fontsize`` apart; the width measured in the
    font at ``Fontsize`` pixels per em (libass scales the font smaller: a bound), the box
    grown by the outline and shadow."""
    res_x = int(re.search(r"PlayResX: (\d+)", ass)[1])
    res_y = int(re.search(r"PlayResY: (\d+)", ass)[1])
    style = re.search(r"^Style: (.*)$", ass, re.M)[1].split(",")
    size, outline, shadow = int(style[2]), float(style[16]), float(style[17])
    align, ml, mr, mv = int(style[18]), int(style[19]), int(style[20]), int(style[21])
    assert align == 2
    font = _font(size)
    boxes = []
    for event in re.findall(r"^Dialogue: [^,]*,[^,]*,[^,]*,Caption,,0,0,0,,(.*)$", ass, re.M):
        lines = [TAG.sub("", line) for line in event.split("\\N")]
        for k, line in enumerate(reversed(lines)):
            width = font.getlength(line) + 2 * (outline + shadow)
            centre = ml + (res_x - ml - mr) / 2
            bottom = res_y - mv + outline + shadow - k * size
            boxes.append((centre - width / 2, bottom - size - outline, centre + width / 2,
                          bottom))  # fmt: skip
    return boxes


@pytest.mark.integration
@pytest.mark.parametrize("name", SAFE_AREAS)
@pytest.mark.parametrize("style", ["highlight_word", "karaoke", "pop_in", "bounce"])
def test_every_line_inside_the_platform_area(name: str, style: str) -> None:
    ass = build_ass(_words(LONG), 0.0, 60.0, 1080, 1920,
                    CaptionConfig(style=style, safe_area=name))  # type: ignore[arg-type]
    x0, y0, x1, y1 = area(name, 1080, 1920).box(1080, 1920)
    boxes = _line_boxes(ass)
    assert len(boxes) >= 12  # every page laid out (karaoke: one event a page)
    for bx0, by0, bx1, by1 in boxes:
        assert x0 <= bx0 <= bx1 <= x1, (name, (bx0, bx1))
        assert y0 <= by0 <= by1 <= y1, (name, (by0, by1))


@pytest.mark.unit
def test_all_is_inside_every_platform() -> None:
    a = AREAS["all"]
    for m in (AREAS["tiktok"], AREAS["reels"], AREAS["shorts"]):
        assert a.top >= m.top
        assert a.bottom >= m.bottom
        assert a.left >= m.left
        assert a.right >= m.right


@pytest.mark.unit
def test_the_right_button_column_is_kept_clear() -> None:
    """The old symmetric 6% margins put text under TikTok's buttons; the safe area moves
    the lines off the right edge and above the description."""
    ass = build_ass(_words(LONG), 0.0, 60.0, 1080, 1920, CaptionConfig(safe_area="tiktok"))
    style = re.search(r"^Style: (.*)$", ass, re.M)[1].split(",")
    assert int(style[20]) >= round(0.12 * 1080)
    assert int(style[21]) >= round(0.25 * 1920)
    old = build_ass(_words(LONG), 0.0, 60.0, 1080, 1920, CaptionConfig())
    old_style = re.search(r"^Style: (.*)$", old, re.M)[1].split(",")
    assert int(old_style[20]) < round(0.12 * 1080)


@pytest.mark.integration
@pytest.mark.parametrize("size", [(1080, 1080), (1920, 1080)], ids=["1:1", "16:9"])
def test_other_aspects_keep_the_plain_margin(size: tuple[int, int]) -> None:
    w, h = size
    assert area("tiktok", w, h) == PLAIN
    plain = build_ass(_words(LONG), 0.0, 60.0, w, h, CaptionConfig())
    safe = build_ass(_words(LONG), 0.0, 60.0, w, h, CaptionConfig(safe_area="all"))
    assert plain == safe
    for bx0, _, bx1, by1 in _line_boxes(safe):
        assert bx0 >= PLAIN.left * w
        assert bx1 <= w - PLAIN.right * w
        assert by1 <= h


@pytest.mark.unit
def test_an_unknown_area_is_refused() -> None:
    with pytest.raises(ValueError, match="safe_area"):
        CaptionConfig(safe_area="snapchat")
    with pytest.raises(ValueError, match="safe_area"):
        area("snapchat", 1080, 1920)


# --- the setting through a clip's plan (pure) ---------------------------------------------
def _video_item():  # type: ignore[no-untyped-def]
    from clipray.pipelines.ingest import Ingested
    from clipray.pipelines.stages.decode import VideoInfo
    from clipray.storage.orm import Source, SourceOrigin

    info = VideoInfo(duration=20.0, fps=30.0, base_fps=30.0, width=1280, height=720,
                     has_audio=True, n_frames=600, video_codec="h264", audio_codec="aac",
                     start_time=0.0, container="mp4", has_video=True)  # fmt: skip
    source = Source(id="v" * 32, origin=SourceOrigin.LOCAL, origin_uri="/v/talk.mp4",
                    storage_key="k", sha256="0" * 64, size_bytes=1, duration_s=20.0)  # fmt: skip
    return Ingested(source, info, created=False)


def _plan(beats=None, **opts):  # type: ignore[no-untyped-def]
    from clipray.clips.select import Candidate
    from clipray.domain.analysis import Analysis, SourceInfo
    from clipray.pipelines.clipjob import RunOptions, plan_moment
    from clipray.schemas import Segment, Transcript

    words = tuple(_words("Money talks and time flies when the brain is busy"))
    analysis = Analysis(SourceInfo("v" * 32, duration=20.0, width=1280, height=720, fps=30.0),
                        transcript=Transcript("en", "m", (Segment(0.0, 4.0, "".join(
                            w.word for w in words), words),)))  # fmt: skip
    moment = Candidate(id="m1", start=0.0, end=4.0, text="money talks", title="Money",
                       hashtags=(), score=0.5, reasons=())  # fmt: skip
    return plan_moment(analysis, _video_item(), moment, RunOptions(**opts), {}, None,
                       beats=beats)  # fmt: skip


@pytest.mark.unit
def test_a_vertical_clip_records_its_safe_area_and_others_keep_their_spec() -> None:
    from clipray.pipelines.clipjob import spec_hash

    vertical = _plan(aspect="9:16")
    assert vertical.spec.safe_area == "all"
    assert vertical.spec.to_json()["safe_area"] == "all"
    style = re.search(r"^Style: (.*)$", vertical.ass or "", re.M)[1].split(",")
    assert int(style[20]) >= round(AREAS["all"].right * 1080)
    tiktok = _plan(aspect="9:16", safe_area="tiktok")
    assert tiktok.spec_hash != vertical.spec_hash  # another setting: another version
    for kw in ({"aspect": "1:1"}, {"aspect": "16:9"}, {"aspect": "9:16", "captions": "none"}):
        p = _plan(**kw)
        assert p.spec.safe_area is None
        assert "safe_area" not in p.spec.to_json()
        assert "emoji" not in p.spec.to_json()
        assert p.spec_hash == spec_hash(p.spec)


@pytest.mark.unit
def test_emoji_and_beat_sync_travel_into_the_plan() -> None:
    from clipray.clips.effects.beats import Beats

    p = _plan(aspect="1:1", emoji=True)
    assert p.spec.emoji is True
    assert p.spec.to_json()["emoji"] is True
    assert "💰" in (p.ass or "")
    assert "💰" not in (_plan(aspect="1:1").ass or "")
    synced = _plan(Beats((0.0,), 0.5), aspect="1:1", music="music/bed.mp3", beat_sync=True)
    assert synced.spec.effects is not None
    assert synced.spec.effects.audio.beat_sync is True
    plain = _plan(aspect="1:1", music="music/bed.mp3")
    assert synced.spec_hash != plain.spec_hash
