"""Frame-exact clip export without re-encoding: an all-intra proxy per source, cut by copy.

A virtual clip is a frame range ``[start, end)`` on a source's :class:`FrameGrid`. Cutting
a normal H.264 file by stream copy can only start on a keyframe (one every few seconds), so
an exact cut would have to re-encode. Instead, once per source, :func:`make_proxy` encodes an
all-intra H.264 proxy (every frame a keyframe, constant frame rate on the grid, exactly
``frame_count`` frames), and :func:`export_range` then cuts any range out of it with
``-c copy``: every frame is a keyframe, so the copy can start anywhere, and frame ``N`` of
the grid is frame ``N`` of the proxy. An export only moves bytes: a fraction of a second
per clip, whatever its length, where a re-encode (:func:`reencode_range`, the baseline)
takes about as long as the clip lasts. The price is paid once per source: the proxy's
encode, and its size (all-intra at CRF 20 is several times the bitrate of a normal encode).

    >>> grid = frame_grid("talk.mp4")                                     # doctest: +SKIP
    >>> info = make_proxy("talk.mp4", "talk.proxy.mp4", grid)             # doctest: +SKIP
    >>> export_range("talk.proxy.mp4", info, 300, 450, "clip.mp4")        # doctest: +SKIP
    Exported(method='copy', frames=150, duration_s=5.0)

Every function runs ``ffmpeg``/``ffprobe`` through :mod:`clipray.media.ffmpeg` and writes
its output under a temporary name first, renamed into place only once it is complete and
checked, so a crash never leaves half a file at ``out``.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from clipray.media.ffmpeg import FfmpegError, check, ffprobe_json, run, run_ffmpeg

AUDIO_RATE = 48_000
"""Sample rate of every audio stream written here. An AAC frame is 1024 samples, and a copy
cuts audio on frame boundaries: 21.3 ms at 48 kHz (64 ms at the 16 kHz speech files often
uploaded). It is also the rate the posting platforms expect."""

CLIP_CRF = 20
"""x264 quality of a re-encoded clip (:func:`reencode_range`), the proxy's default too."""

MAX_RATE_RATIO = 2
"""A variable-frame-rate source's timestamp rate (``r_frame_rate``) above this many times its
average rate is taken for a timebase artefact (such as 1000/1 from millisecond timestamps),
not a frame rate: its grid uses the average rate instead."""


class ProxyError(FfmpegError):
    """ffmpeg or ffprobe failed, or made something other than what was asked; the message
    carries the end of its log."""

    code = "PROXY_FAILED"


@dataclass(frozen=True)
class FrameGrid:
    """The frame numbering of a source's virtual clips: frame ``N`` is shown from
    ``N / fps`` seconds after the first video frame, for one frame interval.

    For a constant-frame-rate source it is the source's own frames (frame ``N`` of the grid
    is the ``N``-th decoded frame). For a variable-frame-rate source it is the rate its
    timestamps are laid out on (``r_frame_rate``, what PySceneDetect numbers frames by), and
    grid frame ``N`` shows the source frame on screen at that time: a dropped frame repeats
    the one before it.
    """

    fps: Fraction
    frame_count: int

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.frame_count < 0:
            raise ValueError(f"bad frame grid: {self.frame_count} frames at {self.fps} fps")

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.fps)

    def time_of(self, frame: int) -> float:
        """Seconds from the first frame to the start of ``frame``."""
        return float(frame / self.fps)

    def frame_at(self, seconds: float) -> int:
        """The frame on screen at ``seconds`` (the one whose interval holds it); a time
        within a microsecond of a frame's start counts as that frame (float round-off)."""
        return math.floor(Fraction(seconds) * self.fps + Fraction(1, 10**6))


@dataclass(frozen=True)
class ProxySpec:
    """How a proxy is encoded (the all-intra, constant-rate parts are not options)."""

    crf: int = CLIP_CRF
    """x264 quality. Clips are copied out of the proxy as they are, so this is the quality
    of every exported clip; 20 is visually clean and what a re-encoded clip would get."""
    preset: str = "veryfast"
    """x264 speed. All-intra frames gain little from slower presets (no motion search), and
    the proxy is on the path from upload to first clip."""
    audio_bitrate: str = "192k"
    """AAC bitrate: above what platforms re-encode to, so copying it out loses nothing more."""


@dataclass(frozen=True)
class ProxyInfo:
    """What :func:`probe_proxy` reads back from a proxy (or any file offered as one)."""

    frame_count: int
    fps: Fraction
    width: int
    height: int
    has_audio: bool
    all_intra: bool
    """Every video packet is a keyframe: any frame range can be cut by stream copy."""

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(self.fps, self.frame_count)


