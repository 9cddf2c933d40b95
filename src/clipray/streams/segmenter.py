"""One ffmpeg process that turns a live source into finished two-second segments.

The command is built by pure functions (:func:`input_args`, :func:`segment_args`,
:func:`choose_video_mode`) and run by :class:`SegmentRun`, which the ingest starts once per
connection. FFmpeg's segment muxer does the cutting: ``-f segment`` with
``-reset_timestamps 1`` (each file starts at time zero, so a segment of a later connection is
as self-contained as one of the first) and a CSV segment list written to ffmpeg's standard
output (``-segment_list pipe:1``). The muxer appends and flushes one line
``name,start,end`` the moment a segment is closed, so reading that pipe is the event "a
segment is complete", with its measured duration, and no directory has to be polled.

**Copy or transcode.** A segment must start on a keyframe to play on its own. When the
source's keyframes are at most ``max_copy_gop_s`` apart and its video is H.264 or HEVC, the
video is stream-copied: the muxer cuts at the first keyframe after each ``segment_s``, so
segments last one or two GOPs. Platforms ask streamers for 2 s keyframe intervals (Twitch,
YouTube Live), so the usual source is copied, at almost no CPU; a transcode of a 1080p60
stream would take more than a core per stream, the largest cost a stream worker could have,
and would lose quality. Otherwise (a long GOP, another codec) the video is encoded with
libx264, a keyframe forced every ``segment_s`` (``-force_key_frames``, no scene-cut
keyframes) so segments are exact. Audio is copied when it is AAC (what MP4 windows need) and
encoded to AAC otherwise.

    >>> segment_args(Path("incoming"), 3, segment_s=2.0, video="copy", audio="copy",
    ...              encode=EncodeOptions())[:4]                                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from clipray.media.ffmpeg import ffprobe_json, popen, tail

Mode = Literal["copy", "transcode"]

COPY_VIDEO_CODECS = frozenset({"h264", "hevc"})
"""Video codecs an MPEG-TS segment and an MP4 window both carry by stream copy."""

REFUSAL_MARKERS = ("Unexpected stream", "App field don't match up")
"""What FFmpeg's RTMP listener logs (as warnings only: it goes on) when a publisher names
another stream key or application than the one it listens for."""

OPENED_MARKER = "Input #0"
"""Logged once the input is open (after an RTMP publisher's ``publish`` command)."""


@dataclass(frozen=True, slots=True)
class EncodeOptions:
    """How a source that cannot be copied is encoded."""

    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"


@dataclass(frozen=True, slots=True)
class SourceProbe:
    """What a short look at the source found."""

    video_codec: str | None
    audio_codec: str | None
    max_gop_s: float | None
    """Longest distance between keyframes seen; ``None`` when fewer than two were seen."""


def is_local(source: str) -> bool:
    """A file on this machine (a path or ``file:`` URL): read with ``-re``, and its end is
    the end of the stream rather than a drop."""
    scheme = urlsplit(source).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def input_args(source: str, *, rw_timeout_s: float, listen: bool = False) -> list[str]:
    """FFmpeg's input options for ``source``: local files are paced at their own rate
    (``-re``, a stand-in for a live source); network reads give up after ``rw_timeout_s``
    without data, so a dead connection ends the run instead of hanging it."""
    if is_local(source):
        return ["-re", "-i", source]
    if listen:
        return ["-listen", "1", "-i", source]
    args = ["-rw_timeout", str(int(rw_timeout_s * 1_000_000))]
    if PurePosixPath(urlsplit(source).path).suffix.lower() == ".m3u8":
        # Start at the newest segment rather than three back: less latency, and after a
        # reconnect at most one segment repeats what arrived before the drop.
        args += ["-live_start_index", "-1"]
    return [*args, "-i", source]


def choose_video_mode(probe: SourceProbe, *, segment_s: float, max_copy_gop_s: float) -> Mode:
    """``copy`` when the source's keyframes are close enough to cut segments of about
    ``segment_s`` without encoding, ``transcode`` otherwise (see the module docstring)."""
    if probe.video_codec not in COPY_VIDEO_CODECS or probe.max_gop_s is None:
        return "transcode"
    return "copy" if probe.max_gop_s <= max(max_copy_gop_s, segment_s) + 1e-3 else "transcode"


def audio_mode(probe: SourceProbe | None) -> Mode:
    """Copy AAC (or an unprobed push, which OBS sends as AAC); encode anything else."""
    return "copy" if probe is None or probe.audio_codec in (None, "aac") else "transcode"


def segment_args(staging: Path, run: int, *, segment_s: float, video: Mode, audio: Mode,
                 encode: EncodeOptions) -> list[str]:  # fmt: skip
    """Output options: the first video and audio streams, coded per ``video``/``audio``,
    cut into ``staging/r{run}_{n}.ts`` with the segment list on standard output."""
    args = ["-map", "0:v:0", "-map", "0:a:0?"]
    if video == "copy":
        args += ["-c:v", "copy"]
    else:
        args += ["-c:v", "libx264", "-preset", encode.preset, "-crf", str(encode.crf),
                 "-pix_fmt", "yuv420p", "-sc_threshold", "0",
                 "-force_key_frames", f"expr:gte(t,n_forced*{segment_s:g})"]  # fmt: skip
    args += ["-c:a", "copy"] if audio == "copy" else [
        "-c:a", "aac", "-b:a", encode.audio_bitrate, "-ar", "48000"]  # fmt: skip
    # segment_time_delta: a forced keyframe's time is rounded to the frame grid; without
    # the slack the muxer can miss it and cut a segment twice as long.
    args += ["-f", "segment", "-segment_format", "mpegts", "-segment_time", f"{segment_s:g}",
             "-segment_time_delta", "0.05", "-reset_timestamps", "1",
             "-segment_list", "pipe:1", "-segment_list_type", "csv",
             str(staging / f"r{run:04d}_%06d.ts")]  # fmt: skip
    return args


_LOG_PREFIX = re.compile(r"\[[\w:.-]+ @ 0x[0-9a-f]+\]\s*|\[(?:error|fatal)\]\s*")


def error_text(line: str) -> str:
    """An ffmpeg error line as a reason a person reads: without the level tag and the
    ``[component @ 0xADDRESS]`` prefix, whose address changes with every run."""
    return " ".join(_LOG_PREFIX.sub("", line).split())


def parse_list_line(line: str) -> tuple[str, float] | None:
    """``("r0001_000003.ts", 2.0)`` from the CSV list line ``r0001_000003.ts,6.0,8.0``;
    ``None`` for anything else."""
    parts = line.strip().rsplit(",", 2)
    if len(parts) != 3:
        return None
    try:
        start, end = float(parts[1]), float(parts[2])
    except ValueError:
        return None
    return (parts[0], end - start) if end > start else None


def probe_source(source: str, *, seconds: float, timeout: float, rw_timeout_s: float,
                 ffprobe: str = "ffprobe") -> SourceProbe:  # fmt: skip
    """Codecs and the longest keyframe interval in the first ``seconds`` of ``source``.

    Raises:
        FfmpegError: the source cannot be read (down, refused, not media).
    """
    opts = [] if is_local(source) else ["-rw_timeout", str(int(rw_timeout_s * 1_000_000))]
    # One connection for both questions: a live source may not like being asked twice.
    info = ffprobe_json(source, *opts, "-read_intervals", f"%+{seconds:g}", "-show_entries",
                        "stream=index,codec_type,codec_name:packet=stream_index,pts_time,flags",
                        ffprobe=ffprobe, timeout=timeout)  # fmt: skip
    streams = info.get("streams", [])
    first = {t: next((s for s in streams if s.get("codec_type") == t), None)
             for t in ("video", "audio")}  # fmt: skip
    video = first["video"]
    keys = sorted(float(p["pts_time"]) for p in info.get("packets", [])
                  if video is not None and p.get("stream_index") == video.get("index")
                  and "K" in p.get("flags", "")
                  and p.get("pts_time") not in (None, "N/A"))  # fmt: skip
    gop = max((b - a for a, b in itertools.pairwise(keys)), default=None)
    return SourceProbe(*((s or {}).get("codec_name") for s in (video, first["audio"])), gop)


@dataclass(slots=True)
class RunResult:
    """How one ffmpeg run ended."""

    segments: int
    returncode: int | None
    reason: str | None
    """Why it ended badly (ffmpeg's error lines, a stall, a refused publisher); ``None`` for
    a clean end."""
    refused: bool = False
    opened: bool = False
    progress_s: float = 0.0
    """Wall time from the first segment to the last: a live source advances in real time,
    a stale or finished playlist hands over what it has at once and then stops."""
    held: int = 0
    """Segments dropped because the run ended before ``hold_s`` of progress."""


class SegmentRun:
    """One ffmpeg segmenting process, consumed by the calling thread.

    Args:
        cmd: The full command (binary first).
        staging: Where ffmpeg writes segments (on the ring's file system).
        on_segment: Called in order with each finished file and its duration; it takes
            ownership of the file.
        stall_s: Kill the run when no segment finished for this long (a source that hangs
            without closing the connection); counted from the start, or from the input
            opening when ``gate`` is set.
        gate: Push ingest: hold segments until ffmpeg logged that the input opened, and
            kill the run if the publisher was refused (FFmpeg only warns and goes on).
        hold_s: Keep segments back until they have kept coming for this long, and drop
            them if the run ends first: a reconnect to a playlist that ended or stopped
            advancing replays media the buffer already has.
    """

    def __init__(self, cmd: list[str], staging: Path, *,
                 on_segment: Callable[[Path, float], None], stall_s: float,
                 gate: bool = False, hold_s: float = 0.0) -> None:  # fmt: skip
        self.cmd, self.staging, self.on_segment = cmd, staging, on_segment
        self.stall_s, self.gate, self.hold_s = stall_s, gate, hold_s
        self._log: deque[str] = deque(maxlen=40)
        self._errors: deque[str] = deque(maxlen=4)
        self._opened = threading.Event()
        self._done = threading.Event()
        self._last = time.monotonic()
        self._reason: str | None = None
        self._refused = False
        self._stopping = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def run(self) -> RunResult:
        """Start ffmpeg and hand over each segment as it finishes, until ffmpeg exits."""
        self._last = time.monotonic()
        with self._lock:
            if self._stopping:
                return RunResult(0, None, None)
            self._proc = proc = popen(self.cmd, tool="ffmpeg")
        readers = [threading.Thread(target=self._read_log, daemon=True, name="ffmpeg-log"),
                   threading.Thread(target=self._watch, daemon=True, name="ffmpeg-watch")]
        for t in readers:
            t.start()
        count, first_at, last_at = 0, 0.0, 0.0
        held: list[tuple[Path, float]] = []
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                parsed = parse_list_line(raw.decode(errors="replace"))
                if parsed is None:
                    continue
                path = self.staging / parsed[0]
                if self.gate and not self._opened.wait(10.0):
                    self._kill("the input never reported open")
                if self._refused or (self.gate and not self._opened.is_set()):
                    path.unlink(missing_ok=True)
                    continue
                self._last = last_at = time.monotonic()
                first_at = first_at or last_at
                held.append((path, parsed[1]))
                if last_at - first_at < self.hold_s:
                    continue
                for seg_path, duration in held:
                    self.on_segment(seg_path, duration)
                    count += 1
                held.clear()
        except BaseException:
            self._kill(None)  # the buffer refused a segment: do not wait on a live ffmpeg
            raise
        finally:
            returncode = proc.wait()
            self._done.set()
            for t in readers:
                t.join(5.0)
            for seg_path, _ in held:  # never shown to be live: not buffered
                seg_path.unlink(missing_ok=True)
        reason = self._reason
        if reason is None and returncode != 0 and not self._stopping:
            reason = " / ".join(self._errors) or tail("\n".join(self._log), 300) or (
                f"ffmpeg exited with status {returncode}")  # fmt: skip
        return RunResult(count, returncode, reason, self._refused, self._opened.is_set(),
                         last_at - first_at, len(held))  # fmt: skip

    def stop(self, grace_s: float) -> None:
        """Ask ffmpeg to finish (SIGINT: it closes the open segment and lists it), and kill
        it if it has not within ``grace_s``."""
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        if not self._done.wait(grace_s):
            self._kill(None)

    def _kill(self, reason: str | None) -> None:
        if reason is not None and self._reason is None:
            self._reason = reason
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    def _read_log(self) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if self.gate and any(m in line for m in REFUSAL_MARKERS):
                # The line names the expected key: it never goes into a reason or a log.
                self._refused = True
                self._kill("a publisher was refused: wrong stream key or application")
                continue
            self._log.append(line)
            if OPENED_MARKER in line:
                self._last = time.monotonic()
                self._opened.set()
            elif "[error]" in line or "[fatal]" in line:
                self._errors.append(error_text(line))

    def _watch(self) -> None:
        while not self._done.wait(0.25):
            if self.gate and not self._opened.is_set():
                continue
            if time.monotonic() - self._last > self.stall_s and not self._stopping:
                self._kill(f"no segment for {self.stall_s:g} s: the source stalled")
                return
