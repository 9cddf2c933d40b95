"""Highlight reels: moments of several sources joined into one MP4.

A reel's parts come from sources of different sizes, frame rates and audio layouts, and
the concat demuxer can only join files whose streams are alike. So each part is first
encoded on its own (:func:`cut_part`) to one :class:`ReelFormat`: letterboxed to the reel's
size, at one constant frame rate, H.264 with a closed GOP, audio at one sample rate and
layout (silence where a source has none) lasting exactly as long as the part's video. The
parts are then joined by the concat demuxer, the video by stream copy (``method="copy"``):
the one expensive encode per part is all the video gets.

The parts' audio is kept as PCM until the join, which encodes it to AAC once. AAC cannot
be joined by copy without drifting: every AAC stream starts with 1024 samples of encoder
priming that an MP4 edit list hides, and the concat demuxer keeps every part's priming as
sound, so each part plays its sound later than its pictures, more at every seam (21, 48
and 87 ms late in the three parts of a test reel joined that way). PCM joins to the
sample, and encoding the audio costs a fraction of the video's encode.

The joined file is checked with ffprobe; where the copy came out wrong (a stream missing,
a duration off by more than :data:`DURATION_TOLERANCE_S`) the parts are joined again
through the concat filter and re-encoded (``method="reencode"``).

    >>> parts = [ReelPart("a.mp4", 12.0, 15.5), ReelPart("b.mov", 3.0, 5.0, has_audio=False)]
A part of an audio-only source (a podcast episode) has no picture to cut: its picture is
drawn from its sound, a waveform across a plain background (:data:`AUDIO_PART_BACKGROUND`).

    >>> make_reel(parts, Path("reel.mp4"))                                    # doctest: +SKIP
    ReelResult(path=PosixPath('reel.mp4'), duration=5.5, parts=2, method='copy', ...)

ffmpeg and ffprobe run through :mod:`clipray.media.ffmpeg`, and every file is
written under a temporary name and renamed once complete, so a failure never leaves half
a file at ``out``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from clipray.clips.proxy import (
    ProxyError,
    partial_path,
    seconds_or_none,
    write_mp4,
)
from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import ffprobe_json, run_ffmpeg

log = logging.getLogger(__name__)

DURATION_TOLERANCE_S = 0.1
"""How far a copy-joined reel's duration may be from the sum of its parts before it is
re-encoded instead: a few AAC frames (21 ms each at 48 kHz), far less than a viewer sees."""

OVERRUN_TOLERANCE_S = 0.25
"""How far a part's end may lie past its source's end (a container's duration is often a
frame or an AAC frame short of the last timestamp); the gap is filled with the last frame
and silence. A part ending further out is refused: it asks for a moment that is not there."""

SEEK_MARGIN_S = 1.0
"""Read this much of the source past a part's end: the decoder's reordering delay and a
late-starting stream need a little more input than the part lasts, and a URL is then read
only as far as needed."""

SEEK_AFTER_S = 5.0
"""A part starting this late or later is reached by seeking the input; an earlier one is
decoded from the source's start and trimmed. A demuxer seeks to the video keyframe before
the target and starts every stream there, so seeking into the span before a source's first
picture (its video starting after its audio, as a camera's often does: 0.84 s in
short_hamilton_clip.mp4) would drop the sound under it. Decoding 5 s more costs little."""

AUDIO_PART_BACKGROUND = "0x1d2433"
"""Background of an audio-only part's drawn picture (the audiograms' default colour)."""

GOP_SECONDS = 2
"""Keyframe interval of a part: players seek within a reel to the nearest keyframe, and two
seconds is what the posting platforms recommend for H.264 uploads."""


class ReelError(CodedError):
    """A reel could not be made; ``code`` says why in a form an API can return:
    ``REEL_EMPTY`` (no parts) and ``REEL_BAD_PART`` (a range or a source that cannot be cut)
    are the request's fault (422), ``REEL_FFMPEG`` (ffmpeg failed or wrote something
    unplayable) is clipray's (500)."""

    def __init__(self, code: str, message: str, **kw: Any) -> None:
        kw.setdefault("status", 500 if code == "REEL_FFMPEG" else 422)
        super().__init__(code, message, **kw)


