"""Live streams: event-to-clip latency, ASR lag and CPU per stream, 1, 2 and 4 at once.

    python bench/streams.py [--streams 1,2,4] [--seconds 150] [--clip 30] [--aspect 9:16]

Each stream is a synthetic live source: the shared talking head (480x480, 2 s GOPs) over
LJSpeech read speech with loud 2 kHz bursts mixed in at known times (``TONES``), encoded
once, then played by ``ffmpeg -re`` as a live HLS stream served over local HTTP. Keywords
(``KEYWORDS``) are spoken at the times LJSpeech's segment list gives.

Each stream runs :class:`LivePipeline` (ingest, ring buffer, in-process faster-whisper at
beam 1, the live analysis, clip assembly and render at the live preset, S3 and SQLite) in
a process of its own, driven as the stream worker drives it: ``step`` until the stream has
run ``--seconds``, then ``drain`` and ``close``. A process per stream is what the supervisor
gives each stream (one worker actor each); the supervisor and the worker's once-a-second
heartbeat add no measurable CPU, and starting Ray on a small box would take its cores for a
minute and blur the CPU figures, so they are left out.

Prints, per count of streams at once: event-to-clip latency p50/p95 over all clips (the
``GET /api/streams/{id}/health`` definition: from when the end of a clip's last event
arrived to the clip being stored), how many of the known moments got a clip, the ASR
(transcript) lag p50/p95/max, CPU seconds per stream per minute of stream (the baseline:
60 is one core busy for the whole minute), and whether every stream kept up in real time
(its clock advanced at least 95% of wall time and its transcript lag stayed under
``KEEP_UP_LAG_S``).
"""

from __future__ import annotations

import argparse
import csv
import functools
import http.server
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
TALK = MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4"
SPEECH = MEDIA / "speech" / "ljspeech" / "ljspeech_LJ001-0001_0032.flac"
SEGMENTS = SPEECH.with_suffix(".segments.tsv")
TONES = (30.0, 75.0, 120.0, 165.0, 210.0)
"""Where the loud bursts are (1.5 s of 2 kHz at -9 dBFS RMS, about 14 dB over the speech)."""
TONE_S, TONE_HZ = 1.5, 2000
KEYWORDS = ("Netherlands", "Gutenberg", "letterpress")
KEEP_UP_LAG_S = 30.0
"""A transcript lag above this: the stream's speech is heard too late for its clips."""


def make_media(out: Path, seconds: float) -> Path:
    """``seconds`` of the talking head over LJSpeech with the tones mixed in."""
    tones = [t for t in TONES if t + TONE_S < seconds]
    inputs, mix = [], []
    for i, t in enumerate(tones):
        inputs += ["-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=48000:"
                                        f"duration={TONE_S}"]  # fmt: skip
        mix.append(f"[{i + 2}:a]volume=4,adelay={int(t * 1000)}:all=1[t{i}]")
    labels = "".join(f"[t{i}]" for i in range(len(tones)))
    graph = ";".join([*mix, f"[1:a]aresample=48000[s];[s]{labels}amix=inputs={len(tones) + 1}:"
                            "normalize=0:duration=first[a]"])  # fmt: skip
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", TALK,
                    "-i", SPEECH, *inputs, "-filter_complex", graph, "-map", "0:v:0",
                    "-map", "[a]", "-t", f"{seconds}", "-vf", "scale=480:480", "-r", "25",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac",
                    "-b:a", "128k", "-ar", "48000", out], check=True, timeout=600)  # fmt: skip
    return out


def keyword_times(seconds: float) -> list[tuple[str, float, float]]:
    """``(keyword, start, end)`` of each sentence that speaks a keyword."""
    out = []
    with SEGMENTS.open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            start, end = float(row["start_s"]), float(row["end_s"])
            for word in KEYWORDS:
                if word.lower() in row["text"].lower() and end < seconds:
                    out.append((word, start, end))
    return out


class LiveHls:
    """``ffmpeg -re`` writing a live HLS playlist of 2 s segments, served over HTTP."""

    def __init__(self, root: Path, source: Path) -> None:
        root.mkdir(parents=True)
        handler = functools.partial(_Quiet, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/live.m3u8"
        self.started = time.time()
        """When media time 0 played (``-re``: media time m plays at ``started + m``)."""
        self.proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(source), "-c", "copy",
             "-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_flags",
             "delete_segments", "-hls_segment_filename", str(root / "s%05d.ts"),
             str(root / "live.m3u8")], stdout=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while not (root / "live.m3u8").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def run_stream(settings: Any, monitor_id: str, workspace_id: str, url: str, seconds: float,
               options: dict[str, Any], started: float, out: Any) -> None:  # fmt: skip
    """One stream's worker process: drive the pipeline, send back what it measured (or
    why it failed: the parent must not wait for a result that never comes)."""
    try:
        out.put(_drive(settings, monitor_id, workspace_id, url, seconds, options, started))
    except BaseException:
        import traceback

        out.put({"monitor": monitor_id, "error": traceback.format_exc()})