@dataclass(frozen=True)
class Exported:
    method: Literal["copy", "reencode"]
    """``"copy"``: the proxy's packets, untouched; ``"reencode"``: decoded and encoded again,
    because a copy could not be exact."""
    frames: int
    duration_s: float


@dataclass(frozen=True)
class _Source:
    has_audio: bool
    offset_s: float
    """When the first video frame is shown, in seconds after the file's start (the earliest
    stream's first timestamp): where grid time 0 is in ffmpeg's input timeline."""


# --- probing -----------------------------------------------------------------------------
def run_tool(cmd: list[str], what: str) -> str:
    """The stdout of ``cmd`` (an ffmpeg or ffprobe command line), or :class:`ProxyError`."""
    return str(check(run(cmd), what, ProxyError).stdout)


def probe_streams(path: str | Path, ffprobe: str, *extra: str) -> dict[str, Any]:
    entries = (
        "stream=index,codec_type,width,height,r_frame_rate,avg_frame_rate,nb_frames,"
        "nb_read_packets,duration,start_time:format=start_time,duration"
    )
    data = ffprobe_json(path, *extra, "-show_entries", entries, ffprobe=ffprobe, error=ProxyError)
    if not any(s.get("codec_type") == "video" for s in data.get("streams", [])):
        raise ProxyError(f"{path}: no video stream")
    return data


def _video(data: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in data["streams"] if s.get("codec_type") == "video")


def _has_audio(data: dict[str, Any]) -> bool:
    return any(s.get("codec_type") == "audio" for s in data["streams"])


def _rate(text: str | None) -> Fraction:
    """``"30000/1001"`` as an exact fraction; 0 where ffprobe writes ``"0/0"``."""
    num, _, den = (text or "0").partition("/")
    return Fraction(int(num), int(den)) if den and int(den) else Fraction(0)


def seconds_or_none(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _source(path: str | Path, ffprobe: str) -> _Source:
    data = probe_streams(path, ffprobe)
    start = seconds_or_none(_video(data).get("start_time")) or 0.0
    origin = seconds_or_none(data.get("format", {}).get("start_time")) or 0.0
    return _Source(_has_audio(data), max(0.0, start - origin))


def frame_grid(path: str | Path, ffprobe: str = "ffprobe", *, counted: int | None = None
               ) -> FrameGrid:  # fmt: skip
    """The grid a source's virtual clips are numbered on (see :class:`FrameGrid`).

    Cheap: no decode. A constant-frame-rate source's count is its number of video packets
    (from the MP4 index, or counted by demuxing where the container keeps none). A
    variable-frame-rate one (its average rate is not its timestamp rate) has
    ``round(duration * fps)`` frames: the slots its video's duration covers on the grid.
    ``counted`` is a constant-rate source's frame count known already (the analysis decoded
    every frame), used where the container stores none instead of reading it all again.
    """
    data = probe_streams(path, ffprobe)
    video = _video(data)
    rate, avg = _rate(video.get("r_frame_rate")), _rate(video.get("avg_frame_rate"))
    if not rate or (avg and rate > MAX_RATE_RATIO * avg):
        rate = avg
    if not rate:
        raise ProxyError(f"{path}: ffprobe knows no frame rate")
    if avg and abs(avg - rate) > rate / 1000:  # variable frame rate
        duration = seconds_or_none(video.get("duration")) or seconds_or_none(
            data["format"].get("duration")
        )
        if duration is None:
            raise ProxyError(f"{path}: ffprobe knows no duration")
        return FrameGrid(rate, round(duration * rate))
    count = video.get("nb_frames")
    if not str(count).isdigit() and counted:
        count = counted
    if not str(count).isdigit():
        count = _video(probe_streams(path, ffprobe, "-count_packets", "-select_streams", "v:0"))
        count = count.get("nb_read_packets")
    return FrameGrid(rate, int(count))


def probe_proxy(path: str | Path, ffprobe: str = "ffprobe") -> ProxyInfo:
    """Read a proxy's grid and whether it is all-intra.

    ``all_intra`` comes from the packet flags of the video stream (demuxed, not decoded):
    one pass over the file's bytes, seconds for an hour of proxy in the page cache.
    """
    data = probe_streams(path, ffprobe)
    video = _video(data)
    cmd = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=flags",
           "-of", "csv=p=0", str(path)]  # fmt: skip
    flags = run_tool(cmd, f"ffprobe {path}").split()
    return ProxyInfo(
        frame_count=len(flags),
        fps=_rate(video.get("r_frame_rate")),
        width=int(video["width"]),
        height=int(video["height"]),
        has_audio=_has_audio(data),
        all_intra=all(f.startswith("K") for f in flags),
    )


