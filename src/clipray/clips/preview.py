"""One frame of a clip with its captions burned in: the caption styler's preview.

The preview must be the output, not a look-alike, so it is drawn by the render's own
filter chain (:func:`~clipray.clips.render.video_filter`: the reframe crop, the scale, the
``.ass`` burned in by libass) on a single frame, and written as a PNG:

    >>> png = preview_frame(spec, url, (1920, 1080), ass, 2.5, tmp)  # doctest: +SKIP
    >>> png.read_bytes()[:4]                                         # doctest: +SKIP
    b'\\x89PNG'

``at`` is clip time (0 is the clip's first frame). The source is seeked to ``start + at``
and the frame's timestamp set back to ``at`` before the filters, so a reframe path that
moves over time and the captions' timings see the same clock as in the rendered clip.
:func:`caption_time` picks an ``at`` where a caption shows.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from clipray.clips.captions import emoji_fallback
from clipray.clips.effects.graph import EffectsGraph
from clipray.clips.render import RenderError, RenderSpec, video_filter
from clipray.media.ffmpeg import run_ffmpeg

PREVIEW_TIMEOUT_S = 30.0
"""Bound of one preview's FFmpeg run: one seek, one frame; a source that takes longer to
reach (a slow remote URL) is refused rather than holding the request open."""

_DIALOGUE = re.compile(r"^Dialogue:\s*\d+,(\d+):(\d\d):(\d\d)\.(\d\d),(\d+):(\d\d):(\d\d)\.(\d\d),",
                       re.MULTILINE)  # fmt: skip


def _seconds(h: str, m: str, s: str, cs: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(cs) / 100


def caption_spans(ass_text: str | None) -> list[tuple[float, float]]:
    """The ``(start, end)`` clip times of the document's ``Dialogue`` events, in order."""
    spans = []
    for g in _DIALOGUE.findall(ass_text or ""):
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end > start:
            spans.append((start, end))
    return spans


def caption_time(ass_text: str | None, near: float) -> float:
    """A clip time where a caption of ``ass_text`` shows: ``near`` when one does, else the
    middle of the caption nearest to it; ``near`` when the document has none."""
    spans = caption_spans(ass_text)
    if not spans or any(a <= near < b for a, b in spans):
        return near
    a, b = min(spans, key=lambda s: min(abs(s[0] - near), abs(s[1] - near)))
    return round((a + b) / 2, 2)


def preview_args(source: str, spec: RenderSpec, src_size: tuple[int, int], ass: Path | None,
                 at: float, out: Path) -> list[str]:  # fmt: skip
    """FFmpeg's arguments (after the binary and its global flags) for the frame at clip time
    ``at`` of ``spec``, drawn by the render's filter chain, as a PNG."""
    at = min(max(at, 0.0), max(spec.duration - 0.05, 0.0))
    if spec.effects is not None and spec.effects.broll is not None:
        # the captions over the speaker's frame: B-roll would make the chain a graph over
        # inputs the preview does not open
        held = tuple(s for s in spec.effects.held if s.name != "broll")
        spec = replace(spec, effects=EffectsGraph(held))
    vf = f"setpts=PTS-STARTPTS+{at:.3f}/TB," + video_filter(spec, *src_size, ass)
    return ["-y", "-ss", f"{spec.start + at:.3f}", "-i", source, "-map", "0:v:0",
            "-vf", vf, "-frames:v", "1", "-f", "image2", "-c:v", "png", str(out)]  # fmt: skip


def preview_frame(spec: RenderSpec, source: str, src_size: tuple[int, int],
                  ass_text: str | None, at: float, workdir: Path, ffmpeg: str = "ffmpeg",
                  timeout: float = PREVIEW_TIMEOUT_S) -> Path:  # fmt: skip
    """Render the preview PNG of ``spec`` at clip time ``at`` into ``workdir``.

    Raises:
        RenderError: FFmpeg failed, ran past ``timeout`` or wrote no frame; the clip is an
            audiogram (its captions are drawn on a canvas, not on a frame of the source).
    """
    if spec.audiogram is not None:
        raise RenderError("an audiogram has no source frame to preview captions on")
    workdir.mkdir(parents=True, exist_ok=True)
    ass = None
    if ass_text is not None and spec.captions != "none":
        ass = workdir / "captions.ass"
        ass.write_text(emoji_fallback(ass_text), encoding="utf-8")  # as the render does
    out = workdir / "preview.png"
    run_ffmpeg(preview_args(source, spec, src_size, ass, at, out), ffmpeg=ffmpeg,
               what="caption preview", timeout=timeout, error=RenderError)  # fmt: skip
    if not out.is_file() or out.stat().st_size == 0:
        raise RenderError("caption preview failed: ffmpeg wrote no frame")
    return out
