"""Decode a time window of a video once, at analysis resolution, with real timestamps.

Every analysis stage (scenes, faces, embeddings) looks at small frames, so frames are scaled
inside the decoder (libswscale, straight from YUV to a 256-pixel RGB frame) instead of being
converted to full-size RGB first: the conversion then costs a small fraction of the decode.
Timestamps are each frame's own presentation time, so variable-frame-rate input (phone
recordings, screen captures, streams with dropped frames) is timed correctly; nothing assumes
``frame_index / fps``.

A 4-hour video never sits in memory: :func:`iter_windows` decodes front to back and yields
one window at a time, :func:`decode_window` seeks to any window on its own (one Ray task
each), and :func:`plan_windows` puts window boundaries on keyframes so that independent
windows decode no frame twice.

    >>> info = probe("talk.mp4")                                    # doctest: +SKIP
    >>> for win in iter_windows("talk.mp4", 10.0, DecodeConfig()):  # doctest: +SKIP
    ...     win.frames.shape, win.first_frame, win.times[0]
    ((300, 144, 256, 3), 0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from clipray.media.ffmpeg import FfmpegError, ffprobe_json

DEFAULT_ANALYSIS_SIZE = 256
"""Longer side of an analysis frame: PySceneDetect's ``DEFAULT_MIN_WIDTH``, whose thresholds
(ContentDetector's 27) were tuned on frames of this size."""


class ProbeError(FfmpegError):
    """ffprobe failed or the file has neither a picture nor sound: the file is at fault
    (422)."""

    status = 422
    code = "MEDIA_NOT_A_VIDEO"


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about a file; enough to plan windows and validate an upload."""

    duration: float
    """Seconds, from the container (the stream's duration when the container has none)."""
    fps: float
    """Average frame rate (``avg_frame_rate``): frames / duration, also for VFR input."""
    base_fps: float
    """The rate timestamps are laid out on (``r_frame_rate``); above ``fps`` for VFR input
    with dropped frames. PySceneDetect numbers frames ``round(t * base_fps)``."""
    width: int
    height: int
    has_audio: bool
    n_frames: int | None
    """``nb_frames`` from the container; ``None`` where the format does not store it."""
    video_codec: str
    audio_codec: str | None
    start_time: float
    """Container start time; decoded timestamps are relative to it, as ffmpeg's outputs are."""
    container: str = ""
    """ffprobe's ``format_name``, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``."""
    has_video: bool = True
    """False for an audio-only source (a podcast episode): no picture stream besides cover
    art, so ``width``, ``height`` and the rates are 0 and ``video_codec`` is empty."""
    has_cover: bool = False
    """The file carries cover art: an attached picture (``disposition.attached_pic``), the
    episode image an MP3's ID3 tag or an M4A's ``covr`` atom holds."""

    @property
    def is_vfr(self) -> bool:
        return self.base_fps > 0 and abs(self.fps - self.base_fps) > 1e-3 * self.base_fps


def _rate(text: str | None) -> float:
    """``"30000/1001"`` -> 29.97; ffprobe writes ``"0/0"`` when it does not know."""
    num, _, den = (text or "0").partition("/")
    if not den:
        return float(num)
    return float(Fraction(int(num), int(den))) if int(den) else 0.0


def _float(value: object, default: float = 0.0) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _attached(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def parse_probe(data: dict) -> VideoInfo:
    """A :class:`VideoInfo` from ffprobe's ``-show_format -show_streams`` JSON.

    Cover art is a video stream to ffprobe, but one still picture, not a picture track: a
    file whose only video streams are attached pictures is audio-only (``has_video`` False).
    """
    streams = data.get("streams", [])
    pictures = [s for s in streams if s.get("codec_type") == "video"]
    video = next((s for s in pictures if not _attached(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = data.get("format", {})
    has_cover = any(_attached(s) for s in pictures)
    if video is None:
        if audio is None:
            raise ProbeError("no video or audio stream")
        return VideoInfo(
            duration=_float(fmt.get("duration"), _float(audio.get("duration"))),
            fps=0.0, base_fps=0.0, width=0, height=0, has_audio=True, n_frames=None,
            video_codec="", audio_codec=str(audio.get("codec_name", "")),
            start_time=_float(fmt.get("start_time")),
            container=str(fmt.get("format_name", "")), has_video=False, has_cover=has_cover,
        )  # fmt: skip
    nb_frames = video.get("nb_frames")
    return VideoInfo(
        duration=_float(fmt.get("duration"), _float(video.get("duration"))),
        fps=_rate(video.get("avg_frame_rate")),
        base_fps=_rate(video.get("r_frame_rate")),
        width=int(video["width"]),
        height=int(video["height"]),
        has_audio=audio is not None,
        n_frames=int(nb_frames) if str(nb_frames).isdigit() else None,
        video_codec=str(video.get("codec_name", "")),
        audio_codec=str(audio.get("codec_name", "")) if audio is not None else None,
        start_time=_float(fmt.get("start_time")),
        container=str(fmt.get("format_name", "")),
        has_cover=has_cover,
    )


def probe(path: str | Path, ffprobe_bin: str = "ffprobe") -> VideoInfo:
    """Run ffprobe on ``path``; raises :class:`ProbeError` if it is not readable media, and
    :class:`~clipray.domain.errors.DependencyMissing` if ``ffprobe_bin`` cannot be run."""
    return parse_probe(ffprobe_json(path, "-show_format", "-show_streams", ffprobe=ffprobe_bin,
                                    error=ProbeError))  # fmt: skip


def analysis_size(width: int, height: int, size: int = DEFAULT_ANALYSIS_SIZE) -> tuple[int, int]:
    """(width, height) of an analysis frame: the longer side scaled down to ``size``.

    The arithmetic of PySceneDetect's ``compute_downscale_factor`` and resize (Python's
    ``round``), so frames have exactly the shape its detectors saw. Never upscales.
    """
    longer = max(width, height)
    if size <= 0 or longer < size:
        return width, height
    factor = longer / float(size)
    return max(1, round(width / factor)), max(1, round(height / factor))


@dataclass(frozen=True)
class DecodeConfig:
    """How analysis frames are produced."""

    size: int = DEFAULT_ANALYSIS_SIZE
    """Longer side of the output frames in pixels (see :func:`analysis_size`); 0 keeps the
    source size."""
    interpolation: str = "POINT"
    """libswscale scaler. ``POINT`` samples the pixels OpenCV's ``INTER_LINEAR`` lands on at
    integer factors (1280 -> 256 takes every 5th pixel), which is what PySceneDetect's
    thresholds expect; smoothing scalers (``AREA``, ``BILINEAR``) blur near-grey pixels into
    unstable hues and give ContentDetector false cuts. Prefer ``AREA`` for model inputs."""
    threads: int = 1
    """FFmpeg decoder threads; 0 lets FFmpeg use every core. One by default: a Ray task owns
    one CPU, and parallelism comes from decoding several windows at once (frame threading
    cost 40% more CPU for no gain on a busy 2-core worker)."""
    pix_fmt: str = "rgb24"
    """``rgb24`` or ``bgr24`` (OpenCV's order)."""


@dataclass(frozen=True, eq=False)
class Window:
    """Consecutive decoded frames of one time window."""

    frames: np.ndarray
    """``(N, H, W, 3)`` uint8 in ``pix_fmt`` channel order."""
    first_frame: int
    """0-based index of ``frames[0]`` in the stream (estimated after a seek, see
    :func:`decode_window`)."""
    times: np.ndarray
    """``(N,)`` float64 presentation times in seconds, increasing."""
    start: float
    """The window asked for: its frames have ``start <= t < end``."""
    end: float

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def next_frame(self) -> int:
        """Index of the first frame of the following window."""
        return self.first_frame + len(self)


class _Decoder:
    """One open container and a cached scaler; yields ``(time, frame)`` in display order."""

    def __init__(self, path: str | Path, cfg: DecodeConfig) -> None:
        self.cfg = cfg
        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        self.stream.thread_count = cfg.threads
        if cfg.threads != 1:
            self.stream.thread_type = "AUTO"
        self.time_base = self.stream.time_base
        self.origin = Fraction(self.container.start_time or 0, av.time_base)
        ctx = self.stream.codec_context
        self.width, self.height = analysis_size(ctx.width, ctx.height, cfg.size)
        rate = self.stream.guessed_rate or self.stream.average_rate
        self.base_fps = float(rate) if rate else 0.0
        self.n_frames = int(self.stream.frames or 0)
        # One reformatter per decoder keeps libswscale's context: building a new one for
        # every frame (what VideoFrame.reformat does) costs more than the scaling itself.
        self._scaler = VideoReformatter()
        self._interp = Interpolation[cfg.interpolation.upper()]

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.container.close()

    def index_at(self, t: float) -> int:
        """A frame's index from its time: exact for constant frame rate only."""
        return round(t * self.base_fps) if self.base_fps > 0 else 0

    def seek(self, t: float) -> None:
        """Put the demuxer on a keyframe at or before ``t`` (seconds, from the origin)."""
        pts = math.floor((Fraction(t) + self.origin) / self.time_base)
        self.container.seek(max(pts, 0), stream=self.stream, backward=True)

    def frames(self, start: float) -> Iterator[tuple[float, av.VideoFrame]]:
        """Frames from the first one at or after ``start``, exactly.

        Seeks to a keyframe before ``start``; if the demuxer lands on one after it (seeking
        by decode timestamps can, with B-frames), seeks again further back. Frames before
        ``start`` are decoded (they are references) but never converted.
        """
        back = 0.0
        while True:
            target = start - back
            if target > 0:
                self.seek(target)
            elif back > 0:
                self.seek(0.0)
            it = self._decode()
            first = next(it, None)
            if first is None or first[0] <= start or target <= 0:
                break
            back = max(1.0, 2 * back)
        if first is None:
            return
        if first[0] >= start:
            yield first
        for t, frame in it:
            if t >= start:
                yield t, frame

    def _decode(self) -> Iterator[tuple[float, av.VideoFrame]]:
        # pts * time_base - origin as one integer ratio: Python divides integers correctly
        # rounded, so this is float(Fraction(...)) to the bit without building Fractions
        # per frame (5% of scene detection's CPU).
        tb, origin = Fraction(self.time_base), self.origin
        scale, shift = tb.numerator * origin.denominator, origin.numerator * tb.denominator
        den = tb.denominator * origin.denominator
        for frame in self.container.decode(self.stream):
            if frame.pts is not None:  # a frame without a timestamp cannot be placed
                yield (frame.pts * scale - shift) / den, frame

    def convert(self, frame: av.VideoFrame, out: np.ndarray) -> None:
        small = self._scaler.reformat(
            frame,
            width=self.width,
            height=self.height,
            format=self.cfg.pix_fmt,
            interpolation=self._interp,
            threads=1,  # a 256-pixel frame is too small to split between threads
        )
        plane = small.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(self.height, plane.line_size)
        out[...] = rows[:, : self.width * 3].reshape(self.height, self.width, 3)


class _Buffer:
    """Frames of the window being filled; grows by doubling, and can be reused so that a long
    run of windows does not fault in fresh pages for every one of them."""

    def __init__(self, height: int, width: int, capacity: int) -> None:
        self.frames = np.empty((max(capacity, 1), height, width, 3), np.uint8)
        self.times: list[float] = []

    def slot(self) -> np.ndarray:
        n = len(self.times)
        if n == self.frames.shape[0]:
            grown = np.empty((2 * n, *self.frames.shape[1:]), np.uint8)
            grown[:n] = self.frames
            self.frames = grown
        return self.frames[n]

    def take(self, first_frame: int, start: float, end: float, *, reuse: bool) -> Window:
        n = len(self.times)
        frames = self.frames[:n]
        if not reuse:  # hand this buffer over and fill a new one
            if 2 * n < self.frames.shape[0]:
                frames = frames.copy()  # mostly empty: do not keep the rest alive
            self.frames = np.empty_like(self.frames)
        window = Window(frames, first_frame, np.asarray(self.times, np.float64), start, end)
        self.times = []
        return window


def iter_windows(
    path: str | Path,
    window_s: float,
    cfg: DecodeConfig | None = None,
    *,
    start: float = 0.0,
    end: float | None = None,
    reuse: bool = False,
) -> Iterator[Window]:
    """Decode ``[start, end)`` front to back in windows of ``window_s`` seconds.

    One decoder and no seeking between windows. Window ``k`` covers ``[start + k * window_s,
    start + (k + 1) * window_s)``; windows without a frame (a gap in VFR input) are skipped.
    Frame indices are counted from the first frame, so they are exact for VFR input when
    ``start`` is 0 (after a seek the first index is ``round(t * base_fps)``).

    Args:
        reuse: every window's ``frames`` is a view of one buffer, overwritten by the next
            window: no allocation per window, for callers that reduce each window and drop it.
    """
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    cfg = cfg or DecodeConfig()
    stop = math.inf if end is None else end
    with _Decoder(path, cfg) as dec:
        span = min(window_s, stop - start)
        if math.isfinite(span):
            capacity = math.ceil(span * (dec.base_fps or 30.0)) + 2
        else:
            capacity = dec.n_frames + 1 if dec.n_frames else 256
        # Grown by doubling past this: a long window is not reserved up front.
        capacity = min(capacity, 1024)
        buf = _Buffer(dec.height, dec.width, capacity)
        k = 0
        index: int | None = None
        for t, frame in dec.frames(start):
            if t >= stop:
                break
            if index is None:
                index = dec.index_at(t) if start > 0 else 0
            while t >= start + (k + 1) * window_s:
                if buf.times:
                    win = buf.take(index, start + k * window_s, start + (k + 1) * window_s,
                                   reuse=reuse)  # fmt: skip
                    index = win.next_frame
                    yield win
                k += 1
            dec.convert(frame, buf.slot())
            buf.times.append(t)
        if buf.times and index is not None:
            last_end = min(stop, start + (k + 1) * window_s)
            yield buf.take(index, start + k * window_s, last_end, reuse=reuse)


def decode_window(
    path: str | Path,
    start: float,
    end: float | None,
    cfg: DecodeConfig | None = None,
    *,
    first_frame: int | None = None,
) -> Window:
    """Decode the frames with ``start <= t < end`` (``end=None``: to the end of the file).

    Frame-accurate: windows ``[a, b)`` and ``[b, c)`` hold exactly the frames of ``[a, c)``,
    bit for bit, wherever the keyframes are.

    Args:
        first_frame: index of the window's first frame when the caller knows it (the previous
            window's ``next_frame``). Without it the index is ``round(t * base_fps)``: exact
            for constant frame rate, PySceneDetect's numbering for VFR input.
    """
    cfg = cfg or DecodeConfig()
    stop = math.inf if end is None else end
    win = next(iter_windows(path, math.inf, cfg, start=start, end=end), None)
    if win is None:
        with _Decoder(path, cfg) as dec:
            shape, index = (0, dec.height, dec.width, 3), dec.index_at(start)
        win = Window(np.zeros(shape, np.uint8), index, np.zeros(0), start, stop)
    index = win.first_frame if first_frame is None else first_frame
    return Window(win.frames, index, win.times, start, stop)


def duration_of(path: str | Path) -> float:
    """Container duration in seconds, read by PyAV: no ffprobe process (which costs 0.1 s,
    as much as scene detection spends on a minute of video)."""
    with av.open(str(path)) as container:
        if container.duration:
            return float(container.duration) / av.time_base
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base) if stream.duration else 0.0


def plan_windows(
    path: str | Path, window_s: float, *, end: float | None = None
) -> list[tuple[float, float | None]]:
    """``[start, end)`` windows of about ``window_s`` seconds that begin on keyframes.

    Decoding a window starts at the keyframe before it, so a window that begins on one
    decodes no frame that another window decodes too. Each boundary costs one seek and one
    packet read, not a pass over the file. Windows are longer than ``window_s`` where
    keyframes are further apart; a file with one keyframe is one window.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = Fraction(container.start_time or 0, av.time_base)
        stop = float(container.duration or 0) / av.time_base
        if end is not None:
            stop = min(stop, end) if stop > 0 else end
        bounds = [0.0]
        t = window_s
        while t < stop:
            pts = math.floor((Fraction(t) + origin) / stream.time_base)
            container.seek(pts, stream=stream, backward=True)
            key = next((p for p in container.demux(stream) if p.pts is not None), None)
            if key is not None:
                k = float(key.pts * stream.time_base - origin)
                if bounds[-1] < k < stop:
                    bounds.append(k)
            t = max(t, bounds[-1]) + window_s
    ends: list[float | None] = [*bounds[1:], end]
    return list(zip(bounds, ends, strict=True))
