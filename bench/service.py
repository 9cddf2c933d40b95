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

With ``--burst A,B`` it measures instead a burst through the HTTP API with the job runner,
on the stack ``clipray serve`` brings up (a local Ray head with 2 CPUs, the job runner, the
API on Serve) in a temporary home: one job that starts the model services, one **warm**
job alone (wall time from its ``POST /api/jobs`` to review), then ``A`` jobs from one
workspace and ``B`` from another submitted at once (A's first, each from its own thread;
every video a different one, so nothing is cached). It prints the burst's wall time
against ``A + B`` times the warm job, and the largest wait of each workspace: the time a
job spent queued, from its creation to the start of its first step.

    RAY_AUTH_MODE=disabled python bench/service.py [--seconds 30]
    RAY_AUTH_MODE=disabled python bench/service.py --burst 4,4 [--seconds 30]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
HEADS = MEDIA / "talking_head" / "liveportrait"
SPEECH = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
RAY_CPUS = 2
"""The smallest supported box, which clipray's default resources are sized for."""
JOB_SETTINGS = {"max_clips": 1, "min_duration": 5.0, "max_duration": 15.0}
"""Each burst job renders one clip: the burst measures the shared models, not libx264."""
FINAL = {"review", "completed", "failed", "cancelled"}
PASSWORD = "correct horse battery staple"  # noqa: S105 (the bench's throwaway users)


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


class Api:
    """The bench's client of one user of the HTTP API (its own workspace)."""

    def __init__(self, url: str, name: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=120)
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        reg = self.http.post("/api/auth/register",
                             json={"email": email, "password": PASSWORD, "name": name})
        reg.raise_for_status()
        tok = self.http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        tok.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"  # fmt: skip

    def upload(self, video: Path) -> str:
        """Presign, POST the bytes to S3, confirm (as the studio does); the source's id."""
        import httpx

        data = video.read_bytes()
        pre = self.http.post("/api/upload/presign", json={
            "filename": video.name, "content_type": "video/mp4", "size": len(data)})
        pre.raise_for_status()
        p = pre.json()
        httpx.post(p["url"], data=p["fields"], files={"file": (video.name, data)},
                   timeout=120).raise_for_status()  # fmt: skip
        done = self.http.post("/api/upload/confirm", json={"key": p["key"]})
        done.raise_for_status()
        return done.json()["source_id"]

    def submit(self, source_id: str) -> str:
        resp = self.http.post("/api/jobs", json={"source_id": source_id,
                                                 "settings": JOB_SETTINGS})  # fmt: skip
        resp.raise_for_status()
        return resp.json()["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/api/jobs/{job_id}")
        resp.raise_for_status()
        return resp.json()

    def finished(self, job_id: str, timeout: float = 3600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (job := self.job(job_id))["status"] not in FINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:.0f} s")
            time.sleep(1.0)
        if job["status"] != "review":
            raise RuntimeError(f"job {job_id} ended {job['status']}: {job['error']}")
        return job


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def queued_s(job: dict[str, Any]) -> float:
    """Seconds from the job's creation to the start of its first step."""
    starts = [_at(st["started_at"]) for st in job["steps"] if st["started_at"]]
    return (min(starts) - _at(job["created_at"])).total_seconds()


def burst(home: Path, seconds: float, sizes: tuple[int, int]) -> None:
    """The burst section (see the module's docstring)."""
    from ray import serve

    from clipray.cluster.services import bring_down
    from clipray.config import Settings
    from clipray.serve.launch import start_api

    n = sum(sizes) + 2
    videos = [make_video(home / f"v{i}.mp4", HEADS / ("d6.mp4", "d14.mp4")[i % 2],
                         (i * 23.0) % 190, seconds) for i in range(n)]  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Each workspace's burst is in progress at once: the concurrency quota (3) lets it be.
    settings = Settings(home=home / "home", ray_num_cpus=RAY_CPUS, serve_port=port,
                        ray_include_dashboard=False, rate_limit_per_minute=10_000,
                        rate_limit_register_per_hour=10_000,
                        quota_concurrent_jobs=max(sizes))  # fmt: skip
    try:
        url = start_api(settings).url
        users = [Api(url, "burst-a"), Api(url, "burst-b")]
        owners = [w for w, k in enumerate(sizes) for _ in range(k)]  # A's jobs, then B's
        sources = [users[0].upload(videos[0]), users[0].upload(videos[1])]
        sources += [users[w].upload(videos[2 + i]) for i, w in enumerate(owners)]
        cold_t0 = time.perf_counter()
        users[0].finished(users[0].submit(sources[0]))  # starts the model services
        cold = time.perf_counter() - cold_t0
        t0 = time.perf_counter()
        users[0].finished(users[0].submit(sources[1]))
        warm = time.perf_counter() - t0

        ids: list[str | None] = [None] * len(owners)

        def post(i: int) -> None:
            ids[i] = users[owners[i]].submit(sources[2 + i])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(owners))]
        for t in threads:  # A's burst first, then B's, each POST from its own thread
            t.start()
        for t in threads:
            t.join()
        jobs = [users[w].finished(str(j)) for w, j in zip(owners, ids, strict=True)]
        total = time.perf_counter() - t0
    finally:
        serve.shutdown()
        bring_down(settings)

    waits = {w: max(queued_s(j) for j, o in zip(jobs, owners, strict=True) if o == w)
             for w in range(len(sizes))}  # fmt: skip
    print(f"videos: {seconds:g} s each, every one different; jobs: {JOB_SETTINGS}")
    print(f"first job (starts the services), POST to review: {cold:6.1f} s")
    print(f"one warm job alone, POST to review:             {warm:6.1f} s")
    print(f"{len(owners)} jobs at once ({sizes[0]} from workspace A, {sizes[1]} from B): "
          f"{total:6.1f} s   vs {len(owners)} x warm = {len(owners) * warm:6.1f} s   "
          f"ratio {total / (len(owners) * warm):.2f}")  # fmt: skip
    print("largest wait before a first step: "
          + ", ".join(f"workspace {'AB'[w]} {s:.1f} s" for w, s in waits.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--burst", metavar="A,B", default=None,
                        help="jobs from workspace A and from workspace B, submitted at once "
                             "through the HTTP API (e.g. 4,4) instead of cold and warm")
    args = parser.parse_args()
    if args.burst:
        a, b = (int(x) for x in args.burst.split(","))
        with tempfile.TemporaryDirectory(prefix="clipray-bench-burst-") as tmp:
            burst(Path(tmp), args.seconds, (a, b))
        return

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
