"""A live stream's recent past on disk: a ring of short MPEG-TS segments.

A stream worker keeps the last few minutes of its stream so that, when the analysis finds a
moment, the clip can be cut from media already received. Memory would not do (ten minutes of
1080p is about a gigabyte) and a single growing file cannot drop its head, so the buffer is a
directory of segments of about two seconds each, as the ingest's segment muxer wrote them,
bounded by seconds and by bytes: adding a segment evicts the oldest while either bound is
exceeded. The newest segment is never evicted, so the present moment is always there.

Every segment starts on a keyframe and was written with ``-reset_timestamps``, so each file
is self-contained and its time on the *stream clock* is the buffer's business: a segment
starts where the one before it ended, and lasts what ffmpeg's segment list (or ffprobe) says,
never an assumed two seconds. The clock counts received media: after a reconnect the next
segment continues it, and ``received_at`` (wall time) tells when each moment arrived.

:meth:`RingBuffer.window` joins the segments covering a range into one MP4 by stream copy
(the concat demuxer, with each file's measured duration as its ``duration`` so the offsets are
exact): its first frame is the first frame of a segment and its frames are exactly theirs. A
range already evicted, or not yet received, is refused with a :class:`RingError`.

The index (``index.json``, replaced atomically after every change) makes the buffer survive
its process: a worker recreated on the same directory reopens it and the clock goes on.

    >>> ring = RingBuffer(Path("/var/clipray/streams/42"), max_seconds=600)  # doctest: +SKIP
    >>> ring.add(Path("incoming/r0001_000007.ts"), duration_s=2.0)            # doctest: +SKIP
    >>> ring.window(120.0, 150.0, Path("/tmp/moment.mp4"))                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import FfmpegError, ffprobe_json, run_ffmpeg
from clipray.streams.settings import IngestSettings

GiB = 1024**3

INDEX = "index.json"
SEGMENTS = "segments"
WINDOWS = "windows"

STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A stream id becomes a directory name: nothing that could climb out of ``streams/``."""

EPS = 1e-6
"""Slack when comparing stream times: they are sums of durations printed with six decimals."""


class RingError(CodedError):
    """A request the buffer cannot serve (a bad range, a segment that is not a file)."""

    code = "STREAM_BUFFER_INVALID"

    def __init__(self, message: str, *, code: str | None = None, **kw: Any) -> None:
        super().__init__(code or type(self).code, message, **kw)


class WindowEvicted(RingError):
    """Part of the range was received but has since left the buffer: it cannot come back."""

    code = "STREAM_WINDOW_EVICTED"
    status = 410


class WindowNotReceived(RingError):
    """Part of the range lies after the newest segment: it may arrive, so a retry can help."""

    code = "STREAM_WINDOW_NOT_RECEIVED"
    status = 409
    retryable = True


class WindowError(FfmpegError):
    """Joining the segments failed (ffmpeg's log says why)."""

    code = "STREAM_WINDOW_FAILED"


@dataclass(frozen=True, slots=True)
class Segment:
    """One file of the ring and its place on the stream clock."""

    seq: int
    """Position in the stream, from 0; never reused, so file names never collide."""
    name: str
    """File name under ``segments/``."""
    start_s: float
    """Stream time of its first frame (seconds of media received before it)."""
    duration_s: float
    """Its length as measured (the segment list's end minus start, or ffprobe's)."""
    size: int
    """Bytes on disk."""
    received_at: float
    """Unix time at which it landed: when its last moment had arrived."""

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def stream_root(home: Path, stream_id: str | int) -> Path:
    """``{home}/streams/{stream_id}``, where a stream's buffer lives.

    Raises:
        RingError: ``STREAM_ID_INVALID``: the id is not 1 to 64 letters, digits, ``-``, ``_``.
    """
    if not STREAM_ID.fullmatch(str(stream_id)):
        raise RingError(f"{stream_id!r} is not a stream id", code="STREAM_ID_INVALID")
    return Path(home) / "streams" / str(stream_id)


def open_ring(home: Path, stream_id: str | int, settings: IngestSettings | None = None,
              ) -> RingBuffer:  # fmt: skip
    """The buffer of stream ``stream_id`` under ``home`` with the bounds of ``settings``
    (``CLIPRAY_STREAM_INGEST__BUFFER_SECONDS`` / ``..._BUFFER_BYTES``), reopened if it
    exists."""
    settings = settings or IngestSettings()
    return RingBuffer(stream_root(home, stream_id), max_seconds=settings.buffer_seconds,
                      max_bytes=settings.buffer_bytes)  # fmt: skip


