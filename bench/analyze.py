"""Whole-analysis throughput: clipray's Ray pipeline against its baselines, side by side.

One run on one input measures, in this process:

* clipray's analysis (``build_analysis`` .. last ``Finished``; Ray start-up excluded) as video
  seconds per wall second, and each stage from the ``timings`` it reports (stage seconds
  summed over windows and chunks, so stages that ran in parallel can add up to more than
  the wall time);
* clipray's scene detection alone, without Ray (``detect_scenes``);
* PySceneDetect's ``ContentDetector`` (its default backend);
* plain faster-whisper on the same file, with the weights clipray bundles (model load
  included: clipray's wall time includes its actors loading theirs);
* ``ffmpeg -f null`` decoding of the whole file: the floor.

With ``--repeat N`` each measurement runs N times, alternately, and the best wall time of
each is kept (the least disturbed by other load), with the spread of the N. During
clipray's analysis the CPU time of every process of the local Ray session (the driver,
Ray's own, each operator's workers and actors) is sampled, and the best run's is printed by
role: where the time beyond the floor goes, however busy the machine is.

Without ``VIDEO`` a ~2 minute composite is built from ../shared/media in a temporary
directory: PySceneDetect's testvideo, the talking heads and fades.mp4 at 640x360, with
LJSpeech sentences as the audio track.

    RAY_AUTH_MODE=disabled python bench/analyze.py [VIDEO] [--window-s 60] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clipray.pipelines.analyze import AnalysisResult
    from clipray.schemas import Scene

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
COMPOSITE_CLIPS = (
    MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4",
    MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_AlexandriaOcasioCortez_000.mp4",
    MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4",
    MEDIA / "talking_head" / "video_retalking" / "face_1.mp4",
    MEDIA / "talking_head" / "liveportrait" / "d14.mp4",
    MEDIA / "talking_head" / "liveportrait" / "d6.mp4",
    MEDIA / "talking_head" / "face_recognition" / "short_hamilton_clip.mp4",
    MEDIA / "scene_cuts" / "pyscenedetect" / "fades.mp4",
)
"""24 + 8 + 8 + 6.1 + 17.9 + 33.6 + 10 + 10 s: about two minutes, cuts between clips."""
COMPOSITE_AUDIO = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
"""231 s of one reader; trimmed to the video's length."""
WHISPER_WEIGHTS = "bundled:tiny.en"
"""The model clipray's ``AsrConfig`` loads by default."""
RAY_CPUS = 2
"""The smallest supported box, which clipray's default stage resources are sized for."""


def compose_default(out_dir: Path) -> Path:
    """Build the default input (see the module docstring) in ``out_dir``."""
    n = len(COMPOSITE_CLIPS)
    # Every clip to 640x360 (letterboxed), square pixels, constant 30 fps, then one stream.
    scale = (
        "scale=640:360:force_original_aspect_ratio=decrease,"
        "pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p"
    )
    graph = ";".join(f"[{i}:v]{scale}[v{i}]" for i in range(n))
    graph += ";" + "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    out = out_dir / "composite.mp4"
    inputs = [arg for clip in COMPOSITE_CLIPS for arg in ("-i", str(clip))]
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-i", str(COMPOSITE_AUDIO),
        "-filter_complex", graph, "-map", "[v]", "-map", f"{n}:a",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-shortest", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


# --- the measurements --------------------------------------------------------------------
@dataclass
class Best:
    """The best (lowest) wall time of one measurement, with what that run found."""

    wall: float = float("inf")
    found: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    walls: list[float] = field(default_factory=list)
    """Every run's wall time, for the spread."""

    def keep(self, wall: float, found: str, extra: dict[str, float] | None = None) -> None:
        self.walls.append(wall)
        if wall < self.wall:
            self.wall, self.found, self.extra = wall, found, extra or {}

    @property
    def spread(self) -> str:
        return f"{min(self.walls):.2f}-{max(self.walls):.2f} s" if self.walls else "-"


