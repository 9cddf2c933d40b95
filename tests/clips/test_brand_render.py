"""A brand kit drawn by the real FFmpeg: the logo in its corner at its opacity, the kit's
font and colours in the captions, an intro and an outro joined around the clip at the
target loudness, byte-identical renders; the kit's assets read from the real bucket
(``pipelines/brand_assets.py``).

The source is ``test_effects_render``'s synthetic one (black, a white flash and a tone
per word), so every pixel the kit adds is known: the logo is a pure red picture."""

import hashlib
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.brand import (
    SAFE_MARGINS,
    BrandInputs,
    ass_colour,
    caption_style,
    logo_area,
    logo_box,
    video_graph,
    with_font,
)
from clipray.clips.effects.graph import FPS, Brand, EffectsGraph
from clipray.clips.effects.plan import EffectsConfig, plan_graph
from clipray.clips.loudness import measure
from clipray.clips.render import ASPECTS, RenderError, RenderSpec, render_clip
from clipray.domain.brand import BrandKit
from clipray.domain.errors import NotFound
from clipray.pipelines.brand_assets import FONT_DIR, brand_inputs
from clipray.schemas import Word
from clipray.storage.keys import object_key
from tests.clips.test_effects_render import MEDIA, SCRIPT, _synthetic

KIT = BrandKit(id="k" * 32, workspace_id="w" * 32, name="Main", logo_key="w/logo.png",
               logo_position="top_right", logo_size=0.2, logo_opacity=0.5,
               primary_color="#00FF00", accent_color="#FF00FF", font_key="w/font.ttf")  # fmt: skip
LOGO = (200, 100)
"""The test logo's size in pixels: 2:1, so it fills its area's width."""
SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")
TALK = MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4"
INTRO_S, CLIP_S, OUTRO_S = 1.0, 4.0, 2.0
FRAME = 1 / FPS


# --- planning (pure) ----------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("aspect", list(ASPECTS))
@pytest.mark.parametrize("position", ["top_left", "top_right", "bottom_left", "bottom_right"])
def test_the_logo_area_is_its_share_of_the_width_inside_the_safe_margins(aspect, position):
    size = ASPECTS[aspect]
    w, h = size
    step = Brand("k" * 32, logo_key="k", logo_position=position, logo_size=0.2)
    box = logo_area(step, size)
    side, vertical = SAFE_MARGINS[aspect]
    assert abs(box.w - 0.2 * w) <= 2
    assert box.x >= side * w - 1
    assert box.x + box.w <= w - side * w + 1
    assert box.y >= vertical * h - 1
    assert box.y + box.h <= h - vertical * h + 1
    # against the corner it names: its outer edges at the margins
    assert abs((box.x if "left" in position else w - box.x - box.w) - side * w) <= 2
    assert abs((box.y if "top" in position else h - box.y - box.h) - vertical * h) <= 2


