"""Rendering with the real FFmpeg: size, loudness, captions burned in, thumbnail."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.render import RenderSpec, centred_crop, render_clip, thumbnail
from tests.loudness import assert_on_target

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
HEAD = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"  # 33.6 s, 480x480, with audio

ASS = """[Script Info]
ScriptType: v4.00+
PlayResX: 1080
PlayResY: 1920

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, \
Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, \
Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,DejaVu Sans,96,&H00FFFFFF,&H0000FFFF,&H00000000,&H80000000,-1,0,0,0,100,100,\
0,0,1,6,0,2,60,60,300,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:20.00,Default,,0,0,0,,HELLO CAPTIONS
"""


def _probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
         str(path)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def _frame(path: Path, t: float, w: int, h: int) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(h, w).astype(np.int16)


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    if not HEAD.exists():
        pytest.fail(f"shared media missing: {HEAD}")
    base = tmp_path_factory.mktemp("render")
    spec = RenderSpec(source_id="a" * 32, start=4.0, end=20.0, aspect="9:16")
    captioned = render_clip(spec, str(HEAD), (480, 480), True, base / "cap", ASS)
    plain_spec = RenderSpec(source_id="a" * 32, start=4.0, end=20.0, aspect="9:16", captions="none")
    plain = render_clip(plain_spec, str(HEAD), (480, 480), True, base / "plain", ASS)
    return spec, captioned, plain


def test_output_is_a_1080x1920_h264_aac_clip_of_the_span(renders):
    spec, captioned, _ = renders
    info = _probe(captioned.video)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["width"], video["height"]) == (1080, 1920)
    assert video["codec_name"] == "h264"
    assert audio["codec_name"] == "aac"
    assert abs(float(info["format"]["duration"]) - spec.duration) < 0.15
    head = captioned.video.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head  # faststart


def test_loudness_is_minus_14_lufs(renders):
    _, captioned, plain = renders
    for clip in (captioned, plain):
        measured = assert_on_target(clip.video)
        assert clip.loudness is not None
        assert clip.loudness.reached
        assert clip.loudness.output_i == pytest.approx(measured, abs=0.05)


def test_captions_are_burned_into_the_caption_region_only(renders):
    _, captioned, plain = renders
    a = _frame(captioned.video, 5.0, 1080, 1920)
    b = _frame(plain.video, 5.0, 1080, 1920)
    caption_region = np.abs(a[1300:1800] - b[1300:1800]).mean()
    top = np.abs(a[:1000] - b[:1000]).mean()
    assert caption_region > 5.0
    assert top < 1.0


def test_thumbnail_is_a_jpeg_of_the_output_size(renders, tmp_path):
    spec, captioned, _ = renders
    thumb = thumbnail("ffmpeg", captioned.video, spec.output_duration, None, tmp_path / "t.jpg")
    data = thumb.read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    info = _probe(thumb)
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (1080, 1920)


@pytest.mark.parametrize(
    ("size", "aspect", "crop"),
    [
        pytest.param((1920, 1080), "9:16", "crop=608:1080:656:0", id="landscape-to-portrait"),
        pytest.param((480, 480), "9:16", "crop=270:480:105:0", id="square-to-portrait"),
        pytest.param((1080, 1920), "16:9", "crop=1080:608:0:656", id="portrait-to-landscape"),
        pytest.param((640, 360), "1:1", "crop=360:360:140:0", id="landscape-to-square"),
    ],
)
def test_centred_crop_has_the_target_aspect(size, aspect, crop):
    assert centred_crop(*size, aspect) == crop
