"""The faces of a live clip's window, so that its reframe follows the speaker as a VOD
clip's does.

A VOD clip is reframed on the face tracks its analysis found; a stream has no analysis of
frames (the live analysis listens, it does not look), so a clip's window is looked at when
it is rendered: frames sampled at ``CLIPRAY_STREAM_CLIPS__FACE_SAMPLE_FPS`` (lower than the
VOD analysis' rate: a clip must be out fast, and a talking head barely moves in a second),
scaled to the analysis size, through the same face detector as the VOD analysis (the warm
``Faces`` service with ``CLIPRAY_WARM_MODELS``, else the detector loaded once in this
process), linked into tracks by the same tracker, in the window file's pixels and seconds:
what ``clips.reframe.crop_path`` takes.

    >>> detect = face_detector(settings)                                   # doctest: +SKIP
    >>> tracks = window_tracks(cut, 1280, 720, 4.0, 24.0, detect, fps=1.0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import run
from clipray.pipelines.stages.decode import analysis_size
from clipray.pipelines.stages.tracks import TrackerConfig, link_tracks
from clipray.schemas import FaceBox, Track

log = logging.getLogger(__name__)

Detect = Callable[[np.ndarray, np.ndarray], list[list[FaceBox]]]
"""``(frames (N, H, W, 3) RGB uint8, times (N,)) -> the faces of each frame``: the face
detector's ``detect``, in process or through the warm service."""


def sample_frames(path: Path, start: float, end: float, fps: float, size: tuple[int, int],
                  ffmpeg: str = "ffmpeg") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Frames of ``[start, end)`` of ``path`` at ``fps``, scaled to ``size`` (w, h), RGB; and
    their times in the file's seconds.

    Raises:
        CodedError: ``STREAM_FACES_DECODE``, FFmpeg could not decode the window.
    """
    w, h = size
    proc = run([ffmpeg, "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-i", path,
                "-t", f"{end - start:.3f}", "-map", "0:v:0", "-an",
                "-vf", f"fps={fps:g},scale={w}:{h}", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
               text=False, timeout=120)  # fmt: skip
    if proc.returncode != 0:
        raise CodedError("STREAM_FACES_DECODE", f"could not sample {path.name}: "
                         f"{proc.stderr.decode(errors='replace')[-300:]}")  # fmt: skip
    frames = np.frombuffer(proc.stdout, np.uint8)
    n = frames.size // (w * h * 3)
    frames = frames[: n * w * h * 3].reshape(n, h, w, 3)
    # The fps filter puts output frame k at k / fps after the seek point.
    return frames, start + np.arange(n) / fps


def window_tracks(path: Path, width: int, height: int, start: float, end: float,
                  detect: Detect, *, fps: float, tracker: TrackerConfig | None = None,
                  ffmpeg: str = "ffmpeg") -> list[Track]:  # fmt: skip
    """The face tracks of ``[start, end)`` of the ``width`` x ``height`` file ``path``, boxes
    in its pixels and times in its seconds (what ``crop_path`` takes); none without faces."""
    size = analysis_size(width, height)
    frames, times = sample_frames(path, start, end, fps, size, ffmpeg)
    if not len(frames):
        return []
    sx, sy = width / size[0], height / size[1]
    samples = [[FaceBox(b.t, (b.box[0] * sx, b.box[1] * sy, b.box[2] * sx, b.box[3] * sy),
                        b.score) for b in found]
               for found in detect(frames, times)]  # fmt: skip
    return link_tracks(samples, tracker or TrackerConfig())


def local_detector(settings: Settings) -> Detect:
    """The VOD analysis' face detector in this process, loaded on first use."""
    from clipray.models.faces import FaceDetector
    from clipray.pipelines.analyze import analyze_config, detect_window

    cfg = analyze_config(settings).faces
    loaded: list[FaceDetector] = []

    def detect(frames: np.ndarray, times: np.ndarray) -> list[list[FaceBox]]:
        if not loaded:
            loaded.append(FaceDetector.load(cfg))
        return detect_window(loaded[0], frames, times)

    return detect


def warm_detector(settings: Settings) -> Detect:
    """The warm ``Faces`` service the jobs share (started on first use where it does not
    run)."""
    from clipray.pipelines.warm import FACES, ServiceCall
    from clipray.serve.models import ensure_model_services

    call = ServiceCall.of(settings, FACES, "detect")
    ready: list[bool] = []

    def detect(frames: np.ndarray, times: np.ndarray) -> list[list[FaceBox]]:
        if not ready:
            ensure_model_services(settings)
            ready.append(True)
        return list(call(frames, np.asarray(times)))

    return detect


def face_detector(settings: Settings) -> Detect | None:
    """The detector live clips are reframed with: the warm service with
    ``settings.warm_models``, else in process; None where the settings turn it off
    (``face_sample_fps`` 0: clips are cropped centred)."""
    if settings.stream_clips.face_sample_fps <= 0:
        return None
    return warm_detector(settings) if settings.warm_models else local_detector(settings)


def tracks_or_none(path: Path, width: int, height: int, start: float, end: float,
                   detect: Detect | None, settings: Settings) -> list[Track]:  # fmt: skip
    """:func:`window_tracks`, or no tracks (a centred crop) where there is no detector or it
    failed: a clip framed centred is better than no clip, and the failure is logged."""
    if detect is None:
        return []
    try:
        return window_tracks(path, width, height, start, end, detect,
                             fps=settings.stream_clips.face_sample_fps,
                             ffmpeg=settings.ffmpeg_bin)  # fmt: skip
    except CodedError as exc:
        log.warning("%s: faces not found, the clip is cropped centred: %s: %s", path.name,
                    exc.code, exc.message)  # fmt: skip
        return []