@pytest.mark.unit
def test_a_logo_is_fitted_in_proportion_against_its_corner():
    step = Brand("k" * 32, logo_key="k", logo_position="bottom_left", logo_size=0.1)
    area = logo_area(step, (1080, 1920))
    wide = logo_box(step, (1080, 1920), (400, 100))
    assert (wide.w, wide.h) == (area.w, area.w // 4 - area.w // 4 % 2)
    assert wide.x == area.x
    assert wide.y + wide.h == area.y + area.h
    tall = logo_box(step, (1080, 1920), (100, 1000))  # a tall logo keeps to the area's height
    assert tall.h == area.h
    assert tall.w < area.w


@pytest.mark.unit
def test_the_captions_take_the_kits_colours_and_font():
    assert ass_colour("#12AB9f") == "&H9FAB12&"
    step = Brand.of(KIT)
    style = caption_style(CaptionConfig(), step)
    words = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
    ass = build_ass(words, 0.0, 4.0, 1080, 1920, style) + hook_event("Hook", 1.0, 1080, 1920,
                                                                    style)  # fmt: skip
    style_line = next(line for line in ass.splitlines() if line.startswith("Style: Caption,"))
    assert style_line.split(",")[3] == "&H0000FF00"  # primary: the text, and the hook's
    assert "\\1c&HFF00FF&" in ass  # accent: the spoken word
    assert with_font(ass, "Brand Sans").count("Style: Caption,Brand Sans,86,") == 1
    # an installed family from the kit; none: the default stays
    assert caption_style(CaptionConfig(), Brand("k" * 32, font_family="Liberation Sans")
                         ).font == "Liberation Sans"  # fmt: skip
    assert caption_style(CaptionConfig(), None) == CaptionConfig()


@pytest.mark.unit
def test_the_plan_adds_the_kit_with_its_intro_and_outro_keys():
    cfg = EffectsConfig(brand=KIT, brand_keys=("w/intro.mp4", "w/outro.mp4"))
    g = plan_graph(cfg, [], 0.0, 10.0, "t", (), (), lambda t: None)
    assert g.brand == Brand.of(KIT, "w/intro.mp4", "w/outro.mp4")
    assert EffectsGraph.from_json(g.to_json()) == g
    assert plan_graph(EffectsConfig(), [], 0.0, 10.0, "t", (), (), lambda t: None).brand is None


@pytest.mark.unit
def test_a_changed_logo_changes_the_spec_hash():
    from clipray.pipelines.clipjob import spec_hash  # what decides whether a render is reused

    def digest(step: Brand | None) -> str:
        return spec_hash(RenderSpec(source_id="s" * 32, start=0.0, end=4.0,
                                    effects=EffectsGraph((step,)) if step else None))  # fmt: skip

    old = Brand.of(KIT)
    new = Brand.of(BrandKit(**{**KIT.__dict__, "logo_key": "w/logo-2.png"}))
    assert len({digest(None), digest(old), digest(new)}) == 3
    assert digest(Brand.of(KIT)) == digest(old)


@pytest.mark.unit
def test_a_logo_that_was_not_resolved_is_refused_and_no_kit_keeps_the_plain_chain():
    with pytest.raises(ValueError, match="logo"):
        video_graph("null", Brand.of(KIT), (1080, 1920), BrandInputs(), (None, None), 2)
    assert video_graph("null", None, (1080, 1920), BrandInputs(), (None, None), 2) == (
        "null", [])


# --- rendering (FFmpeg) -------------------------------------------------------------------


def _frames(path: Path, size: tuple[int, int], vf: str = "") -> np.ndarray:
    """Every frame of ``path`` as RGB at ``size``."""
    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-vf", f"{vf}{',' if vf else ''}scale={w}:{h}", "-pix_fmt", "rgb24", "-f", "rawvideo",
         "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(float)


def _frame_at(path: Path, t: float) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path),
         "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(1920, 1080, 3).astype(float)


def _video_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return float(out.strip())


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("brand")
    _synthetic(d / "source.mkv")
    Image.new("RGB", LOGO, (255, 0, 0)).save(d / "logo.png")
    (d / "fonts").mkdir()
    shutil.copy(SERIF, d / "fonts" / "brand.ttf")
    # the outro: 2 s of a real talking head; the intro: 1 s of green with a 440 Hz tone
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "1", "-t", str(OUTRO_S),
                    "-i", str(TALK), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    str(d / "outro.mp4")], check=True)  # fmt: skip
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=green:s=640x360:r=25:d={INTRO_S}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:d={INTRO_S}", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-shortest", str(d / "intro.mp4")],
                   check=True)  # fmt: skip
    return {"dir": d, "source": d / "source.mkv", "logo": d / "logo.png",
            "font": d / "fonts" / "brand.ttf", "intro": d / "intro.mp4",
            "outro": d / "outro.mp4"}  # fmt: skip


def _spec() -> RenderSpec:
    step = Brand.of(KIT, "w/intro.mp4", "w/outro.mp4")
    return RenderSpec(source_id="s" * 32, start=0.0, end=CLIP_S, effects=EffectsGraph((step,)))


def _render(assets: dict[str, Path], out: Path) -> Path:
    spec = _spec()
    words = [Word(a, b, f" {w}", 1.0) for a, b, w in SCRIPT]
    ass = build_ass(words, 0.0, CLIP_S, 1080, 1920,
                    caption_style(CaptionConfig(), spec.effects.brand))  # fmt: skip
    inputs = BrandInputs(logo=str(assets["logo"]), font=assets["font"],
                         intro=str(assets["intro"]), outro=str(assets["outro"]))  # fmt: skip
    done = render_clip(spec, str(assets["source"]), (320, 240), True, out, ass, brand=inputs)
    assert done.loudness is not None
    assert done.loudness.reached
    assert done.intro == pytest.approx(INTRO_S, abs=FRAME)
    return done.video


@pytest.fixture(scope="module")
def branded(assets: dict[str, Path]) -> Path:
    return _render(assets, assets["dir"] / "render-1")


