"""Drawing a brand kit: where the logo sits, the captions' colours and font, the filters.

A :class:`~clipray.clips.effects.graph.Brand` step (a kit, its intro and outro resolved to
object keys) is drawn in the clip's one encode: the logo is an extra input, scaled to
``logo_size`` of the output's width, made ``logo_opacity`` opaque and overlaid in its
corner inside the platforms' safe margins (the like and share buttons, the handle and the
description cover the edges of a vertical video); the intro and outro are more inputs,
scaled and padded to the output's size and frame rate and joined before and after the
clip by one ``concat``, so the captions, burned in before the join, stay on the clip part.
The captions and the hook take the kit's colours (primary for the text, accent for the
spoken word) and its font, an uploaded font reaching libass through ``fontsdir``.

Everything here is pure string building; the render (``clips/render.py``) runs it with
the assets' paths or URLs (:class:`BrandInputs`, resolved on the render worker).

    >>> step = Brand("k" * 32, logo_key="w/brand/logo.png", logo_size=0.2)
    >>> logo_area(step, (1080, 1920))
    Box(x=820, y=154, w=216, h=384)
    >>> ass_colour("#FFD400")
    '&H00D4FF&'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

from clipray.clips.audiogram import Box, escape_filter_path
from clipray.clips.captions import CaptionConfig
from clipray.clips.effects.graph import FPS, Brand
from clipray.domain.brand import BrandKit

SAFE_MARGINS: dict[str, tuple[float, float]] = {
    "9:16": (0.04, 0.08),
    "1:1": (0.04, 0.05),
    "16:9": (0.03, 0.06),
}
"""``(side, top/bottom)`` margins of the logo as shares of the output's width and height:
a vertical video's top and bottom carry the platforms' own overlays, so they get more."""

LOGO_MAX_HEIGHT = 0.2
"""A logo's height at most this share of the output's: a tall logo keeps out of the
picture's middle (its width then comes out under ``logo_size``)."""


@dataclass(frozen=True)
class BrandInputs:
    """Where FFmpeg reads a kit's assets, resolved on the render worker: paths or
    presigned URLs, and the uploaded font as a local file (libass reads a directory)."""

    logo: str | None = None
    font: Path | None = None
    background: str | None = None
    intro: str | None = None
    outro: str | None = None


def brand_step(kit: BrandKit | None, keys: tuple[str | None, str | None]) -> Brand | None:
    """The brand step of ``kit`` with its intro and outro at ``keys`` (object keys the
    caller looked up from the kit's sources); None without a kit."""
    return None if kit is None else Brand.of(kit, *keys)


def _even(v: float) -> int:
    n = round(v)
    return n - n % 2


def aspect_of(size: tuple[int, int]) -> str:
    """The aspect name of an output size (a square, wider or taller frame)."""
    w, h = size
    return "1:1" if w == h else "16:9" if w > h else "9:16"


def logo_area(step: Brand, size: tuple[int, int]) -> Box:
    """The box the logo is fitted into (kept in proportion, against the box's outer
    corner): ``logo_size`` of the width across, at most :data:`LOGO_MAX_HEIGHT` high, its
    outer corner at the safe margins of ``step.logo_position``."""
    w, h = size
    side, vertical = SAFE_MARGINS[aspect_of(size)]
    bw, bh = _even(w * step.logo_size), _even(h * LOGO_MAX_HEIGHT)
    mx, my = 2 * math.ceil(w * side / 2), 2 * math.ceil(h * vertical / 2)  # never inside them
    x = mx if step.logo_position.endswith("left") else w - mx - bw
    y = my if step.logo_position.startswith("top") else h - my - bh
    return Box(x, y, bw, bh)


def logo_box(step: Brand, size: tuple[int, int], logo_size: tuple[int, int]) -> Box:
    """Where a logo of ``logo_size`` pixels lands on the output: scaled (in proportion,
    even sides) into :func:`logo_area`, against its outer corner."""
    area = logo_area(step, size)
    lw, lh = logo_size
    scale = min(area.w / lw, area.h / lh)
    w, h = max(_even(lw * scale), 2), max(_even(lh * scale), 2)
    x = area.x if step.logo_position.endswith("left") else area.x + area.w - w
    y = area.y if step.logo_position.startswith("top") else area.y + area.h - h
    return Box(x, y, w, h)