def _drive(settings: Any, monitor_id: str, workspace_id: str, url: str, seconds: float,
           options: dict[str, Any], started: float) -> dict[str, Any]:  # fmt: skip
    from clipray.cluster.services import open_database, open_storage
    from clipray.domain.streams import MonitorSettings
    from clipray.services.stream_context import WorkerContext
    from clipray.services.stream_pipeline import LivePipeline
    from clipray.services.streams import buffer_dir

    healths: list[tuple[float, float | None, float | None]] = []

    def health(h: Any) -> bool:
        healths.append((time.monotonic(), h.transcript_lag_s, h.ingest_lag_s))
        return True

    ctx = WorkerContext(monitor_id, workspace_id, url, None, None,
                        MonitorSettings.of(options), buffer_dir(settings, monitor_id), settings,
                        lambda status, error: True, lambda n: True, _health=health)  # fmt: skip
    db = open_database(settings)
    pipeline = LivePipeline(ctx, db, open_storage(settings)).start()
    t0 = time.monotonic()
    first_media: float | None = None
    try:
        while time.monotonic() - t0 < seconds + 120:
            pipeline.step()
            if first_media is None and len(pipeline.ring):
                first_media = time.monotonic()
            if pipeline.ring.span()[1] >= seconds - 6:
                break
        wall = time.monotonic() - (first_media or t0)
        clock = pipeline.ring.span()[1]
        # The stream clock starts where the ingest joined the live playlist: stream time t is
        # media time t + offset, the offset read from the best-delivered segment.
        offset = min(s.received_at - s.end_s for s in pipeline.ring.segments()) - started
        pipeline.drain()
    finally:
        pipeline.close()
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return {"monitor": monitor_id, "clock": clock, "wall": wall, "cpu": cpu, "offset": offset,
            "healths": healths, "clips": list(pipeline.clips),
            "failures": list(pipeline.failures)}  # fmt: skip


def pct(values: list[float], q: float) -> float | None:
    from clipray.domain.streams import percentile

    return percentile(values, q)


def fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.1f}"