@dataclass(frozen=True)
class ReelPart:
    """One moment of a reel: ``[start, end)`` seconds of ``uri``."""

    uri: str
    """A local path, or an http(s) URL (a presigned one) that ffmpeg can read."""
    start: float
    end: float
    has_audio: bool = True
    """False: the part is silent even if its source has sound. :func:`make_reel` also makes
    a part silent where its source has no audio stream."""
    has_video: bool = True
    """False: an audio-only source, whose picture is drawn from its sound (a waveform);
    :func:`make_reel` sets it from the source's streams."""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ReelFormat:
    """The streams every part is encoded to: the same for all, so they join by copy."""

    width: int = 1280
    height: int = 720
    fps: str = "30"
    """A rate ffmpeg's ``fps`` filter accepts, written as a number or a fraction
    (``"30000/1001"``). Constant: a reel's parts come from sources of different rates."""
    sample_rate: int = 48000
    """AAC at 48 kHz: what the posting platforms expect, and 1024-sample frames of 21 ms."""
    channels: int = 2
    crf: int = 20
    """x264 quality; 20 is visually clean, as in :mod:`clipray.clips.render`."""
    preset: str = "veryfast"
    audio_bitrate: str = "160k"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"a reel's size must be even and positive: {self.width}x{self.height}")
        if self.rate <= 0 or self.sample_rate <= 0 or self.channels <= 0:
            raise ValueError(f"bad reel format: {self}")

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps)


@dataclass(frozen=True)
class ReelResult:
    path: Path
    duration: float
    """Of the written file, from ffprobe."""
    parts: int
    method: Literal["copy", "reencode"]
    """``"copy"``: the cut parts joined by the concat demuxer, their video copied as it is
    (their PCM audio encoded to AAC once); ``"reencode"``: joined by the concat filter and
    the video encoded again, because the copy came out wrong."""
    width: int
    height: int


