"""The policy an uploaded or downloaded video must meet before it becomes a source.

A source is a video, or an audio-only file (a podcast episode: ``.mp3``, ``.m4a``, ``.wav``,
``.flac``, ``.opus``), which clipray renders as audiograms; for one of those the picture
checks are skipped and its sound is what gets test-decoded.

Checks run cheapest first: ffprobe's header (is it media at all, does it have a picture),
then the limits on what it says (:func:`check_media`, pure), then a real decode of the first
frames and of the last second, which catches what a header cannot: a truncated upload whose
index points past the end of the file, or damaged data near the start or the end. Damage in
the middle of a long file is not looked for: finding it takes a full decode, which costs
minutes for a 4-hour video; the analysis stages meet it later.

Every refusal is a :class:`MediaRejectedError` whose ``code`` a client can act on.

    >>> info = validate_file(Path("talk.mp4"), MediaLimits())     # doctest: +SKIP
    >>> try:
    ...     validate_file(Path("notes.mp4"), MediaLimits())           # doctest: +SKIP
    ... except MediaRejectedError as exc:
    ...     exc.code
    'MEDIA_NOT_A_VIDEO'
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import run, tail
from clipray.pipelines.stages.decode import ProbeError, VideoInfo, probe

_HEAD_FRAMES = 5
"""Frames decoded from the start: enough to get past the first keyframe's references."""
_TAIL_S = 1.0
"""Seconds decoded at the end of the file."""
_DECODE_TIMEOUT_S = 120.0
"""A decoder stuck this long on a few frames is treated as corrupt input (a crafted file must
not hold an ingest worker); a 4K HEVC tail decodes in about a second."""
_SCORE_EXTENSION = 50
"""libavformat's ``AVPROBE_SCORE_EXTENSION``: the most a file name's extension alone earns a
demuxer. A score above it means the bytes themselves were recognised."""
_PROBE_SCORE = re.compile(r"probed with size=\d+ and score=(\d+)")


class RejectCode(StrEnum):
    """Why a file was refused; the values are the machine-readable codes clients see."""

    NOT_A_VIDEO = "MEDIA_NOT_A_VIDEO"
    """Not media at all (a renamed text), or media with neither a picture nor sound."""
    CORRUPT = "MEDIA_CORRUPT"
    """A recognised container that cannot be decoded, or has no duration or picture size."""
    TOO_LONG = "MEDIA_TOO_LONG"
    RESOLUTION_TOO_HIGH = "MEDIA_RESOLUTION_TOO_HIGH"
    CODEC_NOT_ALLOWED = "MEDIA_CODEC_NOT_ALLOWED"


class MediaRejectedError(CodedError):
    """A file that must not become a source (422); ``code`` is a :class:`RejectCode` value.
    Not retryable: the same bytes are refused again."""

    def __init__(self, code: str, message: str, **kw: Any) -> None:
        super().__init__(str(code), message, **kw)


@dataclass(frozen=True)
class MediaLimits:
    """What a source may be. Resolution limits hold in either orientation."""

    max_duration_s: float = 4 * 3600
    max_width: int = 3840
    """Limit on the longer side, so a portrait 2160x3840 video passes like a landscape one."""
    max_height: int = 2160
    """Limit on the shorter side."""
    video_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores")
    """ffprobe ``codec_name`` values accepted for the video stream."""
    audio_codecs: tuple[str, ...] = (
        "aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3",
        "pcm_s16le", "pcm_s24le", "pcm_f32le",
    )  # fmt: skip
    """``codec_name`` values accepted for the first audio stream; a silent video passes."""