def ass_colour(rgb: str) -> str:
    """``#RRGGBB`` as an ASS override colour ``&HBBGGRR&`` (ASS is blue-green-red)."""
    return f"&H{rgb[5:7]}{rgb[3:5]}{rgb[1:3]}&".upper()


def ffmpeg_colour(rgb: str) -> str:
    """``#RRGGBB`` as FFmpeg's ``0xRRGGBB``."""
    return "0x" + rgb[1:].upper()


def caption_style(base: CaptionConfig, step: Brand | None) -> CaptionConfig:
    """``base`` in the kit's colours (primary text, accent on the spoken word) and its
    installed font family; an uploaded font replaces the family at render time
    (:func:`with_font`), where the file is."""
    if step is None:
        return base
    return replace(base, colour=step.primary_color.upper(),
                   highlight_colour=step.accent_color.upper(),
                   font=step.font_family or base.font)  # fmt: skip


_STYLE = re.compile(r"^(Style: Caption,)([^,]*)(,)", re.MULTILINE)


def with_font(ass: str, family: str) -> str:
    """The captions' document with its ``Caption`` style's font set to ``family`` (an
    uploaded font's own family name, read from the file)."""
    return _STYLE.sub(lambda m: f"{m[1]}{family.replace(',', ' ')}{m[3]}", ass, count=1)


def subtitles_filter(ass: Path, fonts: Path | None) -> str:
    """libass over ``ass``, also looking for fonts in ``fonts`` (an uploaded font's
    directory) when given."""
    extra = f":fontsdir={escape_filter_path(fonts)}" if fonts is not None else ""
    return f"subtitles=filename={escape_filter_path(ass)}{extra}"


def logo_filter(step: Brand, size: tuple[int, int], logo: int, base: str, out: str) -> str:
    """The logo (input ``logo``, one picture) scaled into its area, ``logo_opacity``
    opaque, overlaid on ``base`` into ``out`` (``eof_action=repeat`` holds the one picture
    for the whole clip)."""
    a = logo_area(step, size)
    x = str(a.x) if step.logo_position.endswith("left") else f"{a.x + a.w}-w"
    y = str(a.y) if step.logo_position.startswith("top") else f"{a.y + a.h}-h"
    return (f"[{logo}:v]scale={a.w}:{a.h}:force_original_aspect_ratio=decrease"
            f":force_divisible_by=2:flags=lanczos,setsar=1,format=rgba,"
            f"colorchannelmixer=aa={step.logo_opacity:.4f}[logo];"
            f"{base}[logo]overlay=x={x}:y={y}:eof_action=repeat:format=auto,"
            f"format=yuv420p{out}")  # fmt: skip


def bumper_filter(index: int, size: tuple[int, int], duration: float, out: str) -> str:
    """An intro or outro (input ``index``) as the clip's frames: fitted in proportion
    and padded to ``size`` in black, square pixels, :data:`FPS`, ``duration`` seconds."""
    w, h = size
    return (f"[{index}:v]scale={w}:{h}:force_original_aspect_ratio=decrease"
            f":force_divisible_by=2,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,"
            f"fps={FPS},trim=duration={duration:.6f},setpts=PTS-STARTPTS,"
            f"format=yuv420p{out}")  # fmt: skip


def join_filter(parts: list[str], out: str) -> str:
    """The video parts (labels, in order) joined by one ``concat``."""
    return f"{''.join(parts)}concat=n={len(parts)}:v=1:a=0{out}"


def background_filter(picture: int, size: tuple[int, int], out: str) -> str:
    """An audiogram's background picture (input ``picture``) covering the canvas: scaled
    to fill, centre-cropped."""
    w, h = size
    return (f"[{picture}:v]scale={w}:{h}:force_original_aspect_ratio=increase,"
            f"crop={w}:{h},setsar=1,format=rgba{out}")  # fmt: skip