def run_count(n: int, settings: Any, media: Path, seconds: float, options: dict[str, Any],
              work: Path) -> dict[str, Any]:  # fmt: skip
    """``n`` streams at once; the pooled figures."""
    from clipray.cluster.services import open_database
    from clipray.services import streams
    from clipray.services.stream_health import latency_of
    from clipray.storage.orm import StreamClip, Workspace

    db = open_database(settings)
    with db.session() as s:
        ws = Workspace(slug=f"bench-{n}-{int(time.time())}", name="bench")
        s.add(ws)
        s.flush()
        ws_id = ws.id
    sources = [LiveHls(work / f"hls-{n}-{i}", media) for i in range(n)]
    spawn = mp.get_context("spawn")
    out = spawn.Queue()
    procs = []
    for src in sources:
        mid = streams.create(settings, db, ws_id, None, src.url, options).monitor.id
        p = spawn.Process(target=run_stream, args=(settings, mid, ws_id, src.url, seconds,
                                                   options, src.started, out))  # fmt: skip
        p.start()
        procs.append(p)
    try:
        results = [out.get(timeout=seconds + 900) for _ in procs]
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
        for src in sources:
            src.close()
    for r in results:
        if "error" in r:
            raise RuntimeError(f"stream {r['monitor']} failed:\n{r['error']}")
    latencies: list[float] = []
    hits = [0, 0]
    moments = [0, 0]
    with db.session() as s:
        for r in results:
            events = []
            for gid in r["clips"]:
                row = s.get(StreamClip, gid)
                if row is None:
                    continue
                if (x := latency_of(row)) is not None:
                    latencies.append(x)
                # On the media's clock, where the tones and keywords were put.
                events += [(e["kind"], e["t_start"] + r["offset"]) for e in row.events
                           if "kind" in e]  # fmt: skip
            lo, hi = r["offset"], r["offset"] + r["clock"] - 10.0  # what it streamed, settled
            tones = [t for t in TONES if lo <= t <= hi]
            words = [(s0, s1) for _, s0, s1 in keyword_times(hi + 10.0) if lo <= s0 <= hi]
            moments[0] += len(tones)
            moments[1] += len(words)
            hits[0] += sum(any(k == "energy" and abs(t0 - t) < 4.0 for k, t0 in events)
                           for t in tones)  # fmt: skip
            hits[1] += sum(any(k == "keyword" and s0 - 4.0 <= t0 <= s1 + 4.0
                               for k, t0 in events) for s0, s1 in words)  # fmt: skip
    lags = [lag for r in results for _, lag, _ in r["healths"] if lag is not None]
    ingest = [lag for r in results for _, _, lag in r["healths"] if lag is not None]
    kept = all(r["clock"] >= 0.95 * r["wall"] and max(
        (lag for _, lag, _ in r["healths"] if lag is not None), default=1e9) < KEEP_UP_LAG_S
        for r in results)  # fmt: skip
    cpu_per_min = [r["cpu"] / (r["clock"] / 60.0) for r in results if r["clock"] > 0]
    return {"n": n, "clips": len(latencies), "p50": pct(latencies, 50),
            "p95": pct(latencies, 95), "asr50": pct(lags, 50), "asr95": pct(lags, 95),
            "asrmax": max(lags, default=None), "ingest95": pct(ingest, 95),
            "cpu": sum(cpu_per_min) / max(1, len(cpu_per_min)), "kept": kept,
            "tones": f"{hits[0]}/{moments[0]}", "words": f"{hits[1]}/{moments[1]}",
            "failures": [f for r in results for f in r["failures"]]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--streams", default="1,2,4", help="counts of streams at once")
    parser.add_argument("--seconds", type=float, default=150.0, help="seconds of each stream")
    parser.add_argument("--clip", type=float, default=30.0, help="clip length (min = max)")
    parser.add_argument("--aspect", default="9:16")
    parser.add_argument("--asr-model", default=None,
                        help="CLIPRAY_ASR_MODEL (default: the bundled tiny.en)")
    args = parser.parse_args()

    from pydantic import SecretStr

    from clipray.cluster.embedded_s3 import EmbeddedS3
    from clipray.config import Settings
    from clipray.storage import migrate
    from clipray.storage.objects import open_buckets

    counts = [int(c) for c in args.streams.split(",")]
    options = {"min_duration": args.clip, "max_duration": args.clip, "aspect": args.aspect,
               "keywords": list(KEYWORDS), "max_clips_per_hour": 120}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="clipray-bench-streams-") as tmp:
        work = Path(tmp)
        s3 = EmbeddedS3(work / "s3")
        endpoint, _ = s3.start(timeout=120)
        try:
            url = f"sqlite:///{work / 'bench.db'}"
            migrate.upgrade(url)
            settings = Settings(
                home=work / "home", database_url=url, warm_models=False,
                media_bucket="bench-media",
                generated_bucket="bench-clips", url_allow_private=True,
                url_allowed_domains=("127.0.0.1",), s3_endpoint_url=endpoint.url,
                s3_access_key_id=SecretStr(endpoint.access_key_id or ""),
                s3_secret_access_key=SecretStr(endpoint.secret_access_key or ""),
            )  # fmt: skip
            if args.asr_model:
                settings = settings.model_copy(update={"asr_model": args.asr_model})
            open_buckets(endpoint, settings).ensure()
            media = make_media(work / "live.mp4", args.seconds + 30)
            print(f"streams of {args.seconds:g} s (480x480 H.264 2 s GOPs, speech, tones at "
                  f"{', '.join(f'{t:g}' for t in TONES if t + 10 < args.seconds)} s), "
                  f"{args.clip:g} s clips at {args.aspect}, ASR {settings.asr_model} in process, "
                  f"beam 1")  # fmt: skip
            print(" streams  clips  e2c p50  e2c p95  asr p50  asr p95  asr max  ingest p95  "
                  "cpu s/stream-min  tones  keywords  real time")  # fmt: skip
            for n in counts:
                r = run_count(n, settings, media, args.seconds, options, work)
                print(f" {r['n']:7d}  {r['clips']:5d}   {fmt(r['p50'])}   {fmt(r['p95'])}   "
                      f"{fmt(r['asr50'])}   {fmt(r['asr95'])}   {fmt(r['asrmax'])}     "
                      f"{fmt(r['ingest95'])}            {r['cpu']:6.1f}  {r['tones']:>5}  "
                      f"{r['words']:>8}  {'yes' if r['kept'] else 'NO'}", flush=True)  # fmt: skip
                for f in r["failures"][:3]:
                    print(f"          clip failure: {f}")
        finally:
            s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
