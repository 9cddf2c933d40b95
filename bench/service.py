"""Cold and warm jobs on the service path: what the warm model services save per job.

One run, in this process, on a fresh in-process Ray with 2 CPUs and the embedded S3 server
and SQLite database in a temporary home, times the analyze step (``services.main_job.analyse``:
the analysis, its artifacts and its search index rows; ingest excluded) of:

* **per-job pools**: video B with ``CLIPRAY_WARM_MODELS=false``, every model loaded by the
  job's own actor pools (what each job cost before the services; ``clipray batch`` still
  works this way);
* **cold**: video A, the first job: it starts the model services (every model loads);
* **warm**: video B again, in a workspace of its own (nothing cached), the next job: the
  models are loaded already.

A and B are different videos of the same length (``--seconds``, 30 by default), built from
../shared/media: a talking head with LJSpeech read over it. It prints and asserts nothing;
the issue's goal is warm <= 40% of cold for a 30 s video.

    RAY_AUTH_MODE=disabled python bench/service.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
HEADS = MEDIA / "talking_head" / "liveportrait"
SPEECH = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
RAY_CPUS = 2
"""The smallest supported box, which clipray's default resources are sized for."""


def make_video(out: Path, face: Path, speech_at: float, seconds: float) -> Path:
    """``seconds`` of ``face`` (looped) with LJSpeech from ``speech_at`` over it."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(face),
         "-ss", str(speech_at), "-i", str(SPEECH), "-map", "0:v", "-map", "1:a",
         "-t", str(seconds), "-vf", "scale=480:480,fps=25", "-c:v", "libx264",
         "-preset", "veryfast", "-g", "50", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return out


def timed_analysis(settings, buckets, video: Path) -> tuple[float, list[str]]:
    """Seconds of the analyze step of ``video`` in a fresh workspace, and the stages it
    announced."""
    from clipray.cluster.services import ensure_workspace, open_database
    from clipray.pipelines.ingest import IngestContext, ingest
    from clipray.services.main_job import analyse

    db = open_database(settings)
    ws = ensure_workspace(db, f"bench-{uuid.uuid4().hex[:6]}")
    ctx = IngestContext(buckets, db, ws.id)
    item = ingest(ctx, str(video))
    said: list[str] = []
    t0 = time.perf_counter()
    outcome = analyse(settings, ctx, item, str(video), log_to_driver=False, on_stage=said.append)
    took = time.perf_counter() - t0
    assert outcome.analysis is not None
    assert not outcome.cached
    db.dispose()
    return took, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    from clipray.cluster.services import bring_down, bring_up, connect_ray, open_storage
    from clipray.config import Settings
    from clipray.serve.models import model_stats

    with tempfile.TemporaryDirectory(prefix="clipray-bench-service-") as tmp:
        home = Path(tmp)
        a = make_video(home / "a.mp4", HEADS / "d6.mp4", 0.0, args.seconds)
        b = make_video(home / "b.mp4", HEADS / "d14.mp4", 90.0, args.seconds)
        settings = Settings(home=home / "home", ray_num_cpus=RAY_CPUS,
                            ray_include_dashboard=False)  # fmt: skip
        bring_up(settings, start_ray=False)
        try:
            buckets = open_storage(settings)
            connect_ray(settings, log_to_driver=False)
            pools, _ = timed_analysis(settings.model_copy(update={"warm_models": False}),
                                      buckets, b)  # fmt: skip
            cold, said = timed_analysis(settings, buckets, a)
            warm, said_warm = timed_analysis(settings, buckets, b)
            stats = model_stats() or {}
        finally:
            bring_down(settings)

    print(f"video: {args.seconds:g} s each (A, B: different talking heads and speech)")
    print(f"per-job pools (B, models loaded by the job): {pools:6.1f} s")
    print(f"cold job (A, starts the services):           {cold:6.1f} s   stages {said}")
    print(f"warm job (B, services already loaded):       {warm:6.1f} s   stages {said_warm}")
    print(f"warm / cold: {warm / cold:.2f}   warm / per-job pools: {warm / pools:.2f}")
    print("model loads per service: "
          + ", ".join(f"{name} {s['loads']}" for name, s in sorted(stats.items())))  # fmt: skip


if __name__ == "__main__":
    main()