def check_media(info: VideoInfo, limits: MediaLimits) -> None:
    """Raise :class:`MediaRejectedError` if ``info`` breaks ``limits``; pure."""
    if not (math.isfinite(info.duration) and info.duration > 0):
        raise MediaRejectedError(RejectCode.CORRUPT, "the container states no duration")
    if not info.has_video:
        _check_audio_codec(info, limits)
        return
    if info.width <= 0 or info.height <= 0:
        raise MediaRejectedError(
            RejectCode.CORRUPT, f"the video has no picture size ({info.width}x{info.height})"
        )
    if info.duration > limits.max_duration_s:
        raise MediaRejectedError(
            RejectCode.TOO_LONG,
            f"duration {info.duration:.1f} s exceeds the limit of {limits.max_duration_s:g} s",
        )
    long_side, short_side = max(info.width, info.height), min(info.width, info.height)
    if long_side > limits.max_width or short_side > limits.max_height:
        raise MediaRejectedError(
            RejectCode.RESOLUTION_TOO_HIGH,
            f"resolution {info.width}x{info.height} exceeds the limit of "
            f"{limits.max_width}x{limits.max_height} (in either orientation)",
        )
    if info.video_codec not in limits.video_codecs:
        raise MediaRejectedError(
            RejectCode.CODEC_NOT_ALLOWED,
            f"video codec {info.video_codec or 'unknown'!r} is not one of "
            f"{', '.join(limits.video_codecs)}",
        )
    if info.audio_codec is not None:
        _check_audio_codec(info, limits)


def _check_audio_codec(info: VideoInfo, limits: MediaLimits) -> None:
    if info.audio_codec not in limits.audio_codecs:
        raise MediaRejectedError(
            RejectCode.CODEC_NOT_ALLOWED,
            f"audio codec {info.audio_codec or 'unknown'!r} is not one of "
            f"{', '.join(limits.audio_codecs)}",
        )


