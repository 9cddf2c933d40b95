"""The merge of one video's parts into its analysis, and the collection of a pipeline's
parts per video (``collect``). Pure per video: the parts arrive in any order from the
windows' and the audio chunks' branches (``pipelines/analyze.py``), and the result is the
same as one pass over the whole video.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from clipray.domain.errors import CodedError
from clipray.pipelines.stages.audio import (
    AudioPeak,
    find_peaks,
)
from clipray.pipelines.stages.scenes import Features, ScanState, scan_features
from clipray.pipelines.stages.scenes import scenes_from_cuts as _scenes_from_cuts
from clipray.pipelines.stages.speaking import speaking_series
from clipray.pipelines.stages.tracks import (
    TrackerState,
    close_all,
    link_window,
    split_at_cuts,
)
from clipray.schemas import FaceBox, PartRow, Scene, Segment, Track, Transcript, VideoRow

if TYPE_CHECKING:
    from clipray.pipelines.analyze import AnalyzeConfig


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
    motion: np.ndarray | None = None
    """Motion around each sample (``stages/speaking.py``), dropped with the samples once
    the faces have their mouth motion."""


@dataclass(frozen=True, eq=False)
class ChunkResult:
    offset: float
    rms: np.ndarray
    transcript: Transcript | None
    timings: dict[str, float]
    error: str | None = None
    samples: np.ndarray | None = None
    """The chunk's audio, dropped once ASR has heard it."""


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
    if not video.get("has_video", True):
        scenes = []  # an audio-only source has no picture, so no scene at all

    tracker, tracks = TrackerState(), []
    for w in windows:
        tracker, closed = link_window(w.faces, tracker, cfg.tracker)
        tracks += closed
    tracks += close_all(tracker, cfg.tracker)
    cut_times = [s.start for s in scenes if s.kind == "cut"]
    segments: list[Segment] = [s for c in chunks if c.transcript for s in c.transcript.segments]
    rms = np.concatenate([c.rms for c in chunks]) if chunks else np.zeros(0, np.float32)
    tracks = speaking_series(split_at_cuts(tracks, cut_times),
                             [w for s in segments for w in s.words], rms, cfg.audio.hop_s,
                             cfg.sample_fps, cfg.speaking)  # fmt: skip
    tracks = [_to_source_px(t, video) for t in tracks]

    transcript = None
    if video["has_audio"]:
        language = next((c.transcript.language for c in chunks if c.transcript), cfg.asr.language)
        model = cfg.whisperx.model if cfg.asr_backend == "whisperx" else cfg.asr.model
        transcript = Transcript(language or "", model, tuple(segments))

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
        FaceBox(d.t, (d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy), d.score,
                d.mouth)
        for d in track.detections
    )
    return Track(track.id, dets, track.speaking)


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
        need_video = videos[sid].get("has_video", True)
        w_ok = not need_video or totals.get((sid, "window")) == len(windows[sid])
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
