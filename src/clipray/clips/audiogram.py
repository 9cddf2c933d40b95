"""Audiograms: how a clip of an audio-only source (a podcast episode) becomes a video.

A sound file has no picture to crop, so its clips are drawn: a canvas of the clip's aspect,
the episode's cover art scaled into the upper part (a plain background colour where the
file has none), the sound itself animated in a band below it (FFmpeg's ``showwaves``,
``showfreqs`` or ``showspectrum``), and the word-highlight captions burned in under that by
the same libass path as every clip. The layout keeps the three apart: the captions sit
``CaptionConfig.margin_bottom`` above the bottom edge, the band ends above them.

Pure: :func:`audiogram_graph` writes the ``-filter_complex`` of the one encode that draws
all of it (``clips/render.py`` runs it, with the loudness-normalised audio as input 0 and
the cover as input 1).

    >>> g = audiogram_graph(AudiogramSpec(cover=True), (1080, 1920), 30.0, None)
    >>> g.split(";")[0]
    'color=c=0x1d2433:s=1080x1920:r=30:d=30.000[bg]'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from clipray.media.encoders import X264, video_args

Wave = Literal["waves", "freqs", "spectrum"]
WAVES: tuple[str, ...] = ("waves", "freqs", "spectrum")

COLOUR = re.compile(r"^(0x|#)?[0-9a-fA-F]{6}$|^[a-zA-Z]{3,20}$")
"""An FFmpeg colour this module accepts: ``0xRRGGBB``, ``#RRGGBB`` or a colour name
(``navy``); nothing that could end an option inside a filter graph."""

FPS = 30
"""Frames per second of an audiogram: the rate every clip is encoded at."""

# The layout, as shares of the canvas (see the module docstring for why these bands).
COVER_TOP = 0.08
COVER_HEIGHT = 0.42
COVER_WIDTH = 0.8
WAVE_TOP = 0.55
WAVE_HEIGHT = 0.12
WAVE_WIDTH = 0.9


class AudiogramError(ValueError):
    """An audiogram spec FFmpeg could not draw (an unknown wave kind, a malformed colour)."""


@dataclass(frozen=True)
class AudiogramSpec:
    """How an audiogram looks; stored in the clip's render spec, so it is part of its hash."""

    cover: bool = False
    """Draw the episode's cover art (the file has an attached picture)."""
    background: str = "0x1d2433"
    """Canvas colour (``CLIPRAY_AUDIOGRAM_BACKGROUND``); a brand kit's background colour or
    picture replaces it (``clips/effects/brand.py``)."""
    wave: Wave = "waves"
    """``waves`` (the waveform), ``freqs`` (bars of the spectrum) or ``spectrum`` (a
    scrolling spectrogram)."""
    wave_colour: str = "0xf2f2f2"

    def __post_init__(self) -> None:
        if self.wave not in WAVES:
            raise AudiogramError(f"wave {self.wave!r} is not one of {', '.join(WAVES)}")
        for name in ("background", "wave_colour"):
            if not COLOUR.match(getattr(self, name)):
                raise AudiogramError(f"{name} {getattr(self, name)!r} is not a colour "
                                     "(0xRRGGBB, #RRGGBB or a name)")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"cover": self.cover, "background": self.background, "wave": self.wave,
                "wave_colour": self.wave_colour}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AudiogramSpec:
        return cls(**data)


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


def _even(v: float) -> int:
    n = round(v)
    return n - n % 2


