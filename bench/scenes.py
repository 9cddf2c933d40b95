"""Scene detection throughput: PySceneDetect's ContentDetector against clipray's, side by side.

Both run in this process on the same file, alternately, ``--repeat`` times each; the best
wall time of each is kept (the least disturbed by other load on the machine). Throughput is
video seconds per wall second. Accuracy is checked on the same run: the cuts must agree (by time:
for VFR input the frame numbers depend on the backend).
"decode only" is single-threaded decoding of every frame with no pixel work: what both
detectors pay before any analysis (clipray splits it over ``ScenesConfig.workers`` threads).

    python bench/scenes.py [VIDEO] [--repeat 3] [--backend opencv|pyav]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import av
import scenedetect
from scenedetect import ContentDetector

from clipray.pipelines.stages.decode import probe
from clipray.pipelines.stages.scenes import ScenesConfig, detect_scenes

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
DEFAULT_VIDEO = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"


def pyscenedetect_cuts(path: Path, backend: str) -> list[float]:
    scenes = scenedetect.detect(str(path), ContentDetector(), backend=backend)
    return [start.seconds for start, _ in scenes[1:]]


def clipray_cuts(path: Path, cfg: ScenesConfig) -> list[float]:
    return [s.start for s in detect_scenes(path, cfg) if s.kind == "cut"]


def decode_only(path: Path) -> list[float]:
    """The floor both detectors stand on: PyAV decoding every frame, one thread, no pixels."""
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass
    return []


def timed(fn: Callable[[], list[float]], runs: list[float]) -> list[float]:
    """Run ``fn`` once, append its wall time to ``runs``."""
    t0 = time.perf_counter()
    out = fn()
    runs.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backend", default="opencv", help="PySceneDetect backend (its default)")
    args = ap.parse_args()

    info = probe(args.video)
    duration = info.duration
    content_only = ScenesConfig(fades=False)  # the same work as ContentDetector alone
    with_fades = ScenesConfig()
    names = ["pyscenedetect", "clipray", "clipray+fades", "decode only"]
    times: dict[str, list[float]] = {name: [] for name in names}
    cuts: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        cuts["pyscenedetect"] = timed(
            lambda: pyscenedetect_cuts(args.video, args.backend), times["pyscenedetect"]
        )
        cuts["clipray"] = timed(lambda: clipray_cuts(args.video, content_only), times["clipray"])
        cuts["clipray+fades"] = timed(
            lambda: clipray_cuts(args.video, with_fades), times["clipray+fades"]
        )
        cuts["decode only"] = timed(lambda: decode_only(args.video), times["decode only"])

    base = duration / min(times["pyscenedetect"])
    print(f"{args.video.name}: {duration:.2f} s of video, best of {args.repeat} runs")
    print(f"{'detector':<16}{'wall s':>9}{'video s / s':>13}{'ratio':>8}  cut times (s)")
    for name, runs in times.items():
        speed = duration / min(runs)
        found = [round(t, 3) for t in cuts[name]] if name != "decode only" else "-"
        print(f"{name:<16}{min(runs):>9.3f}{speed:>13.1f}{speed / base:>7.2f}x  {found}")
    # Frame numbers of VFR input depend on the backend; times do not. Equal: within a frame.
    theirs, ours = cuts["pyscenedetect"], cuts["clipray"]
    frame = 1.0 / (info.base_fps or info.fps or 30.0)
    same = len(theirs) == len(ours) and all(
        abs(a - b) < frame for a, b in zip(theirs, ours, strict=True)
    )
    print(f"cuts equal (within one frame): {same}")


if __name__ == "__main__":
    main()