# --- encoding ----------------------------------------------------------------------------
def _grid_input(src: str | Path, source: _Source, grid: FrameGrid, start: int, count: int,
                seek: bool = True) -> list[str]:  # fmt: skip
    """ffmpeg input and filter arguments that yield grid frames ``[start, start + count)``
    of ``src`` (and the audio under them), timestamps from 0.

    A range after the first frame is reached by seeking the input (unless ``seek`` is
    false) to the start's time without ``accurate_seek``: decoding begins on the keyframe
    before it, so the frame on screen at the start is always there. ``fps`` puts the frames
    on the grid (repeating one where a VFR source dropped one), ``tpad`` repeats the last
    frame past the end of a short source, and ``trim`` keeps the grid's slots by integer
    timestamp (frames, after ``fps``), so no float rounding can move a cut by a frame. The
    audio is resampled, aligned to the same origin (silence where it starts late or stops
    early) and trimmed by sample.
    """
    first = round(start * AUDIO_RATE / grid.fps)  # audio samples of the range
    last = round((start + count) * AUDIO_RATE / grid.fps)
    crop = "crop=trunc(iw/2)*2:trunc(ih/2)*2"  # x264's 4:2:0 needs even sizes; scale nothing
    pad = f"fps={grid.fps},tpad=stop=-1:stop_mode=clone"
    resample = f"aresample={AUDIO_RATE}:async=1:first_pts=0,apad"
    seek_s = source.offset_s + grid.time_of(start)
    if start and seek:  # the input starts at grid frame `start`
        args = ["-noaccurate_seek", "-ss", f"{seek_s:.6f}"]
        video = f"{crop},{pad},trim=start_pts=0:end_pts={count}"
        audio = f"{resample},atrim=start_pts=0:end_pts={last - first}"
    else:  # the input starts at the first frame
        args = []
        video = (f"setpts=PTS-STARTPTS,{crop},{pad},trim=start_pts={start}:"
                 f"end_pts={start + count},setpts=PTS-STARTPTS")  # fmt: skip
        audio = (f"asetpts=PTS-{source.offset_s:.6f}/TB,{resample},atrim=start_pts={first}:"
                 f"end_pts={last},asetpts=PTS-STARTPTS")  # fmt: skip
    args += ["-i", str(src), "-map", "0:v:0", "-vf", video]
    return [*args, "-map", "0:a:0", "-af", audio] if source.has_audio else args


def partial_path(out: Path) -> Path:
    """A temporary name beside ``out`` (same filesystem, so the rename is atomic)."""
    return out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")


def write_mp4(ffmpeg: str, args: list[str], out: Path, what: str) -> None:
    """Run ffmpeg writing an MP4 (moov first: clips are streamed) to ``out``."""
    run_ffmpeg(["-y", *args, "-movflags", "+faststart", "-f", "mp4", str(out)], ffmpeg=ffmpeg,
               what=what, error=ProxyError)  # fmt: skip


def _exact(path: Path, count: int, fps: Fraction, ffprobe: str) -> bool:
    """Whether the video of ``path`` is ``count`` frames from time 0 on the grid, read from
    the MP4's index (no demux). A frame that an edit list hides, or a seek that missed the
    start, changes the first timestamp or the duration even where the count is right."""
    streams = ffprobe_json(path, "-select_streams", "v:0", "-show_entries",
                           "stream=nb_frames,start_time,duration", ffprobe=ffprobe,
                           error=ProxyError).get("streams") or [{}]  # fmt: skip
    frames, start = streams[0].get("nb_frames"), seconds_or_none(streams[0].get("start_time"))
    duration, tolerance = seconds_or_none(streams[0].get("duration")), 0.25 / float(fps)
    return (
        str(frames) == str(count)
        and start is not None
        and abs(start) < tolerance
        and duration is not None
        and abs(duration - float(count / fps)) < tolerance
    )


