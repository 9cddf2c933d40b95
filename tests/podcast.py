"""Podcast episodes made from the shared JFK speech, and the checks every audiogram test
makes on what came out: the size, the streams, the cover art, the captions (by their
pixels) and the loudness (``tests/loudness.py``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from clipray.clips.audiogram import COVER_HEIGHT, COVER_TOP, WAVE_HEIGHT, WAVE_TOP
from clipray.clips.captions import CaptionConfig
from tests.conftest import MEDIA
from tests.loudness import assert_on_target

JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.flac"
"""11 s; "Americans" is spoken at about 1.8 s (the media README)."""
COVER_RGB = (208, 48, 32)
"""The cover art's one colour: far from the default background (0x1d2433) and from white."""
BACKGROUND_RGB = (0x1D, 0x24, 0x33)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def cover_png(folder: Path) -> Path:
    """A 600x600 picture of one colour, as an episode's cover art."""
    out = folder / "cover.png"
    r, g, b = COVER_RGB
    _ffmpeg("-f", "lavfi", "-i", f"color=c=0x{r:02x}{g:02x}{b:02x}:s=600x600", "-frames:v", "1",
            str(out))  # fmt: skip
    return out


def episode(folder: Path, ext: str, *, cover: bool) -> Path:
    """The JFK speech as an audio-only file: ``.flac``, ``.mp3`` or ``.m4a``, with the cover
    art attached (``disposition.attached_pic``) when ``cover``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"episode-{'cover' if cover else 'plain'}.{ext}"
    codec = {"flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
             "m4a": ["-c:a", "aac", "-b:a", "128k"]}[ext]  # fmt: skip
    if not cover:
        _ffmpeg("-i", str(JFK), "-map", "0:a", *codec, str(out))
        return out
    png = cover_png(folder)
    _ffmpeg("-i", str(JFK), "-i", str(png), "-map", "0:a", "-map", "1:v", *codec,
            "-c:v", "png", "-disposition:v:0", "attached_pic", str(out))  # fmt: skip
    return out


def streams(path: Path | str) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out)["streams"]


def frame_rgb(path: Path | str, t: float, size: tuple[int, int]) -> np.ndarray:
    """The frame at ``t`` seconds, RGB, ``(H, W, 3)`` int."""
    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.int32)


def caption_band(frame: np.ndarray) -> np.ndarray:
    """The rows the captions are burned into: from the end of the wave band to the captions'
    bottom margin."""
    h = frame.shape[0]
    top = int(h * (WAVE_TOP + WAVE_HEIGHT)) + 4
    bottom = int(h * (1 - CaptionConfig().margin_bottom)) + 8
    return frame[top:bottom]


def ink(region: np.ndarray, background: tuple[int, int, int]) -> float:
    """The share of ``region``'s pixels that are not the background colour."""
    far = np.abs(region - np.array(background)).max(axis=-1) > 40
    return float(far.mean())


def check_audiogram(path: Path | str, *, size: tuple[int, int] = (1080, 1920),
                    cover: bool, spoken_at: list[float]) -> None:  # fmt: skip
    """Assert that ``path`` is an audiogram as promised: a video stream of ``size`` and an
    audio stream; the cover's colour at the cover box's centre (the background there
    without cover art); burned captions (ink in the caption band) at the clip times
    ``spoken_at`` where words are spoken; -14 +- 1 LUFS."""
    info = streams(path)
    video = [s for s in info if s["codec_type"] == "video"]
    assert len(video) == 1, info
    assert (video[0]["width"], video[0]["height"]) == size, info
    assert [s["codec_name"] for s in info if s["codec_type"] == "audio"] == ["aac"], info
    w, h = size
    first = frame_rgb(path, spoken_at[0], size)
    centre = first[int(h * (COVER_TOP + COVER_HEIGHT / 2)), w // 2]
    want = COVER_RGB if cover else BACKGROUND_RGB
    assert np.abs(centre - np.array(want)).max() <= 16, (centre, want)
    corner = first[8, 8]  # the canvas outside the cover is the background colour
    assert np.abs(corner - np.array(BACKGROUND_RGB)).max() <= 16, corner
    shares = [ink(caption_band(frame_rgb(path, t, size)), BACKGROUND_RGB) for t in spoken_at]
    assert all(s > 0.005 for s in shares), shares  # a caption is drawn while words are spoken
    assert_on_target(path)