# --- pure ----------------------------------------------------------------------------------
def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def common_format(sizes: Sequence[tuple[int, int]], max_height: int = 1080) -> tuple[int, int]:
    """The size of a reel whose parts have these ``(width, height)`` sizes (one per part).

    The aspect is the one most parts share (to two decimals, so 854x480 counts as 16:9), so
    the fewest parts are letterboxed; a tie goes to the aspect of the larger part, whose
    detail has the most to lose. The height is the tallest part's, capped at ``max_height``:
    no part is scaled down below what it has, and a 4K source does not make every part 4K.
    Both sides are even, as H.264 in 4:2:0 needs: the height rounded down (it stays within
    the cap), the width to the nearest even number (the aspect moves least).
    """
    if not sizes:
        raise ValueError("no sizes")
    if any(w <= 0 or h <= 0 for w, h in sizes):
        raise ValueError(f"bad sizes: {list(sizes)}")
    votes = Counter(round(w / h, 2) for w, h in sizes)
    w, h = max(sizes, key=lambda s: (votes[round(s[0] / s[1], 2)], s[0] * s[1]))
    height = max(2, min(max(h for _, h in sizes), max_height) // 2 * 2)  # down: never over
    return _even(height * w / h), height


def frame_count(duration: float, fps: Fraction) -> int:
    """Frames of a part lasting ``duration`` seconds at ``fps``: the nearest count (at least
    one), so a part lasts ``duration`` to within half a frame."""
    return max(1, round(Fraction(duration) * fps))


def check_parts(parts: Sequence[ReelPart]) -> None:
    """Refuse a reel that cannot be cut, before any ffmpeg runs.

    Raises:
        ReelError: ``REEL_EMPTY`` or ``REEL_BAD_PART``.
    """
    if not parts:
        raise ReelError("REEL_EMPTY", "a reel needs at least one part")
    for i, part in enumerate(parts):
        if not part.uri:
            raise ReelError("REEL_BAD_PART", f"part {i} has no source")
        if not (part.start >= 0 and part.end > part.start):  # also refuses NaN
            raise ReelError(
                "REEL_BAD_PART", f"part {i} [{part.start}, {part.end}) is not a range of time"
            )


def cut_args(part: ReelPart, fmt: ReelFormat, pcm: bool = False) -> list[str]:
    """ffmpeg arguments (inputs, filters, codecs) that encode ``part`` in ``fmt``; ``pcm``:
    the audio as 16-bit PCM instead of AAC (see :func:`make_reel`).

    ``-ss`` before ``-i`` seeks to the keyframe before the start and decodes from there,
    dropping frames before the start, so the cut is exact; a part that starts within
    :data:`SEEK_AFTER_S` of the source's start is decoded from there and trimmed by time
    instead. Both streams are then shifted by the same amount, so the part's timestamps
    start at 0 and audio and video keep the source's alignment: ``fps`` with
    ``start_time=0`` repeats the first frame where the picture starts after the part (or
    between two frames), ``aresample`` inserts silence where the sound does. The video is
    scaled to fit and padded (the aspect kept), ``tpad`` repeats the last frame past a
    source that ends early, and ``trim`` keeps exactly :func:`frame_count` frames. The audio
    is padded with silence and trimmed to the sample count of those frames, so every part's
    audio is as long as its video and the parts stay in sync once joined.
    """
    rate = fmt.rate
    frames = frame_count(part.duration, rate)
    samples = round(frames * fmt.sample_rate / rate)
    seek = part.start if part.start >= SEEK_AFTER_S else 0.0
    skip = part.start - seek  # seconds still to drop after the seek
    vtrim = f"trim=start={skip:.6f},setpts=PTS-{skip:.6f}/TB," if skip else ""
    atrim = f"atrim=start={skip:.6f},asetpts=PTS-{skip:.6f}/TB," if skip else ""
    w, h = fmt.width, fmt.height
    last = f"tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},setpts=PTS-STARTPTS[v]"
    video = (
        f"[0:v:0]{vtrim}fps={fmt.fps}:start_time=0,"
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,{last}"
    )
    layout = {1: "mono", 2: "stereo"}.get(fmt.channels, f"{fmt.channels}c")
    aformat = f"aformat=sample_fmts=fltp:sample_rates={fmt.sample_rate}:channel_layouts={layout}"
    source = "[0:a:0]"
    if not part.has_video:  # the picture is the part's own sound, drawn as a waveform
        band = _even(h / 4)
        video = (
            f"color=c={AUDIO_PART_BACKGROUND}:s={w}x{h}:r={fmt.fps}[bg];"
            f"[0:a:0]{atrim}asplit=2[sound][drawn];"
            f"[drawn]aformat=channel_layouts=mono,showwaves=s={w}x{band}:mode=cline"
            f":rate={fmt.fps}:colors=0xf2f2f2:draw=full:scale=sqrt,format=rgba[wave];"
            f"[bg][wave]overlay=x=0:y=(H-h)/2:shortest=1,setsar=1,format=yuv420p,{last}"
        )
        source, atrim = "[sound]", ""
    if part.has_audio:
        audio = f"{source}{atrim}aresample={fmt.sample_rate}:async=1:first_pts=0,{aformat}"
    else:
        audio = f"[1:a]{aformat}"
    audio += f",apad,atrim=end_sample={samples},asetpts=N/SR/TB[a]"
    args = ["-ss", f"{seek:.6f}"] if seek else []
    args += ["-t", f"{skip + part.duration + SEEK_MARGIN_S:.6f}", "-i", part.uri]
    if not part.has_audio:
        args += ["-f", "lavfi", "-i", f"anullsrc=r={fmt.sample_rate}:cl={layout}"]
    # -flags +cgop and a fixed GOP: every part starts with an IDR frame no frame refers past,
    # so the joined stream decodes across the seams.
    gop = max(1, round(rate * GOP_SECONDS))
    return [
        *args, "-filter_complex", f"{video};{audio}", "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", fmt.preset, "-crf", str(fmt.crf), "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-flags", "+cgop",
        *(["-c:a", "pcm_s16le"] if pcm else ["-c:a", "aac", "-b:a", fmt.audio_bitrate]),
    ]  # fmt: skip


def concat_list(names: Sequence[str]) -> str:
    """The concat demuxer's list file for these files (relative to the list's folder),
    quoted as its parser wants (a ``'`` becomes ``'\\''``)."""
    lines = ["ffconcat version 1.0"]
    lines += ["file '{}'".format(name.replace("'", "'\\''")) for name in names]
    return "\n".join(lines) + "\n"


def concat_filter_args(paths: Sequence[Path], fmt: ReelFormat) -> list[str]:
    """ffmpeg arguments that join ``paths`` (parts already in ``fmt``) through the concat
    filter and encode the result: the fallback when a copy join comes out wrong."""
    inputs = [arg for p in paths for arg in ("-i", str(p))]
    pads = "".join(f"[{i}:v:0][{i}:a:0]" for i in range(len(paths)))
    graph = f"{pads}concat=n={len(paths)}:v=1:a=1[v][a]"
    return [
        *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", fmt.preset, "-crf", str(fmt.crf), "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", fmt.audio_bitrate,
    ]  # fmt: skip


@dataclass(frozen=True)
class _Probed:
    """What ffprobe says about a written reel (or part)."""

    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    duration: float | None
    video_duration: float | None
    audio_duration: float | None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def _read_probe(data: dict[str, Any]) -> _Probed:
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return _Probed(
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name"),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        duration=seconds_or_none(data.get("format", {}).get("duration")),
        video_duration=seconds_or_none(video.get("duration")),
        audio_duration=seconds_or_none(audio.get("duration")),
    )


def _reel_ok(probed: _Probed, expected: float, fmt: ReelFormat) -> bool:
    """Whether a joined reel is what was asked: H.264 and AAC at the reel's size, and the
    file and both streams within :data:`DURATION_TOLERANCE_S` of the parts' total."""
    durations = (probed.duration, probed.video_duration, probed.audio_duration)
    return (
        probed.video_codec == "h264"
        and probed.audio_codec == "aac"
        and (probed.width, probed.height) == (fmt.width, fmt.height)
        and all(d is not None and abs(d - expected) <= DURATION_TOLERANCE_S for d in durations)
    )


# --- ffmpeg --------------------------------------------------------------------------------
def _probe_reel(path: Path, ffprobe: str) -> _Probed:
    return _read_probe(ffprobe_json(
        path, "-show_entries", "stream=codec_type,codec_name,width,height,duration:format=duration",
        ffprobe=ffprobe, error=ProxyError))  # fmt: skip


def cut_part(
    part: ReelPart, fmt: ReelFormat, out: Path, ffmpeg_bin: str = "ffmpeg", *, pcm: bool = False
) -> Path:
    """Encode ``part`` to ``out`` in exactly ``fmt`` (see :func:`cut_args`): an MP4 with AAC,
    or with ``pcm`` a MOV with 16-bit PCM audio, the lossless intermediate :func:`make_reel`
    joins.

    ``part.has_audio`` is trusted: a part whose source has no audio stream must say so
    (:func:`make_reel` probes each source and does), or ffmpeg fails. ``out`` is written
    under a temporary name and renamed once complete.

    Raises:
        ReelError: ``REEL_BAD_PART`` for a range that is not one, ``REEL_FFMPEG`` if ffmpeg
            fails.
    """
    check_parts([part])
    out = Path(out)
    tmp = partial_path(out)
    args, what = cut_args(part, fmt, pcm), f"cut of {part}"
    try:
        if pcm:  # an intermediate: no faststart pass, MOV because MP4 holds no PCM
            run_ffmpeg(["-y", *args, "-f", "mov", str(tmp)], ffmpeg=ffmpeg_bin, what=what,
                       error=ProxyError)  # fmt: skip
        else:
            write_mp4(ffmpeg_bin, args, tmp, what)
        os.replace(tmp, out)
    except ProxyError as exc:
        raise ReelError("REEL_FFMPEG", str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _probe_source(uri: str, ffprobe: str) -> dict[str, Any]:
    """A source's streams (with which are cover art) and duration, from its header."""
    entries = ("stream=codec_type,width,height:stream_disposition=attached_pic"
               ":format=duration")  # fmt: skip
    return ffprobe_json(uri, "-show_entries", entries, ffprobe=ffprobe, error=ProxyError)


def _inspect(parts: Sequence[ReelPart], ffprobe: str
             ) -> list[tuple[ReelPart, tuple[int, int] | None]]:  # fmt: skip
    """Each part with ``has_audio`` false where its source has none (``has_video`` false
    for an audio-only one), and the source's size (None for an audio-only one).

    Reading every source's header before cutting any catches a missing file, a non-video
    file or a range past a source's end in a second, not after minutes of encoding.
    """
    inspected = []
    for i, part in enumerate(parts):
        try:
            data = _probe_source(part.uri, ffprobe)
        except ProxyError as exc:
            raise ReelError("REEL_BAD_PART", f"part {i} ({part.uri}): {exc}") from exc
        streams = data["streams"]
        has_audio = any(s.get("codec_type") == "audio" for s in streams)
        video = next((s for s in streams if s.get("codec_type") == "video"
                      and not (s.get("disposition") or {}).get("attached_pic")), None)  # fmt: skip
        if video is None:  # audio-only: its drawn picture fits any reel size
            if not has_audio:
                raise ReelError("REEL_BAD_PART", f"part {i} ({part.uri}): no picture or sound")
            inspected.append((replace(part, has_video=False), None))
            continue
        length = seconds_or_none(data.get("format", {}).get("duration"))
        if length is not None and part.end > length + OVERRUN_TOLERANCE_S:
            raise ReelError(
                "REEL_BAD_PART", f"part {i} ends at {part.end} s, after its source's {length} s"
            )
        size = (int(video.get("width") or 0), int(video.get("height") or 0))
        if min(size) <= 0:
            raise ReelError("REEL_BAD_PART", f"part {i} ({part.uri}): ffprobe knows no size")
        inspected.append((replace(part, has_audio=part.has_audio and has_audio), size))
    return inspected


def make_reel(
    parts: Sequence[ReelPart],
    out: Path,
    fmt: ReelFormat | None = None,
    *,
    workdir: Path | None = None,
    ffmpeg_bin: str = "ffmpeg",
    ffprobe_bin: str = "ffprobe",
    on_progress: Callable[[int, int], None] | None = None,
) -> ReelResult:
    """Make the reel of ``parts``, in order, at ``out`` (an MP4, moov first).

    Args:
        parts: the moments, in the reel's order.
        out: where the reel goes; written under a temporary name beside it and renamed once
            checked, so a failure leaves ``out`` as it was.
        fmt: the reel's streams; None: :func:`common_format` of the sources' sizes and
            :class:`ReelFormat`'s defaults for the rest.
        workdir: where the cut parts are kept until joined (a temporary folder inside it,
            removed afterwards); None: the system's temporary folder.
        on_progress: called with ``(parts cut, parts)`` after each part is cut.

    Raises:
        ReelError: ``REEL_EMPTY``, ``REEL_BAD_PART`` (a bad range, or a source that is
            missing, not a video, or shorter than the range), ``REEL_FFMPEG``.
    """
    check_parts(parts)
    inspected = _inspect(parts, ffprobe_bin)
    if fmt is None:
        sizes = [size for _, size in inspected if size is not None]
        fmt = ReelFormat(*common_format(sizes)) if sizes else ReelFormat()
    out = Path(out)
    expected = float(sum(frame_count(p.duration, fmt.rate) for p in parts) / fmt.rate)
    with tempfile.TemporaryDirectory(prefix="reel-", dir=workdir) as scratch:
        folder = Path(scratch)
        paths = []
        for i, (part, _) in enumerate(inspected):
            paths.append(cut_part(part, fmt, folder / f"part-{i:04d}.mov", ffmpeg_bin, pcm=True))
            if on_progress is not None:
                on_progress(i + 1, len(parts))
        tmp = partial_path(out)
        try:
            method, probed = _join(paths, fmt, expected, tmp, ffmpeg_bin, ffprobe_bin)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return ReelResult(out, probed.duration or expected, len(parts), method, *probed.size)


def _join(
    paths: Sequence[Path], fmt: ReelFormat, expected: float, tmp: Path, ffmpeg: str, ffprobe: str
) -> tuple[Literal["copy", "reencode"], _Probed]:
    """Join the cut parts into ``tmp``: by copy, or where that came out wrong by re-encode."""
    listing = paths[0].parent / "parts.ffconcat"
    listing.write_text(concat_list([p.name for p in paths]), encoding="utf-8")
    args = ["-f", "concat", "-i", str(listing), "-map", "0:v:0", "-map", "0:a:0",
            "-c:v", "copy", "-c:a", "aac", "-b:a", fmt.audio_bitrate]  # fmt: skip
    try:
        write_mp4(ffmpeg, args, tmp, "copy join of the reel")
        probed = _probe_reel(tmp, ffprobe)
        if _reel_ok(probed, expected, fmt):
            return "copy", probed
        log.warning("copy join of %d parts is not the %.3f s asked: %s", len(paths), expected,
                    probed)  # fmt: skip
    except ProxyError as exc:
        log.warning("copy join of %d parts failed, re-encoding: %s", len(paths), exc)
    try:
        write_mp4(ffmpeg, concat_filter_args(paths, fmt), tmp, "re-encoded join of the reel")
        probed = _probe_reel(tmp, ffprobe)
    except ProxyError as exc:
        raise ReelError("REEL_FFMPEG", str(exc)) from exc
    if not _reel_ok(probed, expected, fmt):
        raise ReelError("REEL_FFMPEG", f"the reel is not the {expected:.3f} s asked: {probed}")
    return "reencode", probed