def make_proxy(src: str | Path, out: str | Path, grid: FrameGrid, spec: ProxySpec | None = None,
               ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> ProxyInfo:  # fmt: skip
    """Encode the all-intra proxy of ``src`` on ``grid`` to ``out`` (an MP4).

    H.264, every frame an IDR frame, no B-frames, yuv420p, constant rate ``grid.fps``, and
    exactly ``grid.frame_count`` frames (the source padded with its last frame or cut), so
    proxy frame ``N`` is grid frame ``N``. The source's audio, if any, becomes AAC at
    :data:`AUDIO_RATE` lasting exactly as long as the video. Raises :class:`ProxyError` if
    ``src`` has no video or ffmpeg fails; ``out`` is then left as it was.
    """
    spec = spec or ProxySpec()
    out = Path(out)
    args = _grid_input(src, _source(src, ffprobe), grid, 0, grid.frame_count)
    # -g 1: every frame an IDR frame, so a copy can start on any of them.
    args += ["-c:v", "libx264", "-preset", spec.preset, "-crf", str(spec.crf), "-g", "1",
             "-bf", "0", "-pix_fmt", "yuv420p", "-c:a", "aac",
             "-b:a", spec.audio_bitrate]  # fmt: skip
    tmp = partial_path(out)
    try:
        write_mp4(ffmpeg, args, tmp, f"proxy of {src}")
        info = probe_proxy(tmp, ffprobe)
        if info.frame_count != grid.frame_count or not info.all_intra:
            raise ProxyError(f"proxy of {src}: {info} does not match {grid}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def _check_range(start: int, end: int, frame_count: int) -> None:
    if not 0 <= start < end <= frame_count:
        raise ValueError(f"frame range [{start}, {end}) is not within [0, {frame_count})")


def reencode_range(src: str | Path, grid: FrameGrid, start: int, end: int, out: str | Path,
                   ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> Exported:  # fmt: skip
    """Decode grid frames ``[start, end)`` of ``src`` and encode them to ``out``.

    What exporting costs without a proxy (x264 at its default preset, CRF
    :data:`CLIP_CRF`, AAC), and :func:`export_range`'s fallback. Frame-exact on ``grid``
    like the proxy; the audio is cut to the sample, as long as the video. The input is
    seeked to the range; where that missed (a container without an index, such as MPEG-TS,
    can land after the target) it is decoded again from the start.
    """
    _check_range(start, end, grid.frame_count)
    out, count, source = Path(out), end - start, _source(src, ffprobe)
    what = f"re-encode of frames [{start}, {end}) of {src}"
    for seek in (True, False) if start else (False,):
        args = _grid_input(src, source, grid, start, count, seek)
        args += ["-c:v", "libx264", "-crf", str(CLIP_CRF), "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-b:a", ProxySpec().audio_bitrate]  # fmt: skip
        tmp = partial_path(out)
        try:
            write_mp4(ffmpeg, args, tmp, what)
            if _exact(tmp, count, grid.fps, ffprobe):
                os.replace(tmp, out)
                return Exported("reencode", count, grid.time_of(count))
        finally:
            tmp.unlink(missing_ok=True)
    raise ProxyError(f"{what}: the output is not the range's {count} frames")


def export_range(proxy: str | Path, info: ProxyInfo, start: int, end: int, out: str | Path,
                 ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> Exported:  # fmt: skip
    """Cut proxy frames ``[start, end)`` to ``out`` (an MP4) by stream copy.

    The input is seeked to the start frame's exact time (a keyframe, as every frame is) and
    the output limited by duration a microsecond short of the end frame's time, so the
    video is exactly proxy frames ``start .. end - 1`` with timestamps from 0. The count and
    duration are checked from the output's index; where the copy is not exact, or ``info``
    says the proxy is not all-intra, the range is re-encoded from the proxy instead
    (:func:`reencode_range`, ``method="reencode"``).

    Audio is copied in whole AAC frames (1024 samples, 21.3 ms at 48 kHz): from the one
    playing at the first video frame, whose head before it the MP4 edit list hides (ffmpeg,
    browsers and players start the sound in sync, to the sample), to the one playing at the
    end, so the audio outlasts the video by less than one AAC frame. Its first frame is
    decoded without the frame before it (AAC overlaps frames), which can soften the first
    few milliseconds; a re-encode would not.

    Raises:
        ValueError: the range is empty or not within ``[0, info.frame_count)``.
        ProxyError: ffmpeg failed.
    """
    _check_range(start, end, info.frame_count)
    if not info.all_intra:
        return reencode_range(proxy, info.grid, start, end, out, ffmpeg, ffprobe)
    out, count = Path(out), end - start
    # -ss and -t are parsed to microseconds: the start's, rounded, lands within a microsecond
    # of the frame's timestamp (and ffmpeg rounds it back to the exact tick); the duration
    # stops before the end frame's timestamp and after the last kept frame's.
    seek_us = round(start * 10**6 / info.fps)
    stop_us = round(count * 10**6 / info.fps) - 1
    # -seek_timestamp: -ss is the proxy's own timestamp, not one after the file's start time.
    args = ["-seek_timestamp", "1", "-ss", f"{seek_us / 10**6:.6f}", "-i", str(proxy),
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
            "-t", f"{stop_us / 10**6:.6f}"]  # fmt: skip
    tmp = partial_path(out)
    try:
        write_mp4(ffmpeg, args, tmp, f"copy of frames [{start}, {end}) of {proxy}")
        if _exact(tmp, count, info.fps, ffprobe):
            os.replace(tmp, out)
            return Exported("copy", count, info.grid.time_of(count))
    finally:
        tmp.unlink(missing_ok=True)
    return reencode_range(proxy, info.grid, start, end, out, ffmpeg, ffprobe)
