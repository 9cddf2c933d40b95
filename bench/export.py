"""Clip export: stream copy from an all-intra proxy against a re-encode from the original.

    python bench/export.py [VIDEO] [--clips 6] [--seconds 10] [--length 60]

Composes a source of ``--length`` seconds by looping VIDEO (re-encoded once as a normal
long-GOP H.264 upload would be), builds its all-intra proxy once (timed apart: it is paid
once per source, however many clips are cut from it), then exports the same ``--clips``
frame ranges of ``--seconds`` each, side by side in the same process:

(a) ``export_range``: stream copy out of the proxy, checked from the output's index;
(b) ``reencode_range``: decode the original and re-encode the range (x264 CRF 20, AAC),
    what exporting costs without a proxy; frame-exact on the same grid.

Prints per-clip times, totals, the ratio (b)/(a), and the ratio with the proxy's build
spread over the clips.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clipray.clips.proxy import export_range, frame_grid, make_proxy, reencode_range

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
DEFAULT = MEDIA / "talking_head" / "liveportrait" / "d6.mp4"  # 33.6 s, 480x480, 30 fps, audio


def compose(video: str, length: float, out: Path) -> None:
    """``video`` looped to ``length`` seconds, as an upload would be encoded (GOP 250)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", video,
         "-t", f"{length}", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("video", nargs="?", default=str(DEFAULT))
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--length", type=float, default=60.0, help="seconds of source")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clipray-bench-") as tmp:
        src, proxy = Path(tmp) / "source.mp4", Path(tmp) / "source.proxy.mp4"
        compose(args.video, args.length, src)
        grid = frame_grid(src)
        n = min(grid.frame_count, round(args.seconds * grid.fps))
        # Evenly spread over the source: the first starts at frame 0, the last ends at the end.
        step = (grid.frame_count - n) / max(1, args.clips - 1)
        ranges = [(s, s + n) for s in (round(i * step) for i in range(args.clips))]

        t0 = time.perf_counter()
        info = make_proxy(src, proxy, grid)
        proxy_s = time.perf_counter() - t0
        print(f"source: {args.video} looped to {grid.duration_s:.1f} s, {info.width}x"
              f"{info.height} at {float(grid.fps):.3f} fps ({grid.frame_count} frames); "
              f"{args.clips} clips of {n} frames ({grid.time_of(n):.1f} s)")  # fmt: skip
        print(f"proxy build (once per source): {proxy_s:.2f} s "
              f"({grid.duration_s / proxy_s:.1f}x faster than real time), "
              f"{proxy.stat().st_size / src.stat().st_size:.1f}x the source's size")  # fmt: skip

        copy_s, reencode_s = [], []
        for i, (start, end) in enumerate(ranges):
            t0 = time.perf_counter()
            method = export_range(proxy, info, start, end, Path(tmp) / f"copy{i}.mp4").method
            copy_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reencode_range(src, grid, start, end, Path(tmp) / f"reencode{i}.mp4")
            reencode_s.append(time.perf_counter() - t0)
            ratio = reencode_s[-1] / copy_s[-1]
            print(f"clip {i} [{start:5d}, {end:5d})  (a) {method} {copy_s[-1]:6.3f} s   "
                  f"(b) re-encode {reencode_s[-1]:6.3f} s   {ratio:5.1f}x")  # fmt: skip

    a, b = sum(copy_s), sum(reencode_s)
    print(f"total  (a) copy from proxy {a:.3f} s   (b) re-encode from original {b:.3f} s")
    print(f"ratio (b)/(a): copy is {b / a:.1f}x faster per clip")
    print(f"amortised, proxy build included: (b)/(a + proxy) = {b / (a + proxy_s):.2f}x "
          f"over {args.clips} clips")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
