"""The analysis of videos as one Ray Data pipeline: scenes, speech, faces, audio energy,
embeddings, from one decode of each window. An audio-only source (a podcast episode) runs
the audio branch only: no windows, so no scenes, faces or frame embeddings.

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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from clipray.cluster.resources import actor_pool_args, task_args
from clipray.config import Settings
from clipray.media.ffmpeg import FfmpegError, popen, tail
from clipray.models.asr import AsrConfig
from clipray.models.asr_whisperx import WhisperXConfig
from clipray.models.asr_whisperx import runtime_env as whisperx_runtime_env
from clipray.models.embed import EmbedConfig
from clipray.models.faces import FacesConfig
from clipray.pipelines.merge import (  # noqa: F401  (re-exported: the analysis' results)
    AnalysisError,
    AnalysisResult,
    ChunkResult,
    Finished,
    WindowResult,
    collect,
    merge_parts,
)
from clipray.pipelines.stages.audio import (
    AudioConfig,
    split_on_silence,
)
from clipray.pipelines.stages.decode import plan_windows
from clipray.pipelines.stages.scenes import ScenesConfig
from clipray.pipelines.stages.speaking import SpeakingConfig, with_mouth_motion
from clipray.pipelines.stages.tracks import (
    TrackerConfig,
)
from clipray.pipelines.stages.window import decode_window
from clipray.schemas import PartRow, VideoRow


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
    speaking: SpeakingConfig = field(default_factory=SpeakingConfig)
    """How mouth motion and speech make each track's speaking scores (part of the
    fingerprint: an analysis made before them is made again, with them)."""
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
def has_video(row: VideoRow) -> bool:
    return row.get("has_video", True)


def plan_video(row: VideoRow, window_s: float) -> list[dict[str, Any]]:
    """1 video -> N windows starting on keyframes (none for an audio-only source: the merge
    does not wait for windows of one)."""
    if not has_video(row):
        return []
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
        return WindowResult(win.features, win.sample_times, [], None, took, samples=win.samples,
                            motion=win.motion)  # fmt: skip

    res = _guard("decode", run, lambda e: WindowResult(None, np.zeros(0), [], None, {}, e))
    return {"part": pickle.dumps(res), **_ids(row)}


def _ids(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("source_id", "index", "total", "width", "height")}


def _each_window(
    batch: dict[str, np.ndarray],
    stage: str,
    fn: Callable[[WindowResult], dict[str, Any]],
    *,
    finish: bool = False,
) -> dict[str, np.ndarray]:
    """Apply a model to every healthy window of a batch that has samples; ``fn`` returns the
    fields it sets, and its time is added to the window's timings under ``stage``.

    ``finish``: this is the video branch's last model, so the batch leaves as the merge's
    parts with the sampled frames dropped (what :func:`window_part` does on the service
    path), in this actor: no further operator, worker process or copy of the frames.
    """
    parts = []
    for blob in batch["part"]:
        res: WindowResult = pickle.loads(blob)
        if res.error is None and res.samples is not None and len(res.samples):
            t0 = time.perf_counter()
            changes = fn(res)
            if "faces" in changes and res.motion is not None:  # who moves their lips
                changes["faces"] = with_mouth_motion(changes["faces"], res.motion,
                                                     res.samples.shape[1:3])  # fmt: skip
            timings = {**res.timings, stage: time.perf_counter() - t0}
            res = replace(res, **changes, timings=timings)
        parts.append(pickle.dumps(replace(res, samples=None, motion=None) if finish else res))
    if finish:
        return {
            "source_id": batch["source_id"],
            "kind": np.array(["window"] * len(parts), dtype=object),
            "index": batch["index"],
            "total": batch["total"],
            "result": np.array(parts, dtype=object),
        }
    return {**batch, "part": np.array(parts, dtype=object)}


# The per-window model calls, shared by the batch pipeline's actor pools below and the
# warm model services (serve/models.py): both paths run the same code on the same inputs,
# so they give the same analysis.
def detect_window(detector: Any, samples: np.ndarray, times: np.ndarray) -> list[list[Any]]:
    """The face detections of one window's sampled frames."""
    return detector.detect(samples, times=np.asarray(times).tolist())