@pytest.mark.integration
def test_the_logo_sits_in_its_box_at_its_opacity(branded):
    box = logo_box(_spec().effects.brand, (1080, 1920), LOGO)
    frame = _frame_at(branded, INTRO_S + 2.6)  # between words: the clip's frame is black
    inside = frame[box.y + 4:box.y + box.h - 4, box.x + 4:box.x + box.w - 4].mean(axis=(0, 1))
    # red at half opacity over black: a blend, neither the logo's red nor the black
    assert abs(inside[0] - 0.5 * 255) <= 20, inside
    assert max(inside[1], inside[2]) < 20, inside
    assert frame[box.y + 4:box.y + box.h - 4, box.x + 4:box.x + box.w - 4, 0].min() > 100
    outside = frame.copy()
    outside[box.y - 3:box.y + box.h + 3, box.x - 3:box.x + box.w + 3] = 0
    assert outside[..., 0].max() < 40  # no red anywhere else
    intro, outro = _frame_at(branded, 0.5), _frame_at(branded, INTRO_S + CLIP_S + 1.0)
    for other in (intro, outro):  # the intro and outro are the kit's own, unmarked
        patch = other[box.y + 4:box.y + box.h - 4, box.x + 4:box.x + box.w - 4].mean(axis=(0, 1))
        assert not (abs(patch[0] - 127) <= 30 and patch[1] < 30), patch


@pytest.mark.integration
def test_the_intro_and_outro_are_joined_around_the_clip(branded, assets):
    assert abs(_video_duration(branded) - (INTRO_S + CLIP_S + OUTRO_S)) <= FRAME + 0.002
    small = (54, 96)
    got = _frames(branded, small)
    fit = "scale=1080:1920:force_original_aspect_ratio=decrease,pad=1080:1920:(ow-iw)/2:(oh-ih)/2"
    outro = _frames(assets["outro"], small, f"fps={FPS},{fit}")
    n = round(INTRO_S * FPS)
    green = (got[:, 48, 27, 1] > 100) & (got[:, 48, 27, 0] < 40)
    assert abs(int(green.sum()) - n) <= 1
    assert green[:n - 1].all()
    # the last frames are the outro's last frames
    for k in range(1, 6):
        assert np.abs(got[-k] - outro[-k]).mean() < 8, k
    # and the clip's frames are not (the comparison can tell frames apart)
    assert np.abs(got[n + 30] - outro[-1]).mean() > 30
    assert _frames(branded, small)[n + 30].mean() < 40  # the clip's black middle