def cover_box(size: tuple[int, int]) -> Box:
    """Where the cover art is fitted (kept in proportion, centred in the box)."""
    w, h = size
    bw, bh = _even(w * COVER_WIDTH), _even(h * COVER_HEIGHT)
    return Box((w - bw) // 2, _even(h * COVER_TOP), bw, bh)


def wave_box(size: tuple[int, int]) -> Box:
    """The band the animated sound is drawn in."""
    w, h = size
    bw, bh = _even(w * WAVE_WIDTH), _even(h * WAVE_HEIGHT)
    return Box((w - bw) // 2, _even(h * WAVE_TOP), bw, bh)


def _hex(colour: str) -> str:
    return "0x" + colour[1:] if colour.startswith("#") else colour


def wave_filter(spec: AudiogramSpec, box: Box) -> str:
    """The filter from the clip's audio to its animated band (RGBA: the waveform and the
    bars are drawn on a transparent ground; the spectrogram fills its band)."""
    size, colour = f"{box.w}x{box.h}", _hex(spec.wave_colour)
    if spec.wave == "waves":
        return (f"aformat=channel_layouts=mono,showwaves=s={size}:mode=cline:rate={FPS}"
                f":colors={colour}:draw=full:scale=sqrt,format=rgba")  # fmt: skip
    if spec.wave == "freqs":
        return (f"aformat=channel_layouts=mono,showfreqs=s={size}:mode=bar:ascale=sqrt"
                f":fscale=log:win_size=2048:colors={colour},fps={FPS},format=rgba")  # fmt: skip
    return (f"aformat=channel_layouts=mono,showspectrum=s={size}:slide=scroll:mode=combined"
            f":color=intensity:scale=cbrt,fps={FPS},format=rgba")  # fmt: skip


def escape_filter_path(path: Path) -> str:
    """A file path as an FFmpeg filter option value (``:``, ``\\`` and quotes escaped)."""
    return re.sub(r"([\\:'\[\],;])", r"\\\1", str(path))


def audiogram_graph(spec: AudiogramSpec, size: tuple[int, int], duration: float,
                    ass: Path | None) -> str:  # fmt: skip
    """The ``-filter_complex`` drawing one audiogram of ``duration`` seconds at ``size``.

    Inputs: ``0:a`` the clip's (normalised) audio, ``1:v`` the cover picture when
    ``spec.cover``. Output: ``[v]``, yuv420p frames at :data:`FPS`. The cover is one frame;
    ``overlay``'s ``eof_action=repeat`` holds it for the whole clip.
    """
    if duration <= 0:
        raise AudiogramError(f"an audiogram needs a positive duration, not {duration:g} s")
    w, h = size
    bg = _hex(spec.background)
    steps = [f"color=c={bg}:s={w}x{h}:r={FPS}:d={duration:.3f}[bg]"]
    base = "[bg]"
    if spec.cover:
        c = cover_box(size)
        steps.append(f"[1:v]scale={c.w}:{c.h}:force_original_aspect_ratio=decrease"
                     ":flags=lanczos,setsar=1,format=rgba[cover]")  # fmt: skip
        steps.append(f"[bg][cover]overlay=x=(W-w)/2:y={c.y}+({c.h}-h)/2"
                     ":eof_action=repeat:format=auto[base]")  # fmt: skip
        base = "[base]"
    b = wave_box(size)
    steps.append(f"[0:a]{wave_filter(spec, b)}[wave]")
    tail = [f"overlay=x={b.x}:y={b.y}:shortest=1"]
    if ass is not None:
        tail.append(f"subtitles=filename={escape_filter_path(ass)}")
    tail.append("format=yuv420p")
    steps.append(f"{base}[wave]{','.join(tail)}[v]")
    return ";".join(steps)


def audiogram_args(ffmpeg: str, audio: Path, cover: Path | None, graph: str, duration: float,
                   crf: int, preset: str, audio_bitrate: str, out: Path,
                   encoder: str = X264, output: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """The one encode of an audiogram: the graph's frames (by ``encoder``, ``libx264`` or
    ``h264_nvenc``) and the normalised audio; ``output``: more output options (the
    render's bit-exact flags and fixed thread count)."""
    args = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", str(audio)]
    if cover is not None:
        args += ["-i", str(cover)]
    return [*args, "-filter_complex", graph, "-map", "[v]", "-map", "0:a:0",
            *video_args(encoder, crf, preset), "-r", str(FPS), "-c:a", "aac",
            "-b:a", audio_bitrate, "-t", f"{duration:.3f}", *output, "-movflags", "+faststart",
            str(out)]  # fmt: skip


def cover_args(ffmpeg: str, source: str, out: Path) -> list[str]:
    """Extract the attached picture (``0:v:0`` of an audio-only file is its cover) as PNG:
    one frame, so FFmpeg stops reading the source right after its header."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", source,
            "-map", "0:v:0", "-frames:v", "1", str(out)]  # fmt: skip