def embed_window(model: Any, samples: np.ndarray) -> np.ndarray:
    """One image embedding per sampled frame of one window."""
    return model.embed_images(samples)


class FacesStage:
    """Actor: loads the face detector once; adds detections to each window (and hands the
    windows to the merge when it is the last model: ``finish``)."""

    def __init__(self, cfg: FacesConfig, finish: bool = False) -> None:
        from clipray.models.faces import FaceDetector

        self.detector = FaceDetector.load(cfg)
        self.finish = finish

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _each_window(
            batch,
            "faces",
            lambda w: {"faces": detect_window(self.detector, w.samples, w.sample_times)},
            finish=self.finish,
        )


class EmbedStage:
    """Actor: loads open_clip once; adds one embedding per sampled frame, and hands the
    windows to the merge (it is the last model)."""

    def __init__(self, cfg: EmbedConfig) -> None:
        from clipray.models.embed import EmbedModel

        self.model = EmbedModel.load(cfg)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _each_window(
            batch,
            "embed",
            lambda w: {"embeddings": embed_window(self.model, w.samples)},
            finish=True,
        )


def window_part(row: dict[str, Any]) -> PartRow:
    """Drop the sampled frames and hand the window to the merge."""
    slim = replace(pickle.loads(row["part"]), samples=None, motion=None)
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
    """1 video -> M chunks of speech-friendly length, cut at pauses, streamed (none for a
    video without audio: the merge does not wait for chunks of one)."""
    if not row["has_audio"]:
        return
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


def load_asr(cfg: AsrConfig | WhisperXConfig) -> Any:
    """The ASR backend ``cfg`` names, loaded (WhisperX only inside its runtime env)."""
    if isinstance(cfg, WhisperXConfig):
        from clipray.models.asr_whisperx import WhisperXModel

        return WhisperXModel.load(cfg)
    from clipray.models.asr import AsrModel

    return AsrModel.load(cfg)


Transcribe = Callable[[list[tuple[np.ndarray, float]]], list[Any]]
"""``(samples, offset)`` pairs -> one transcript each: a loaded model's ``transcribe_batch``,
or the warm ASR service's."""


def transcribe_batch(batch: dict[str, np.ndarray], transcribe: Transcribe
                     ) -> dict[str, np.ndarray]:  # fmt: skip
    """A batch of audio chunks -> the merge's parts, transcribed together by ``transcribe``;
    a failure marks the batch's chunks failed (their video fails, the dataset goes on)."""
    results: list[ChunkResult] = [pickle.loads(b) for b in batch["part"]]
    todo = [i for i, r in enumerate(results) if r.error is None and r.samples is not None
            and r.samples.size]  # fmt: skip
    if todo:
        t0 = time.perf_counter()
        try:
            transcripts = transcribe([(results[i].samples, results[i].offset) for i in todo])
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


class AsrStage:
    """Actor: loads the ASR backend once; transcribes a batch of chunks together."""

    def __init__(self, cfg: AsrConfig | WhisperXConfig) -> None:
        self.model: Any = load_asr(cfg)  # WhisperX: this actor runs in its runtime env

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return transcribe_batch(batch, self.model.transcribe_batch)


# --- the pipeline ------------------------------------------------------------------------
def _model_step(warm: bool, settings: Settings, stage: str, pool: tuple[Any, dict[str, Any]]
                ) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """``map_batches`` arguments of one model stage: its actor pool (``pool``: the callable
    class and its arguments), or on the service path (``warm``) a thin task that sends the
    batch to the stage's warm model service. A thin task holds a tenth of a CPU: it waits on
    the service, which holds the model and the resources the stage's config gives it."""
    if not warm:
        return pool
    from clipray.pipelines import warm as services

    fn, deployment, method = {
        "faces": (services.warm_faces, services.FACES, "detect"),
        "embed": (services.warm_embed, services.EMBED, "embed"),
        "asr": (services.warm_asr, services.ASR, "transcribe"),
    }[stage]
    call = services.ServiceCall.of(settings, deployment, method)
    kwargs = {"fn_kwargs": {"call": call}, "num_cpus": 0.1,
              "batch_size": settings.stage(stage).batch_size}  # fmt: skip
    return fn, kwargs


