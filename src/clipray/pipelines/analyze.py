"""The analysis of videos as one Ray Data pipeline: scenes, speech, faces, audio energy,
embeddings, from one decode of each window.

Two branches leave each video row and meet again at the driver:

    videos ─┬─ windows (keyframe-aligned) ─ decode once ─ faces pool ─ embed pool ─┐
            └─ audio, split on silence ─────────────────── ASR pool ───────────────┴─ merge

Windows and chunks stream: a 4-hour video never sits in memory, and several videos flow
through the same pools (batch mode). The merge (:func:`merge_parts`) is pure and runs per
video as soon as all of its parts are in; scene decisions and face tracks run over the
parts in order there, so window boundaries change nothing.

    >>> ds = build_analysis([row], AnalyzeConfig(), settings)      # doctest: +SKIP
    >>> for done in collect(ds, {row["source_id"]: row}, cfg):     # doctest: +SKIP
    ...     print(done.source_id, len(done.result.scenes))
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from clipray.cluster.resources import actor_pool_args, task_args
from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import FfmpegError, popen, tail
from clipray.models.asr import AsrConfig
from clipray.models.asr_whisperx import WhisperXConfig
from clipray.models.asr_whisperx import runtime_env as whisperx_runtime_env
from clipray.models.embed import EmbedConfig
from clipray.models.faces import FacesConfig
from clipray.pipelines.stages.audio import (
    AudioConfig,
    AudioPeak,
    find_peaks,
    split_on_silence,
)
from clipray.pipelines.stages.decode import plan_windows
from clipray.pipelines.stages.scenes import Features, ScanState, ScenesConfig, scan_features
from clipray.pipelines.stages.scenes import scenes_from_cuts as _scenes_from_cuts
from clipray.pipelines.stages.tracks import (
    TrackerConfig,
    TrackerState,
    close_all,
    link_window,
    split_at_cuts,
)
from clipray.pipelines.stages.window import decode_window
from clipray.schemas import FaceBox, PartRow, Scene, Segment, Track, Transcript, VideoRow


@dataclass(frozen=True)
class AnalyzeConfig:
    """Everything that changes an analysis' result; its fingerprint keys the cache."""

    window_s: float = 60.0
    """Video seconds per window (moved to the next keyframe): the unit of parallel work."""
    sample_fps: float = 2.0
    """Frames per second the model stages (faces, embeddings) see: a 1-hour video stays at
    7,200 inferences, and a face on screen for one second is still seen twice."""
    scenes: ScenesConfig = field(default_factory=ScenesConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    asr_backend: str = "faster-whisper"
    """``faster-whisper`` (in process) or ``whisperx`` (its own Ray runtime env)."""
    whisperx: WhisperXConfig = field(default_factory=WhisperXConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    ffmpeg_bin: str = "ffmpeg"

    def fingerprint(self) -> str:
        """sha256 of the settings that shape the result (not of where tools live)."""
        data = asdict(self)
        data.pop("ffmpeg_bin")
        data["window_s"] = None  # windows never change the result
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def embeddings_on(self) -> bool:
        return self.embed.pretrained is not None or self.embed.random_init


def analyze_config(settings: Settings) -> AnalyzeConfig:
    """The analysis configuration that ``settings`` describe."""
    return AnalyzeConfig(
        window_s=settings.analysis_window_s,
        sample_fps=settings.analysis_sample_fps,
        # CTranslate2's sums depend on its thread count (1 and 2 threads punctuate JFK
        # differently), so the count is part of the fingerprinted config: the ASR actor's
        # CPUs, what Ray's OMP_NUM_THREADS would have given it.
        asr=AsrConfig(
            model=settings.asr_model, cpu_threads=max(1, math.ceil(settings.stage("asr").num_cpus))
        ),
        asr_backend=settings.asr_backend,
        whisperx=WhisperXConfig(model=settings.whisperx_model),
        faces=FacesConfig(weights=settings.face_weights),
        embed=EmbedConfig(model_name=settings.clip_model, pretrained=settings.clip_pretrained),
        ffmpeg_bin=settings.ffmpeg_bin,
    )


# --- what each branch hands to the merge --------------------------------------------------
@dataclass(frozen=True, eq=False)
class WindowResult:
    features: Features | None
    sample_times: np.ndarray
    faces: list[list[FaceBox]]
    """Per sample, in analysis-frame pixels."""
    embeddings: np.ndarray | None
    timings: dict[str, float]
    error: str | None = None
    samples: np.ndarray | None = None
    """The sampled frames, dropped once the model stages have seen them."""


@dataclass(frozen=True, eq=False)
class ChunkResult:
    offset: float
    rms: np.ndarray
    transcript: Transcript | None
    timings: dict[str, float]
    error: str | None = None
    samples: np.ndarray | None = None
    """The chunk's audio, dropped once ASR has heard it."""


def _row(source_id: str, kind: str, index: int, total: int, result: object) -> PartRow:
    return PartRow(
        source_id=source_id, kind=kind, index=index, total=total, result=pickle.dumps(result)
    )


def _guard(stage: str, fn: Callable[[], Any], make_error: Callable[[str], Any]) -> Any:
    """Run a stage; a failure becomes an error result for that video instead of killing the
    whole dataset (one corrupt video must not abort a batch of thousands)."""
    try:
        return fn()
    except Exception as exc:
        tail = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return make_error(f"{stage}: {type(exc).__name__}: {exc} ({tail})")


# --- video branch ------------------------------------------------------------------------
def plan_video(row: VideoRow, window_s: float) -> list[dict[str, Any]]:
    """1 video -> N windows starting on keyframes."""
    try:
        windows = plan_windows(row["uri"], window_s)
    except Exception as exc:
        err = WindowResult(None, np.zeros(0), [], None, {}, error=f"plan: {exc}")
        return [
            {**row, "index": 0, "total": 1, "start": 0.0, "end": -1.0, "error": pickle.dumps(err)}
        ]
    return [
        {**row, "index": i, "total": len(windows), "start": s, "end": -1.0 if e is None else e,
         "error": b""}
        for i, (s, e) in enumerate(windows)
    ]  # fmt: skip


def decode_row(row: dict[str, Any], cfg: AnalyzeConfig) -> dict[str, Any]:
    """1 window -> 1 decoded window (scene features of every frame, samples for models)."""
    if row["error"]:
        return {"part": row["error"], **_ids(row)}

    def run() -> WindowResult:
        t0 = time.perf_counter()
        end = None if row["end"] < 0 else row["end"]
        win = decode_window(
            row["uri"], row["start"], end, row["duration"], cfg.scenes, cfg.sample_fps
        )
        took = {"decode+scenes": time.perf_counter() - t0}
        return WindowResult(win.features, win.sample_times, [], None, took, samples=win.samples)

    res = _guard("decode", run, lambda e: WindowResult(None, np.zeros(0), [], None, {}, e))
    return {"part": pickle.dumps(res), **_ids(row)}


def _ids(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("source_id", "index", "total", "width", "height")}


def _each_window(
    batch: dict[str, np.ndarray], stage: str, fn: Callable[[WindowResult], dict[str, Any]]
) -> dict[str, np.ndarray]:
    """Apply a model to every healthy window of a batch that has samples; ``fn`` returns the
    fields it sets, and its time is added to the window's timings under ``stage``."""
    parts = []
    for blob in batch["part"]:
        res: WindowResult = pickle.loads(blob)
        if res.error is None and res.samples is not None and len(res.samples):
            t0 = time.perf_counter()
            changes = fn(res)
            timings = {**res.timings, stage: time.perf_counter() - t0}
            res = replace(res, **changes, timings=timings)
        parts.append(pickle.dumps(res))
    return {**batch, "part": np.array(parts, dtype=object)}


class FacesStage:
    """Actor: loads the face detector once; adds detections to each window."""

    def __init__(self, cfg: FacesConfig) -> None:
        from clipray.models.faces import FaceDetector

        self.detector = FaceDetector.load(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _each_window(
            batch,
            "faces",
            lambda w: {"faces": self.detector.detect(w.samples, times=w.sample_times.tolist())},
        )


class EmbedStage:
    """Actor: loads open_clip once; adds one embedding per sampled frame."""

    def __init__(self, cfg: EmbedConfig) -> None:
        from clipray.models.embed import EmbedModel

        self.model = EmbedModel.load(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _each_window(
            batch, "embed", lambda w: {"embeddings": self.model.embed_images(w.samples)}
        )


def window_part(row: dict[str, Any]) -> PartRow:
    """Drop the sampled frames and hand the window to the merge."""
    slim = replace(pickle.loads(row["part"]), samples=None)
    return _row(row["source_id"], "window", int(row["index"]), int(row["total"]), slim)


# --- audio branch ------------------------------------------------------------------------
def audio_blocks(uri: str, cfg: AudioConfig, ffmpeg_bin: str, block_s: float = 10.0
                 ) -> Iterator[np.ndarray]:  # fmt: skip
    """The file's audio as 16 kHz mono float32 blocks, streamed from one ffmpeg process."""
    cmd = [ffmpeg_bin, "-nostdin", "-v", "error", "-i", uri, "-vn", "-ac", "1",
           "-ar", str(cfg.sample_rate), "-f", "f32le", "-"]  # fmt: skip
    proc = popen(cmd, tool="ffmpeg")
    assert proc.stdout is not None
    assert proc.stderr is not None
    size = int(block_s * cfg.sample_rate) * 4
    try:
        while data := proc.stdout.read(size):
            yield np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise FfmpegError(f"ffmpeg could not decode the audio: {tail(err)}")


def audio_chunks(row: VideoRow, cfg: AnalyzeConfig) -> Iterator[dict[str, Any]]:
    """1 video -> M chunks of speech-friendly length, cut at pauses, streamed."""
    index = 0
    pending: ChunkResult | None = None
    try:
        t0 = time.perf_counter()
        for chunk in split_on_silence(
            audio_blocks(row["uri"], cfg.audio, cfg.ffmpeg_bin), cfg.audio
        ):
            took = {"audio": time.perf_counter() - t0}
            if pending is not None:
                yield {"source_id": row["source_id"], "index": index - 1, "total": -1,
                       "part": pickle.dumps(pending)}  # fmt: skip
            pending = ChunkResult(chunk.offset, chunk.rms, None, took, samples=chunk.samples)
            index += 1
            t0 = time.perf_counter()
    except Exception as exc:
        pending = ChunkResult(0.0, np.zeros(0, np.float32), None, {}, error=f"audio: {exc}")
        index = 1
    if pending is None:  # no audio samples at all
        pending = ChunkResult(0.0, np.zeros(0, np.float32), None, {})
        index = 1
    yield {"source_id": row["source_id"], "index": index - 1, "total": index,
           "part": pickle.dumps(pending)}  # fmt: skip


class AsrStage:
    """Actor: loads the ASR backend once; transcribes a batch of chunks together."""

    def __init__(self, cfg: AsrConfig | WhisperXConfig) -> None:
        if isinstance(cfg, WhisperXConfig):  # runs in the WhisperX runtime env
            from clipray.models.asr_whisperx import WhisperXModel

            self.model: Any = WhisperXModel.load(cfg)
        else:
            from clipray.models.asr import AsrModel

            self.model = AsrModel.load(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results: list[ChunkResult] = [pickle.loads(b) for b in batch["part"]]
        todo = [i for i, r in enumerate(results) if r.error is None and r.samples is not None
                and r.samples.size]  # fmt: skip
        if todo:
            t0 = time.perf_counter()
            try:
                transcripts = self.model.transcribe_batch(
                    [(results[i].samples, results[i].offset) for i in todo]
                )
            except Exception as exc:
                for i in todo:
                    r = results[i]
                    results[i] = ChunkResult(r.offset, r.rms, None, r.timings, error=f"asr: {exc}")
            else:
                share = (time.perf_counter() - t0) / len(todo)
                for i, tr in zip(todo, transcripts, strict=True):
                    r = results[i]
                    results[i] = ChunkResult(r.offset, r.rms, tr, {**r.timings, "asr": share})
        parts = [
            pickle.dumps(ChunkResult(r.offset, r.rms, r.transcript, r.timings, r.error))
            for r in results
        ]
        return {
            "source_id": batch["source_id"],
            "kind": np.array(["chunk"] * len(parts), dtype=object),
            "index": batch["index"],
            "total": batch["total"],
            "result": np.array(parts, dtype=object),
        }


# --- the pipeline ------------------------------------------------------------------------
def build_analysis(videos: list[VideoRow], cfg: AnalyzeConfig, settings: Settings) -> Any:
    """The analysis of ``videos`` as one lazy Ray Data dataset of :class:`PartRow`."""
    import ray

    decode, faces, embed = (
        settings.stage("decode"),
        settings.stage("faces"),
        settings.stage("embed"),
    )
    audio, asr = settings.stage("audio"), settings.stage("asr")
    ds = ray.data.from_items(list(videos))
    # Bookkeeping steps (planning, filtering, dropping frames) take a tenth of a CPU: they
    # wait on I/O or copy bytes, and must never hold a core the decoder or a model needs.
    light = 0.1
    # 1 video -> N windows (flat_map, a cheap task: one seek per keyframe boundary)
    windows = ds.flat_map(plan_video, fn_kwargs={"window_s": cfg.window_s}, num_cpus=light)
    # 1 window -> 1 decoded window: one decode, scene features, samples (task)
    decoded = windows.map(decode_row, fn_kwargs={"cfg": cfg}, num_cpus=decode.num_cpus)
    # windows -> windows + face detections (actor pool)
    video = decoded.map_batches(FacesStage, fn_constructor_kwargs={"cfg": cfg.faces},
                                **actor_pool_args(faces))  # fmt: skip
    if cfg.embeddings_on:
        # windows -> windows + embeddings (actor pool)
        video = video.map_batches(EmbedStage, fn_constructor_kwargs={"cfg": cfg.embed},
                                  **actor_pool_args(embed))  # fmt: skip
    # 1 window -> 1 part for the merge (frames dropped)
    video_parts = video.map(window_part, num_cpus=light)
    # 1 video -> M audio chunks cut at pauses (flat_map streaming one ffmpeg)
    chunks = ds.filter(lambda r: bool(r["has_audio"]), num_cpus=light).flat_map(
        audio_chunks, fn_kwargs={"cfg": cfg}, **{k: v for k, v in task_args(audio).items()
                                                 if k != "batch_size"}
    )  # fmt: skip
    # chunks -> transcribed chunks (actor pool; WhisperX in its own runtime env)
    asr_kwargs: dict[str, Any] = {"fn_constructor_kwargs": {"cfg": cfg.asr}}
    if cfg.asr_backend == "whisperx":
        asr_kwargs = {
            "fn_constructor_kwargs": {"cfg": cfg.whisperx},
            "runtime_env": whisperx_runtime_env(cfg.whisperx),
        }
    audio_parts = chunks.map_batches(
        AsrStage, batch_format="numpy", **asr_kwargs, **actor_pool_args(asr)
    )
    return video_parts.union(audio_parts)


# --- the merge ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AnalysisResult:
    scenes: list[Scene]
    transcript: Transcript | None
    tracks: list[Track]
    rms: np.ndarray
    peaks: list[AudioPeak]
    embeddings: np.ndarray | None
    embedding_times: np.ndarray
    timings: dict[str, float]
    n_frames: int


class AnalysisError(CodedError):
    """A stage failed for this video (500 ``ANALYSIS_FAILED``); the message names the stage
    and the reason. Not retryable: the stages are deterministic on the same bytes."""

    code = "ANALYSIS_FAILED"
    status = 500

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


def merge_parts(
    video: VideoRow, windows: list[WindowResult], chunks: list[ChunkResult], cfg: AnalyzeConfig
) -> AnalysisResult:
    """Join one video's parts (each list in index order) into its analysis."""
    errors = [p.error for p in [*windows, *chunks] if p.error]
    if errors:
        raise AnalysisError("; ".join(errors[:3]))
    timings: dict[str, float] = {}
    for part in [*windows, *chunks]:
        for k, v in part.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    t0 = time.perf_counter()

    state, cuts, fades, times = ScanState(), [], [], []
    for w in windows:
        if w.features is None:
            continue
        res = scan_features(w.features, state, cfg.scenes)
        state, cuts, fades = res.state, cuts + list(res.cuts), fades + list(res.fades)
        times.append(w.features.times)
    frame_times = np.concatenate(times) if times else np.zeros(0)
    duration = max(video["duration"], float(frame_times[-1]) if frame_times.size else 0.0)
    scenes = _scenes_from_cuts(cuts, fades, state.n_frames, frame_times, duration=duration,
                               min_scene_len=cfg.scenes.min_scene_len)  # fmt: skip

    tracker, tracks = TrackerState(), []
    for w in windows:
        tracker, closed = link_window(w.faces, tracker, cfg.tracker)
        tracks += closed
    tracks += close_all(tracker, cfg.tracker)
    cut_times = [s.start for s in scenes if s.kind == "cut"]
    tracks = [_to_source_px(t, video) for t in split_at_cuts(tracks, cut_times)]

    segments: list[Segment] = [s for c in chunks if c.transcript for s in c.transcript.segments]
    transcript = None
    if video["has_audio"]:
        language = next((c.transcript.language for c in chunks if c.transcript), cfg.asr.language)
        model = cfg.whisperx.model if cfg.asr_backend == "whisperx" else cfg.asr.model
        transcript = Transcript(language or "", model, tuple(segments))
    rms = np.concatenate([c.rms for c in chunks]) if chunks else np.zeros(0, np.float32)

    embeds = [w.embeddings for w in windows if w.embeddings is not None]
    embeddings = np.concatenate(embeds) if embeds else None
    sample_times = np.concatenate([w.sample_times for w in windows]) if windows else np.zeros(0)
    timings["merge"] = time.perf_counter() - t0
    return AnalysisResult(
        scenes=scenes,
        transcript=transcript,
        tracks=tracks,
        rms=rms,
        peaks=find_peaks(rms, cfg.audio),
        embeddings=embeddings,
        embedding_times=sample_times,
        timings=timings,
        n_frames=state.n_frames,
    )


def _to_source_px(track: Track, video: VideoRow) -> Track:
    """Boxes come from analysis-size frames; users get them in the source's pixels."""
    from clipray.pipelines.stages.decode import analysis_size

    w, h = analysis_size(video["width"], video["height"])
    sx, sy = video["width"] / w, video["height"] / h
    dets = tuple(
        FaceBox(d.t, (d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy), d.score)
        for d in track.detections
    )
    return Track(track.id, dets)


@dataclass(frozen=True, eq=False)
class Finished:
    """One video done: its result, or why it failed."""

    source_id: str
    result: AnalysisResult | None
    error: str | None = None


def collect(
    rows: Iterable[PartRow],
    videos: dict[str, VideoRow],
    cfg: AnalyzeConfig,
    on_part: Callable[[str, str], None] | None = None,
) -> Iterator[Finished]:
    """Gather parts per video as they stream in; yield each video when its parts are all in."""
    windows: dict[str, dict[int, WindowResult]] = {s: {} for s in videos}
    chunks: dict[str, dict[int, ChunkResult]] = {s: {} for s in videos}
    totals: dict[tuple[str, str], int] = {}
    done: set[str] = set()

    def complete(sid: str) -> bool:
        need_audio = videos[sid]["has_audio"]
        w_ok = totals.get((sid, "window")) == len(windows[sid])
        c_ok = not need_audio or totals.get((sid, "chunk")) == len(chunks[sid])
        return w_ok and c_ok

    for row in rows:
        sid, kind = row["source_id"], row["kind"]
        part = pickle.loads(row["result"])
        (windows if kind == "window" else chunks)[sid][int(row["index"])] = part
        if int(row["total"]) >= 0:
            totals[(sid, kind)] = int(row["total"])
        if on_part:
            on_part(sid, kind)
        if sid not in done and complete(sid):
            done.add(sid)
            ws = [windows[sid][i] for i in sorted(windows[sid])]
            cs = [chunks[sid][i] for i in sorted(chunks[sid])]
            try:
                yield Finished(sid, merge_parts(videos[sid], ws, cs, cfg))
            except AnalysisError as exc:
                yield Finished(sid, None, str(exc))
            windows[sid].clear()
            chunks[sid].clear()
    for sid in videos:
        if sid not in done:
            yield Finished(sid, None, "pipeline ended before all parts of the video arrived")