@pytest.mark.integration
def test_the_thumbnails_are_sampled_from_the_clip_not_the_intro(branded, tmp_path):
    from clipray.clips.thumb_render import sample_frames

    frames = sample_frames("ffmpeg", branded, CLIP_S, tmp_path, count=8, offset=INTRO_S)
    assert len(frames) >= 6
    for f in frames:  # the clip is black (white on a word's flash), the intro green
        r, g, b = (float(v) for v in f.rgb[f.rgb.shape[0] // 2, f.rgb.shape[1] // 2])
        assert abs(r - g) < 30, (f.t, r, g, b)
    assert max(f.t for f in frames) < CLIP_S


@pytest.mark.integration
def test_the_joined_file_is_at_the_target_loudness(branded):
    got = measure("ffmpeg", branded)
    assert abs(got.integrated - -14.0) <= 1.0, got


@pytest.mark.integration
def test_the_captions_are_in_the_kits_font_and_colours_on_the_clip_only(branded):
    ass = (branded.parent / "captions.ass").read_text(encoding="utf-8")
    assert "Style: Caption,DejaVu Serif,86,&H0000FF00," in ass  # the uploaded font's family
    assert "\\1c&HFF00FF&" in ass
    # the captions are drawn on the clip part only: the intro's frames carry no text
    frame = _frame_at(branded, 0.5)
    assert frame[1200:1600, :, 0].max() < 60
    assert frame[1200:1600, :, 2].max() < 60


@pytest.mark.integration
def test_the_same_spec_renders_the_same_bytes(branded, assets):
    again = _render(assets, assets["dir"] / "render-2")
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(
        branded.read_bytes()).digest()


@pytest.mark.integration
def test_an_asset_that_was_not_resolved_is_a_render_error(assets, tmp_path):
    with pytest.raises(RenderError, match="font"):
        render_clip(_spec(), str(assets["source"]), (320, 240), True, tmp_path, "x",
                    brand=BrandInputs(logo=str(assets["logo"])))  # fmt: skip


@pytest.mark.integration
def test_the_kits_keys_are_read_from_the_workspaces_bucket(assets, buckets, settings, tmp_path):
    """Keys of the real bucket become FFmpeg inputs (presigned URLs, the font downloaded);
    a render reads them; an object gone is refused with a code."""
    ws, kit_id = uuid.uuid4().hex, uuid.uuid4().hex
    store = buckets.media.scoped(ws)
    keys = {}
    for kind, path in (("logo", assets["logo"]), ("font", assets["font"]),
                       ("outro", assets["outro"])):  # fmt: skip
        keys[kind] = object_key(ws, "uploads", kit_id, f"{kind}{path.suffix}")
        store.put_file(keys[kind], path)
    step = Brand(kit_id, logo_key=keys["logo"], font_key=keys["font"], outro_key=keys["outro"],
                 logo_opacity=1.0)  # fmt: skip
    spec = RenderSpec(source_id="s" * 32, start=0.0, end=2.0, aspect="1:1",
                      effects=EffectsGraph((step,)))  # fmt: skip
    got = brand_inputs(spec, settings, ws, tmp_path / "work")
    assert got is not None
    assert got.font is not None
    assert got.font.read_bytes() == SERIF.read_bytes()
    assert got.font.parent == tmp_path / "work" / FONT_DIR
    with urllib.request.urlopen(got.logo, timeout=30) as r:  # noqa: S310 (the test's own S3)
        assert r.read() == assets["logo"].read_bytes()
    ass = build_ass([Word(0.4, 0.7, " So", 1.0)], 0.0, 2.0, 1080, 1080,
                    caption_style(CaptionConfig(), step))  # fmt: skip
    done = render_clip(spec, str(assets["source"]), (320, 240), True, tmp_path / "work", ass,
                       brand=got)  # fmt: skip
    assert abs(_video_duration(done.video) - (2.0 + OUTRO_S)) <= FRAME + 0.002
    frame = _frames(done.video, (1080, 1080))[round(1.5 * FPS)]
    box = logo_box(step, (1080, 1080), LOGO)
    assert frame[box.y + 4:box.y + box.h - 4, box.x + 4:box.x + box.w - 4, 0].mean() > 230
    assert brand_inputs(RenderSpec(source_id="s" * 32, start=0.0, end=2.0), settings, ws,
                        tmp_path) is None  # fmt: skip
    store.delete(keys["logo"])
    with pytest.raises(NotFound) as err:
        brand_inputs(spec, settings, ws, tmp_path / "again")
    assert err.value.code == "BRAND_ASSET_MISSING"
    assert err.value.detail == {"asset": "logo"}


@pytest.mark.integration
def test_an_audiogram_is_drawn_on_the_kits_background_with_its_logo_font_and_outro(assets,
                                                                                  tmp_path):
    from clipray.clips.audiogram import AudiogramSpec
    from clipray.clips.effects.brand import ffmpeg_colour
    from tests.podcast import episode, frame_rgb

    src = episode(tmp_path / "in", "flac", cover=False)
    Image.new("RGB", (160, 90), (0, 0, 255)).save(tmp_path / "background.png")
    step = Brand("k" * 32, logo_key="w/logo.png", background_key="w/background.png",
                 logo_position="bottom_left", logo_opacity=1.0, background_color="#204060",
                 font_key="w/font.ttf", primary_color="#00FF00",
                 outro_key="w/outro.mp4")  # fmt: skip
    look = AudiogramSpec(background=ffmpeg_colour(step.background_color))
    spec = RenderSpec(source_id="p" * 32, start=1.0, end=4.0, aspect="1:1", audiogram=look,
                      effects=EffectsGraph((step,)))  # fmt: skip
    words = [Word(1.5, 2.0, " fellow", 1.0), Word(2.0, 2.8, " Americans,", 1.0)]
    ass = build_ass(words, 1.0, 4.0, 1080, 1080, caption_style(CaptionConfig(), step))
    inputs = BrandInputs(logo=str(assets["logo"]), font=assets["font"],
                         background=str(tmp_path / "background.png"),
                         outro=str(assets["outro"]))  # fmt: skip
    done = render_clip(spec, str(src), (0, 0), True, tmp_path / "out", ass, brand=inputs)
    assert done.loudness is not None
    assert done.loudness.reached
    frame = frame_rgb(done.video, 1.5, (1080, 1080)).astype(float)
    assert np.abs(frame[20:60, 500:580].mean(axis=(0, 1)) - (0, 0, 255)).max() < 25  # picture
    box = logo_box(step, (1080, 1080), LOGO)
    logo = frame[box.y + 4:box.y + box.h - 4, box.x + 4:box.x + box.w - 4].mean(axis=(0, 1))
    assert np.abs(logo - (255, 0, 0)).max() < 25, logo
    assert "Style: Caption,DejaVu Serif," in (tmp_path / "out" / "captions.ass").read_text()
    # the outro joined after the canvas, the joined file at the target loudness
    assert abs(_video_duration(done.video) - (3.0 + OUTRO_S)) <= FRAME + 0.002
    fit = "scale=1080:1080:force_original_aspect_ratio=decrease,pad=1080:1080:(ow-iw)/2:(oh-ih)/2"
    got = _frames(done.video, (54, 54))
    outro = _frames(assets["outro"], (54, 54), f"fps={FPS},{fit}")
    assert np.abs(got[-1] - outro[-1]).mean() < 8
    assert np.abs(got[round(1.5 * FPS)] - outro[-1]).mean() > 30
    assert abs(measure("ffmpeg", done.video).integrated - -14.0) <= 1.0
