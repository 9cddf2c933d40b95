"""Render throughput: clipray's clip render against one plain FFmpeg re-encode of the spans.

    python bench/render.py [VIDEO] [--clips 3] [--seconds 20]

Renders ``--clips`` spans of ``--seconds`` each with clipray (reframe crop, captions burned
in, loudness normalised to -14 LUFS, thumbnail) and, side by side in the same process,
re-encodes the same spans with a plain ``ffmpeg -ss -t -i VIDEO -c:v libx264 -c:a aac``
as the baseline.
Prints clips rendered per minute, render seconds per output second, and the ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.render import ASPECTS, RenderSpec, render_clip
from clipray.pipelines.stages.decode import probe
from clipray.schemas import Word

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
DEFAULT = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"


def _words(start: float, end: float) -> list[Word]:
    """Two words a second over the span: enough caption events to cost what real ones do."""
    words = []
    t = start
    while t + 0.4 < end:
        words.append(Word(t, t + 0.4, " word", 1.0))
        t += 0.5
    return words


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("video", nargs="?", default=str(DEFAULT))
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    info = probe(args.video)
    length = min(args.seconds, info.duration / args.clips)
    spans = [(i * length, (i + 1) * length) for i in range(args.clips)]
    out_w, out_h = ASPECTS["9:16"]
    print(f"input: {args.video}  {info.duration:.1f} s  {info.width}x{info.height}  "
          f"{args.clips} clips of {length:.1f} s")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="clipray-bench-") as tmp:
        t0 = time.perf_counter()
        for i, (start, end) in enumerate(spans):
            spec = RenderSpec(source_id="0" * 32, start=start, end=end)
            ass = build_ass(_words(start, end), start, end, out_w, out_h, CaptionConfig())
            render_clip(spec, args.video, (info.width, info.height), info.has_audio,
                        Path(tmp) / f"c{i}", ass)  # fmt: skip
        clipray_s = time.perf_counter() - t0

        def plain(extra: list[str]) -> float:
            t0 = time.perf_counter()
            for i, (start, end) in enumerate(spans):
                out = str(Path(tmp) / f"plain{i}.mp4")
                cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start:.3f}",
                       "-t", f"{end - start:.3f}", "-i", args.video, *extra, "-c:v", "libx264",
                       "-preset", "veryfast", "-c:a", "aac", out]  # fmt: skip
                subprocess.run(cmd, check=True)
            return time.perf_counter() - t0

        plain_s = plain([])
        # The same output size as clipray's: isolates the cost of captions and loudness.
        sized_s = plain(["-vf", f"scale={out_w}:{out_h}"])

    out_s = length * args.clips
    print(f"clipray render      {args.clips / clipray_s * 60:6.1f} clips/min   "
          f"{clipray_s / out_s:.3f} s per output second")  # fmt: skip
    print(f"plain ffmpeg (base) {args.clips / plain_s * 60:6.1f} clips/min   "
          f"{plain_s / out_s:.3f} s per output second")  # fmt: skip
    print(f"plain ffmpeg at {out_w}x{out_h} {args.clips / sized_s * 60:6.1f} clips/min   "
          f"{sized_s / out_s:.3f} s per output second")  # fmt: skip
    print(f"ratio clipray / plain re-encode: {clipray_s / plain_s:.2f}x; "
          f"/ plain re-encode at the output size: {clipray_s / sized_s:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