class CpuByRole:
    """CPU seconds of this process and all its descendants (a local Ray session's driver,
    raylet, workers and actors) while it runs, by role: a worker's role is the Ray task or
    actor names its process title showed (``ray::MapWorker(MapBatches(FacesStage))``).
    Sampled every 0.1 s, so a process that lived less than that may be missed."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._roles: dict[int, set[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuByRole:
        self._sample()
        self._start = dict(self._last)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def _sample(self) -> None:
        try:
            procs = [self._me, *self._me.children(recursive=True)]
        except Exception:  # the tree changed under us: next sample
            return
        for proc in procs:
            try:
                t = proc.cpu_times()
                title = " ".join(proc.cmdline())
            except Exception:  # exited meanwhile: its last sample stands
                t, title = None, ""
            if t is not None:
                self._last[proc.pid] = t.user + t.system
                self._roles.setdefault(proc.pid, set()).add(_role(proc.pid, self._me.pid, title))

    def totals(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for pid, cpu in self._last.items():
            roles = sorted(self._roles.get(pid, set()) - {"idle worker"}) or ["idle worker"]
            out[" + ".join(roles)] += cpu - self._start.get(pid, 0.0)
        return out


def _role(pid: int, driver: int, title: str) -> str:
    if pid == driver:
        return "driver (Ray Data executor, merge)"
    m = re.match(r"ray::(\S+)", title)
    if m is None and "default_worker.py" not in title:  # a worker's title before its first task
        if title.startswith("ffmpeg"):
            return "ffmpeg (audio)"
        return "Ray system processes (raylet, GCS, monitors)"
    if m is None or m.group(1) == "IDLE":
        return "idle worker"
    # MapWorker(MapBatches(FacesStage)).submit -> MapWorker(MapBatches(FacesStage))
    return re.sub(r"\.(submit|__init__|[a-z_]+)$", "", m.group(1).split(":")[-1])


def ffmpeg_decode(path: Path) -> str:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], check=True
    )
    return ""


def pyscenedetect_scenes(path: Path) -> str:
    import scenedetect
    from scenedetect import ContentDetector

    scenes = scenedetect.detect(str(path), ContentDetector())
    return f"{len(scenes)} scenes: {len(scenes) - 1} cuts"


def clipray_scenes(path: Path, duration: float) -> str:
    from clipray.pipelines.stages.scenes import detect_scenes

    return scene_summary(detect_scenes(path, duration=duration))


def scene_summary(scenes: list[Scene]) -> str:
    """Counts by how scenes begin: PySceneDetect's ContentDetector finds only cuts, clipray's
    defaults also find fades."""
    cuts = sum(s.kind == "cut" for s in scenes)
    fades = sum(s.kind == "fade" for s in scenes)
    return f"{len(scenes)} scenes: {cuts} cuts, {fades} fades"


def plain_whisper(path: Path) -> tuple[str, dict[str, float]]:
    """faster-whisper as its README runs it: load, transcribe the file, consume segments."""
    from faster_whisper import WhisperModel

    from clipray.models.asr import resolve_weights

    t0 = time.perf_counter()
    model = WhisperModel(resolve_weights(WHISPER_WEIGHTS), device="cpu", compute_type="int8")
    t1 = time.perf_counter()
    segments, _ = model.transcribe(str(path), word_timestamps=True)
    words = sum(len(s.words or ()) for s in segments)
    return f"{words} words", {"load": t1 - t0, "transcribe": time.perf_counter() - t1}


def clipray_analysis(path: Path, window_s: float) -> tuple[float, AnalysisResult, Counter[str]]:
    """Wall time from ``build_analysis`` to the last ``Finished``, that result, and the CPU
    seconds the Ray session spent meanwhile by role."""
    from clipray.config import Settings
    from clipray.pipelines.analyze import AnalyzeConfig, build_analysis, collect
    from clipray.pipelines.stages.decode import probe
    from clipray.schemas import VideoRow

    info = probe(path)
    row = VideoRow(
        source_id=uuid.uuid4().hex,
        uri=str(path),
        duration=info.duration,
        has_audio=info.has_audio,
        width=info.width,
        height=info.height,
    )
    cfg = AnalyzeConfig(window_s=window_s)
    settings = Settings(ray_num_cpus=RAY_CPUS)
    with CpuByRole() as cpu:
        t0 = time.perf_counter()
        ds = build_analysis([row], cfg, settings)
        done = list(collect(ds.iter_rows(), {row["source_id"]: row}, cfg))
        wall = time.perf_counter() - t0
    if done[0].error is not None or done[0].result is None:
        raise RuntimeError(f"clipray analysis failed: {done[0].error}")
    return wall, done[0].result, cpu.totals()


def cpu_s() -> float:
    """CPU seconds of this process (all threads) and its finished children (ffmpeg)."""
    import resource

    use = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in use)


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Wall seconds of ``fn(*args)`` and its result; its CPU seconds are left in
    ``timed.cpu``, a figure that other load on the machine disturbs much less."""
    t0, c0 = time.perf_counter(), cpu_s()
    out = fn(*args)
    timed.cpu = cpu_s() - c0  # type: ignore[attr-defined]
    return time.perf_counter() - t0, out


# --- report ------------------------------------------------------------------------------
def speed(duration: float, seconds: float) -> str:
    return f"{duration / seconds:6.1f} video-s/s" if seconds > 0 else "     - video-s/s"