def video_graph(chain: str, step: Brand | None, size: tuple[int, int], inputs: BrandInputs,
                bumpers: tuple[tuple[str, float] | None, tuple[str, float] | None],
                first: int) -> tuple[str, list[str]]:  # fmt: skip
    """The clip's video filters with the kit drawn: ``chain`` (the ``-vf`` chain from the
    source's frames, input 0, to the captioned clip, or a graph to it whose output is
    ``[v]``), the logo overlaid on it, the intro
    and outro (``(url, seconds)``) joined around it. Returns the graph (its output
    ``[v]``) and the extra inputs' arguments, numbered from ``first``; without anything
    to add, ``chain`` itself and no inputs (a plain ``-vf``).

    Raises:
        ValueError: the step holds a logo whose input was not resolved."""
    intro, outro = bumpers
    logo = step is not None and step.logo_key is not None
    if step is None or not (logo or intro or outro):
        return chain, []
    if logo and inputs.logo is None:
        raise ValueError("the brand kit's logo was not resolved to a file")
    args: list[str] = []
    graph = _labelled(chain, "[v]")
    if logo:
        args += ["-i", str(inputs.logo)]
        graph = _labelled(chain, "[clip]") + ";" + logo_filter(step, size, first, "[clip]", "[v]")
        first += 1
    graph, more = join_graph(graph, size, bumpers, first)
    return graph, args + more


def _labelled(chain: str, label: str) -> str:
    """``chain`` as a graph whose output is ``label``: a ``-vf`` chain over input 0, or
    already a graph whose output is ``[v]`` (the clip with B-roll cut in)."""
    return chain.removesuffix("[v]") + label if chain.startswith("[") else f"[0:v]{chain}{label}"


def join_graph(graph: str, size: tuple[int, int],
               bumpers: tuple[tuple[str, float] | None, tuple[str, float] | None],
               first: int) -> tuple[str, list[str]]:  # fmt: skip
    """``graph`` (its output ``[v]``: the clip) with the intro and outro (``(url,
    seconds)``, inputs numbered from ``first``) joined around it by one ``concat`` into
    ``[v]``, and their inputs' arguments."""
    intro, outro = bumpers
    if intro is None and outro is None:
        return graph, []
    args: list[str] = []
    steps = [graph.removesuffix("[v]") + f",fps={FPS},setpts=PTS-STARTPTS[body]"]
    for kind, bumper in (("intro", intro), ("outro", outro)):
        if bumper is None:
            continue
        args += ["-i", bumper[0]]
        steps.append(bumper_filter(first, size, bumper[1], f"[{kind}]"))
        first += 1
    parts = [*(["[intro]"] if intro else []), "[body]", *(["[outro]"] if outro else [])]
    steps.append(join_filter(parts, "[v]"))
    return ";".join(steps), args


def audiogram_graph_branded(graph: str, step: Brand | None, size: tuple[int, int],
                            inputs: BrandInputs, first: int) -> tuple[str, list[str]]:  # fmt: skip
    """An audiogram's graph (``clips/audiogram.py``, output ``[v]``) with the kit's
    background picture under everything and its logo over everything, and their inputs'
    arguments numbered from ``first``."""
    if step is None:
        return graph, []
    args: list[str] = []
    if step.background_key is not None:
        if inputs.background is None:
            raise ValueError("the brand kit's background was not resolved to a file")
        args += ["-i", inputs.background]
        graph = graph.replace("[bg]", "[canvas]", 1)
        head, _, rest = graph.partition(";")
        graph = ";".join([head, background_filter(first, size, "[picture]"),
                          "[canvas][picture]overlay=eof_action=repeat:format=auto[bg]", rest])
        first += 1
    if step.logo_key is not None:
        if inputs.logo is None:
            raise ValueError("the brand kit's logo was not resolved to a file")
        args += ["-i", inputs.logo]
        graph = graph.removesuffix("[v]") + "[drawn];" + logo_filter(step, size, first,
                                                                     "[drawn]", "[v]")
    return graph, args


__all__ = ["LOGO_MAX_HEIGHT", "SAFE_MARGINS", "BrandInputs", "ass_colour",
           "audiogram_graph_branded", "background_filter", "brand_step",
           "bumper_filter", "caption_style", "ffmpeg_colour", "join_filter", "join_graph",
           "logo_area", "logo_box", "logo_filter", "subtitles_filter", "video_graph",
           "with_font"]  # fmt: skip