def build_analysis(
    videos: list[VideoRow], cfg: AnalyzeConfig, settings: Settings, *, warm: bool = False
) -> Any:
    """The analysis of ``videos`` as one lazy Ray Data dataset of :class:`PartRow`.

    ``warm``: the model stages call the warm model services, loaded once for every job
    (:mod:`clipray.pipelines.warm`; the service path), instead of actor pools of this
    dataset's own that load each model again (the batch pipeline: one big dataset).
    """
    import ray

    decode, faces, embed = (
        settings.stage("decode"),
        settings.stage("faces"),
        settings.stage("embed"),
    )
    audio, asr = settings.stage("audio"), settings.stage("asr")
    ds = ray.data.from_items(list(videos))
    if not any(has_video(v) for v in videos):
        # audio-only sources (podcasts): no picture, so no decode and no face or embedding
        # pools are started for nothing
        return _audio_branch(ds, cfg, settings, warm, audio, asr)
    # Bookkeeping steps (planning windows, dropping frames) take a tenth of a CPU: they
    # wait on I/O or copy bytes, and must never hold a core the decoder or a model needs.
    light = 0.1
    # 1 video -> N windows (flat_map, a cheap task: one seek per keyframe boundary)
    windows = ds.flat_map(plan_video, fn_kwargs={"window_s": cfg.window_s}, num_cpus=light)
    # 1 window -> 1 decoded window: one decode, scene features, samples (task)
    decoded = windows.map(decode_row, fn_kwargs={"cfg": cfg}, num_cpus=decode.num_cpus)
    # windows -> windows + face detections (actor pool, or the warm service); the last
    # model's actors hand each window to the merge themselves, frames dropped
    finish = not cfg.embeddings_on
    fn, kwargs = _model_step(warm, settings, "faces", (FacesStage, {
        "fn_constructor_kwargs": {"cfg": cfg.faces, "finish": finish},
        **actor_pool_args(faces)}))  # fmt: skip
    video = decoded.map_batches(fn, **kwargs)
    if cfg.embeddings_on:
        # windows -> windows + embeddings (actor pool, or the warm service)
        fn, kwargs = _model_step(warm, settings, "embed", (EmbedStage, {
            "fn_constructor_kwargs": {"cfg": cfg.embed}, **actor_pool_args(embed)}))  # fmt: skip
        video = video.map_batches(fn, **kwargs)
    if warm:
        # 1 window -> 1 part for the merge, frames dropped (fused into the thin task)
        video = video.map(window_part, num_cpus=light)
    return video.union(_audio_branch(ds, cfg, settings, warm, audio, asr))


def _audio_branch(ds: Any, cfg: AnalyzeConfig, settings: Settings, warm: bool, audio: Any,
                  asr: Any) -> Any:  # fmt: skip
    """The audio branch of :func:`build_analysis`: the merge's transcribed chunks."""
    # 1 video -> M audio chunks cut at pauses (flat_map streaming one ffmpeg; none for a
    # video without audio)
    chunks = ds.flat_map(audio_chunks, fn_kwargs={"cfg": cfg}, **{
        k: v for k, v in task_args(audio).items() if k != "batch_size"})  # fmt: skip
    # chunks -> transcribed chunks (actor pool, WhisperX in its own runtime env; or the
    # warm service)
    asr_kwargs: dict[str, Any] = {"fn_constructor_kwargs": {"cfg": cfg.asr}}
    if cfg.asr_backend == "whisperx":
        asr_kwargs = {
            "fn_constructor_kwargs": {"cfg": cfg.whisperx},
            "runtime_env": whisperx_runtime_env(cfg.whisperx),
        }
    fn, kwargs = _model_step(warm, settings, "asr",
                             (AsrStage, {**asr_kwargs, **actor_pool_args(asr)}))  # fmt: skip
    return chunks.map_batches(fn, batch_format="numpy", **kwargs)


# --- the merge ---------------------------------------------------------------------------