class RingBuffer:
    """Segments of one stream under ``root``, bounded by ``max_seconds`` and ``max_bytes``.

    Thread-safe: the ingest adds from its thread while the worker cuts windows from another.

    Args:
        root: The stream's directory (``CLIPRAY_HOME/streams/{id}``); created if missing,
            reopened (index and files) if it holds a buffer already.
        max_seconds: Media kept, in seconds of stream.
        max_bytes: Disk kept, in bytes.
    """

    def __init__(self, root: Path, max_seconds: float = 600.0, max_bytes: int = 2 * GiB, *,
                 ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> None:  # fmt: skip
        if not max_seconds > 0 or not max_bytes > 0:
            raise RingError(f"a ring buffer needs positive bounds (max_seconds={max_seconds}, "
                            f"max_bytes={max_bytes})")  # fmt: skip
        self.root = Path(root)
        self.max_seconds = float(max_seconds)
        self.max_bytes = int(max_bytes)
        self.ffmpeg, self.ffprobe = ffmpeg, ffprobe
        self._lock = threading.RLock()
        self._segments: deque[Segment] = deque()
        self._next_seq = 0
        self._end_s = 0.0
        self._open()

    # --- state ---------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Seconds of stream held."""
        with self._lock:
            return sum(s.duration_s for s in self._segments)

    @property
    def bytes(self) -> int:
        """Bytes of segments held."""
        with self._lock:
            return sum(s.size for s in self._segments)

    def span(self) -> tuple[float, float]:
        """``(start_s, end_s)`` of what is held on the stream clock; both equal the clock's
        present when the buffer is empty."""
        with self._lock:
            if not self._segments:
                return (self._end_s, self._end_s)
            return (self._segments[0].start_s, self._segments[-1].end_s)

    def segments(self) -> list[Segment]:
        """The segments held, oldest first (a snapshot)."""
        with self._lock:
            return list(self._segments)

    def __len__(self) -> int:
        with self._lock:
            return len(self._segments)

    # --- writing -------------------------------------------------------------------------
    def add(self, path: Path, *, duration_s: float | None = None,
            received_at: float | None = None) -> Segment:  # fmt: skip
        """Move the finished segment ``path`` into the buffer at the end of the stream clock,
        then evict the oldest segments while a bound is exceeded.

        ``path`` must be on the buffer's file system (the ingest writes under ``root``), so
        the move is a rename. ``duration_s`` is the segment list's figure; without it the
        file is probed (its video stream's duration, else the container's).

        Raises:
            RingError: ``STREAM_SEGMENT_INVALID``: not a non-empty file, or no duration.
        """
        path = Path(path)
        if not path.is_file() or path.stat().st_size == 0:
            raise RingError(f"segment {path} is not a non-empty file",
                            code="STREAM_SEGMENT_INVALID")  # fmt: skip
        if duration_s is None:
            duration_s = self._probe_duration(path)
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise RingError(f"segment {path.name} has no positive duration ({duration_s})",
                            code="STREAM_SEGMENT_INVALID")  # fmt: skip
        with self._lock:
            seq = self._next_seq
            name = f"{seq:08d}.ts"
            size = path.stat().st_size
            shutil.move(path, self.root / SEGMENTS / name)  # a rename on one file system
            seg = Segment(seq, name, self._end_s, float(duration_s), size,
                          time.time() if received_at is None else received_at)  # fmt: skip
            self._segments.append(seg)
            self._next_seq, self._end_s = seq + 1, seg.end_s
            evicted = self._evict()
            # The index is written before evicted files are deleted: a crash in between
            # leaves orphans, which the next open removes, never an entry without its file.
            self._write_index()
            for old in evicted:
                (self.root / SEGMENTS / old.name).unlink(missing_ok=True)
            return seg

    def _evict(self) -> list[Segment]:
        out: list[Segment] = []
        seconds, size = self.seconds, self.bytes
        while len(self._segments) > 1 and (
            seconds > self.max_seconds + EPS or size > self.max_bytes
        ):
            old = self._segments.popleft()
            seconds -= old.duration_s
            size -= old.size
            out.append(old)
        return out

    def clear(self) -> None:
        """Remove the buffer's directory and everything in it (the stream is stopped)."""
        with self._lock:
            self._segments.clear()
            shutil.rmtree(self.root, ignore_errors=True)

    # --- reading -------------------------------------------------------------------------
    def cover(self, start_s: float, end_s: float) -> list[Segment]:
        """The segments whose union covers ``[start_s, end_s)``, oldest first: the window
        starts at the first one's start and ends at the last one's end.

        Raises:
            RingError: ``STREAM_WINDOW_INVALID``: not a finite, non-empty range.
            WindowEvicted: the range starts before the oldest segment held.
            WindowNotReceived: the range ends after the newest segment.
        """
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or not end_s > start_s:
            raise RingError(f"window [{start_s}, {end_s}) is not a range of stream time",
                            code="STREAM_WINDOW_INVALID")  # fmt: skip
        with self._lock:
            first, last = self.span()
            detail = {"start_s": start_s, "end_s": end_s, "span": [first, last]}
            if start_s < first - EPS:
                raise WindowEvicted(
                    f"stream time {start_s:.3f} s has left the buffer (it holds "
                    f"{first:.3f}-{last:.3f} s)", detail=detail)  # fmt: skip
            if end_s > last + EPS:
                raise WindowNotReceived(
                    f"stream time {end_s:.3f} s has not been received yet (the buffer "
                    f"ends at {last:.3f} s)", detail=detail)  # fmt: skip
            return [s for s in self._segments
                    if s.end_s > start_s + EPS and s.start_s < end_s - EPS]  # fmt: skip

    def window(self, start_s: float, end_s: float, out: Path) -> Path:
        """Write the segments covering ``[start_s, end_s)`` to ``out`` as one MP4, by stream
        copy; ``out`` appears whole or not at all. The file starts at a segment boundary
        (:meth:`cover` says which) and holds exactly the segments' frames.

        Raises:
            RingError, WindowEvicted, WindowNotReceived: as :meth:`cover`.
            WindowError: ffmpeg failed.
        """
        out = Path(out)
        work = self.root / WINDOWS / uuid.uuid4().hex
        work.mkdir(parents=True)
        try:
            with self._lock:
                # Hard links pin the files: an eviction while ffmpeg reads them only drops
                # the buffer's names, not the bytes.
                segs = self.cover(start_s, end_s)
                for seg in segs:
                    os.link(self.root / SEGMENTS / seg.name, work / seg.name)
            listing = ["ffconcat version 1.0"]
            for seg in segs:
                listing += [f"file {seg.name}", f"duration {seg.duration_s:.6f}"]
            (work / "list.ffconcat").write_text("\n".join(listing) + "\n")
            part = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                run_ffmpeg(["-f", "concat", "-safe", "0", "-i", work / "list.ffconcat",
                            "-map", "0", "-c", "copy", "-f", "mp4", "-y", part],
                           ffmpeg=self.ffmpeg, what=f"window {start_s:.3f}-{end_s:.3f} s",
                           error=WindowError, timeout=300)  # fmt: skip
                os.replace(part, out)
            finally:
                part.unlink(missing_ok=True)
            return out
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # --- persistence ---------------------------------------------------------------------
    def _probe_duration(self, path: Path) -> float:
        info = ffprobe_json(path, "-show_entries", "stream=codec_type,duration:format=duration",
                            ffprobe=self.ffprobe, timeout=60)  # fmt: skip
        for stream in info.get("streams", []):
            if stream.get("codec_type") == "video" and stream.get("duration"):
                return float(stream["duration"])
        return float(info.get("format", {}).get("duration") or 0.0)

    def _write_index(self) -> None:
        data = {"version": 1, "next_seq": self._next_seq, "end_s": self._end_s,
                "segments": [asdict(s) for s in self._segments]}  # fmt: skip
        tmp = self.root / f".{INDEX}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.root / INDEX)

    def _open(self) -> None:
        (self.root / SEGMENTS).mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.root / WINDOWS, ignore_errors=True)
        index = self.root / INDEX
        if index.is_file():
            try:
                data = json.loads(index.read_text())
                segs = [Segment(**s) for s in data["segments"]]
                self._next_seq, self._end_s = int(data["next_seq"]), float(data["end_s"])
            except (ValueError, KeyError, TypeError) as exc:
                raise RingError(f"the buffer index {index} is unreadable: {exc}",
                                code="STREAM_BUFFER_CORRUPT") from exc  # fmt: skip
            # Keep the newest run of segments whose files are intact: a hole would make
            # the clock lie about what a window holds.
            kept: list[Segment] = []
            for seg in reversed(segs):
                file = self.root / SEGMENTS / seg.name
                if not (file.is_file() and file.stat().st_size == seg.size):
                    break
                if kept and abs(seg.end_s - kept[-1].start_s) > EPS:
                    break
                kept.append(seg)
            self._segments = deque(reversed(kept))
        names = {s.name for s in self._segments}
        for file in (self.root / SEGMENTS).iterdir():
            if file.name not in names:
                file.unlink(missing_ok=True)
        self._write_index()