def report(
    duration: float,
    has_audio: bool,
    result: AnalysisResult | None,
    analysis: Best,
    scenes: Best,
    psd: Best,
    whisper: Best,
    decode: Best,
    cpu: Counter[str],
) -> None:
    """Print throughputs (video seconds per second), the target ratios, and where the CPU
    went during the best analysis run."""
    if result is not None:
        t = result.timings
        tr = result.transcript
        words = sum(len(s.words) for s in tr.segments) if tr else 0
        print(
            f"clipray analysis      total {speed(duration, analysis.wall)}   "
            f"(wall {analysis.wall:.1f} s, spread {analysis.spread}; "
            f"{scene_summary(result.scenes)}, "
            f"{len(result.tracks)} face tracks, {words} words)"
        )
        for stage, secs in t.items():
            print(f"  stage {stage:<15} {speed(duration, secs)}   ({secs:.2f} stage-s)")
        print(f"  sum of stage-s {sum(t.values()):.1f} over wall {analysis.wall:.1f} s")
        total = sum(cpu.values())
        print(f"  CPU-s of the Ray session by role: {total:.1f} in all, "
              f"{total / RAY_CPUS:.1f} s of wall on {RAY_CPUS} CPUs at best")  # fmt: skip
        for role, secs in cpu.most_common():
            if secs >= 0.05:
                print(f"    {secs:6.2f}  {role}")
    else:
        print("clipray analysis      FAILED (see below)")
    print(
        f"clipray detect_scenes (no Ray) {speed(duration, scenes.wall)}   "
        f"(wall {scenes.wall:.2f} s, spread {scenes.spread}; {scenes.found})"
    )
    print(
        f"pyscenedetect ContentDetector  {speed(duration, psd.wall)}   "
        f"(wall {psd.wall:.2f} s, spread {psd.spread}; {psd.found})"
    )
    if has_audio:
        print(
            f"faster-whisper (plain)         {speed(duration, whisper.wall)}   "
            f"(wall {whisper.wall:.2f} s = load {whisper.extra['load']:.2f} + transcribe "
            f"{whisper.extra['transcribe']:.2f}, spread {whisper.spread}; {whisper.found})"
        )
    print(
        f"ffmpeg -f null decode (floor)  {speed(duration, decode.wall)}   "
        f"(wall {decode.wall:.2f} s, spread {decode.spread})"
    )

    print(
        f"ratio scenes clipray detect_scenes/pyscenedetect: {psd.wall / scenes.wall:.2f}x "
        "(target >= 2x)"
    )
    print(
        f"ratio scenes clipray detect_scenes/ffmpeg decode: {scenes.wall / decode.wall:.2f} "
        f"(target <= 1.2); in CPU-s of the best runs {scenes.extra['cpu']:.2f}/"
        f"{decode.extra['cpu']:.2f} = {scenes.extra['cpu'] / decode.extra['cpu']:.2f}"
    )
    if result is not None:
        stage_s = result.timings.get("decode+scenes")
        if stage_s:
            print(
                f"ratio scenes clipray stage decode+scenes/pyscenedetect: "
                f"{psd.wall / stage_s:.2f}x (target >= 2x; the stage also samples frames "
                "for the model stages)"
            )
        floor = decode.wall + (whisper.wall if has_audio else 0.0)
        print(
            f"ratio analysis wall / (decode + ASR floor): {analysis.wall / floor:.2f} "
            f"(floor {floor:.1f} s; target <= 1.5)"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, help="default: a ~2 min composite")
    ap.add_argument("--window-s", type=float, default=60.0, help="AnalyzeConfig.window_s")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import ray

    from clipray.pipelines.stages.decode import probe

    with tempfile.TemporaryDirectory(prefix="clipray-bench-") as tmp:
        video = args.video or compose_default(Path(tmp))
        info = probe(video)
        duration = info.duration
        print(
            f"input: {video.name}  {duration:.1f} s  {info.width}x{info.height}  "
            f"audio: {'yes' if info.has_audio else 'no'}  (best of {args.repeat}; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        sys.stdout.flush()

        ray.init(address="local", num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False

        decode, psd, scenes, whisper = Best(), Best(), Best(), Best()
        analysis = Best()
        result = None
        cpu: Counter[str] = Counter()
        failure = None
        for _ in range(args.repeat):
            wall, found = timed(ffmpeg_decode, video)
            decode.keep(wall, found, {"cpu": timed.cpu})  # type: ignore[attr-defined]
            wall, found = timed(pyscenedetect_scenes, video)
            psd.keep(wall, found)
            wall, found = timed(clipray_scenes, video, duration)
            scenes.keep(wall, found, {"cpu": timed.cpu})  # type: ignore[attr-defined]
            if info.has_audio:
                wall, (found, parts) = timed(plain_whisper, video)
                whisper.keep(wall, found, parts)
            try:
                wall, res, used = clipray_analysis(video, args.window_s)
            except Exception:  # report what broke, keep the baselines' figures
                failure = traceback.format_exc()
                continue
            if wall < analysis.wall:
                result, cpu = res, used
            analysis.keep(wall, "")
        ray.shutdown()

    report(duration, info.has_audio, result, analysis, scenes, psd, whisper, decode, cpu)
    if failure is not None:
        print("clipray analysis error:\n" + failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