def validate_file(
    path: Path, limits: MediaLimits, *, ffprobe: str = "ffprobe", ffmpeg: str = "ffmpeg"
) -> VideoInfo:
    """Probe, check and test-decode ``path``; its :class:`VideoInfo` if it may be a source.

    Raises:
        MediaRejectedError: the file breaks the policy (see :class:`RejectCode`).
        DependencyMissing: ``ffprobe`` or ``ffmpeg`` cannot be run.
        FileNotFoundError: there is no file at ``path``.
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        info = probe(path, ffprobe)
    except ProbeError as exc:
        detail = " ".join(str(exc).split())  # ffprobe's stderr, on one line
        if _broken_container(path, ffprobe):
            raise MediaRejectedError(
                RejectCode.CORRUPT, f"{path.name}: a damaged media file ({detail})"
            ) from exc
        raise MediaRejectedError(
            RejectCode.NOT_A_VIDEO, f"{path.name}: not a video or audio file ({detail})"
        ) from exc
    except CodedError:  # DependencyMissing is a ValueError too: not the file's fault
        raise
    except (KeyError, ValueError) as exc:  # ffprobe's report lacks a field parse_probe needs
        raise MediaRejectedError(
            RejectCode.CORRUPT, f"{path.name}: ffprobe cannot describe the video ({exc!r})"
        ) from exc
    check_media(info, limits)
    _check_decodes(path, info, ffprobe, ffmpeg)
    return info


def _broken_container(path: Path, ffprobe: str) -> bool:
    """After :func:`probe` failed: did a demuxer recognise the bytes, yet fail to read them?

    A truncated MP4 without its ``moov`` index is recognised from its ``ftyp`` box (score 100)
    and then fails; a text file named ``x.mp4`` is only tried as MP4 because of its name
    (score 1). ffprobe reporting success here means media with neither picture nor sound.
    """
    cmd = [ffprobe, "-hide_banner", "-v", "debug", str(path)]
    try:
        proc = run(cmd, timeout=_DECODE_TIMEOUT_S, tool="ffprobe")
    except subprocess.TimeoutExpired:
        return True
    if proc.returncode == 0:
        return False
    match = _PROBE_SCORE.search(proc.stderr)
    return match is not None and int(match.group(1)) > _SCORE_EXTENSION


def _check_decodes(path: Path, info: VideoInfo, ffprobe: str, ffmpeg: str) -> None:
    """Decode the first frames and the last second of the video stream (of the sound, for an
    audio-only file), or raise CORRUPT.

    A file cut short after its index (an MP4 written with ``+faststart``) decodes its head
    cleanly and then just ends: its tail decodes no frame and logs no error, so an empty tail
    counts as corrupt too, unless the picture legitimately ends before the audio does.
    """
    stream = "v" if info.has_video else "a"
    if _decode(path, ffmpeg, start=None, frames=_HEAD_FRAMES, stream=stream) == 0:
        raise MediaRejectedError(RejectCode.CORRUPT, f"{path.name}: no frame decodes")
    tail = max(info.duration - _TAIL_S, 0.0)
    if _decode(path, ffmpeg, start=tail, frames=None, stream=stream) > 0:
        return
    if not info.has_video:
        raise MediaRejectedError(
            RejectCode.CORRUPT, f"{path.name}: no sound decodes after {tail:.2f} s (truncated?)"
        )
    video_end = _video_end(path, ffprobe, info.start_time)
    if video_end is not None and video_end < info.duration - _TAIL_S:
        tail = max(video_end - _TAIL_S, 0.0)
        if _decode(path, ffmpeg, start=tail, frames=None) > 0:
            return
    raise MediaRejectedError(
        RejectCode.CORRUPT, f"{path.name}: no frame decodes after {tail:.2f} s (truncated?)"
    )


def _decode(path: Path, ffmpeg: str, *, start: float | None, frames: int | None,
            stream: str = "v") -> int:  # fmt: skip
    """Frames decoded from ``start`` (``frames`` at most) of the first ``stream`` (``v``, or
    ``a`` for sound, whose frames are audio frames); CORRUPT on any decoder error."""
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-xerror"]
    if start is not None:
        cmd += ["-ss", f"{start:.3f}"]
    cmd += ["-i", str(path), "-map", f"0:{stream}:0"]
    if frames is not None:
        cmd += [f"-frames:{stream}", str(frames)]
    cmd += ["-f", "null", "-progress", "pipe:1", "-"]
    where = "the start" if start is None else f"{start:.2f} s"
    try:
        proc = run(cmd, timeout=_DECODE_TIMEOUT_S, tool="ffmpeg")
    except subprocess.TimeoutExpired as exc:
        raise MediaRejectedError(
            RejectCode.CORRUPT, f"{path.name}: decoding from {where} did not finish"
        ) from exc
    errors = proc.stderr.strip()
    if proc.returncode != 0 or errors:
        detail = tail(errors) or f"ffmpeg exit status {proc.returncode}"
        raise MediaRejectedError(
            RejectCode.CORRUPT, f"{path.name}: decoding from {where} fails ({detail})"
        )
    # -progress writes key=value blocks; the last frame= is the total. Sound has no frame
    # count there: any decoded time (out_time_us above 0) counts as one frame.
    lines = proc.stdout.splitlines()
    if stream == "a":
        times = [line[12:] for line in lines if line.startswith("out_time_us=")]
        return 1 if times and times[-1].isdigit() and int(times[-1]) > 0 else 0
    counts = [line[6:] for line in lines if line.startswith("frame=")]
    return int(counts[-1]) if counts and counts[-1].isdigit() else 0


def _video_end(path: Path, ffprobe: str, origin: float) -> float | None:
    """End of the first video stream, from its own header fields and relative to the
    container's start ``origin`` (as ``-ss`` is), if the stream states a duration."""
    cmd = [
        ffprobe, "-v", "error", "-select_streams", "v:0",
        "-show_entries", "stream=start_time,duration", "-of", "default=nw=1", str(path),
    ]  # fmt: skip
    try:
        proc = run(cmd, timeout=_DECODE_TIMEOUT_S, tool="ffprobe")
    except subprocess.TimeoutExpired:
        return None
    fields = dict(line.partition("=")[::2] for line in proc.stdout.splitlines())
    try:
        start = float(fields.get("start_time", origin))
        return start - origin + float(fields["duration"])
    except (KeyError, ValueError):
        return None
