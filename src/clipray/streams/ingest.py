"""Feeding a ring buffer from a live source: pulled (:class:`Ingest`) or pushed
(:class:`PushIngest`).

Each runs ffmpeg in a background thread, one process per connection (see
:mod:`clipray.streams.segmenter`), and adds every finished segment to the
:class:`~clipray.streams.ring.RingBuffer`. It reports its state through ``on_status``:

* ``connecting``: a connection is being made (or, for a push, a publisher is awaited);
  ``reason`` says what ended the previous one, ``attempt`` counts failures in a row;
* ``active``: the first segment of the connection landed in the buffer;
* ``error``: ``max_failures`` connections in a row yielded nothing; ``reason`` is the last
  cause (ffmpeg's error lines or a stall). The ingest has stopped; its owner decides.
* ``stopped``: :meth:`stop` was called (or a local file ended).

A dropped source is retried after ``backoff_initial_s``, the wait doubled after each failed
connection up to ``backoff_max_s``. A connection is good (and resets the count) once its
segments have kept coming for :data:`LIVE_PROGRESS` segment lengths: an ended playlist served
again, or one that stopped advancing, hands over old segments at once and then nothing, so
after a reconnect segments are held back until the source has shown it is live, and dropped
if it has not (they would repeat what the buffer has). ``stop()`` drains: ffmpeg
gets SIGINT, closes the open segment and lists it, and that segment lands before ``stop()``
returns.

    ring = open_ring(settings.home_dir, stream_id, settings.stream_ingest)
    ingest = Ingest("https://cdn.example.com/live.m3u8", ring, on_status=report).start()
    ...
    ingest.stop()

A push ingest listens for RTMP (``rtmp://0.0.0.0:PORT/live/KEY``, what OBS's "custom
server" pushes to). FFmpeg's RTMP listener only *warns* when a publisher names another key,
and records the stream anyway, so the run is watched: on that warning it is killed before a
segment is written, reported (``connecting`` with the reason), and the port listens again.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from clipray.domain.errors import CodedError
from clipray.streams.resolve import resolve
from clipray.streams.ring import RingBuffer, Segment
from clipray.streams.segmenter import (
    EncodeOptions,
    Mode,
    RunResult,
    SegmentRun,
    audio_mode,
    choose_video_mode,
    input_args,
    is_local,
    probe_source,
    segment_args,
)
from clipray.streams.settings import IngestSettings

log = logging.getLogger(__name__)

STAGING = "incoming"
"""Where ffmpeg writes segments, under the ring's root (so adding one is a rename)."""

LIVE_PROGRESS = 1.5
"""A pulled connection counts as good (resetting the failure count) once its segments have
kept arriving for this many segment lengths of wall time."""

REFUSAL_PAUSE_S = 0.5
"""Pause after refusing a publisher before listening again: bounds the ffmpeg processes a
client hammering the port with wrong keys can make us start (OBS retries on its own)."""

STREAM_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")
"""A stream key is a path element of the RTMP URL: URL-safe, long enough to be a secret."""


class IngestError(CodedError):
    """An ingest that cannot be set up as asked (a bad stream key or port, a second start)."""

    def __init__(self, code: str, message: str, **kw: Any) -> None:
        super().__init__(code, message, **kw)


class IngestState(StrEnum):
    """The ingest's side of a stream's status (the API's ``status`` uses the same words)."""

    CONNECTING = "connecting"
    ACTIVE = "active"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class IngestStatus:
    """One report to ``on_status``: what the stream's status and ``last_error`` become."""

    state: IngestState
    reason: str | None = None
    """Why the previous connection ended (``connecting``), or the cause of ``error``."""
    attempt: int = 0
    """Failed connections in a row before this one."""
    at: float = field(default_factory=time.time)


class _Runner:
    """The thread, the status and the ffmpeg run that both ingests share."""

    def __init__(self, ring: RingBuffer, *, settings: IngestSettings | None,
                 on_status: Callable[[IngestStatus], None] | None,
                 on_segment: Callable[[Segment], None] | None, ffmpeg: str) -> None:  # fmt: skip
        self.ring = ring
        self.settings = settings or IngestSettings()
        self.on_status, self.on_segment, self.ffmpeg = on_status, on_segment, ffmpeg
        self.staging = ring.root / STAGING
        self.status = IngestStatus(IngestState.CONNECTING)
        self._stop = threading.Event()
        self._run: SegmentRun | None = None
        self._run_no = 0
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start ingesting in a background thread; returns at once."""
        if self._thread is not None:
            raise IngestError("STREAM_INGEST_STARTED", "this ingest was started already",
                              status=409)  # fmt: skip
        shutil.rmtree(self.staging, ignore_errors=True)  # what a dead process left unlisted
        self.staging.mkdir(parents=True)
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"ingest-{self.ring.root.name}")  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> IngestStatus:
        """Stop and drain: the segment being written is closed and added; returns the
        final status once the thread has ended."""
        self._stop.set()
        run = self._run
        if run is not None:
            run.stop(self.settings.stop_grace_s)
        if self._thread is not None:
            self._thread.join(self.settings.stop_grace_s + 10)
        return self.status

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the ingest ended (``error``, ``stopped``) within ``timeout`` seconds."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- for the loops -------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug or a full disk must not end the thread silently
            log.exception("ingest of %s failed", self.ring.root)
            reason = exc.message if isinstance(exc, CodedError) else f"{type(exc).__name__}: {exc}"
            self._emit(IngestState.ERROR, reason)
        else:
            if self.status.state not in (IngestState.ERROR, IngestState.STOPPED):
                self._emit(IngestState.STOPPED)

    def _loop(self) -> None:
        raise NotImplementedError

    def _emit(self, state: IngestState, reason: str | None = None, attempt: int = 0) -> None:
        self.status = status = IngestStatus(state, reason, attempt)
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # the owner's callback failing is no reason to drop the stream
                log.exception("ingest status callback failed")

    def _add(self, path: Path, duration_s: float) -> None:
        seg = self.ring.add(path, duration_s=duration_s)
        if self.status.state is not IngestState.ACTIVE:
            self._emit(IngestState.ACTIVE)
        if self.on_segment is not None:
            try:
                self.on_segment(seg)
            except Exception:  # the segment is buffered; the owner's bug must not drop it
                log.exception("ingest segment callback failed")

    def _segment(self, source_args: list[str], video: Mode, audio: Mode, *,
                 gate: bool = False, hold_s: float = 0.0) -> RunResult:  # fmt: skip
        s = self.settings
        self._run_no += 1
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "level+info",
               *source_args,
               *segment_args(self.staging, self._run_no, segment_s=s.segment_s, video=video,
                             audio=audio, encode=EncodeOptions(s.x264_preset, s.crf,
                                                               s.audio_bitrate))]  # fmt: skip
        self._run = run = SegmentRun(cmd, self.staging, on_segment=self._add,
                                     stall_s=s.stall_timeout_s, gate=gate,
                                     hold_s=hold_s)  # fmt: skip
        if self._stop.is_set():  # stop() may have looked for a run before this one existed
            run.stop(0)
        try:
            return run.run()
        finally:
            self._run = None
            for left in self.staging.glob(f"r{self._run_no:04d}_*"):
                left.unlink(missing_ok=True)


class Ingest(_Runner):
    """Pull ``source`` (a media URL, a platform page, or a local file for tests) into ``ring``.

    Args:
        source: What to read; resolved by :func:`~clipray.streams.resolve.resolve` at each
            connection (platform URLs expire).
        ring: The buffer segments go to.
        segment_s: Overrides ``settings.segment_s``.
        on_status: Called from the ingest's thread with each :class:`IngestStatus`.
        on_segment: Called with each segment once it is in the buffer.
    """

    def __init__(self, source: str, ring: RingBuffer, *, segment_s: float | None = None,
                 on_status: Callable[[IngestStatus], None] | None = None,
                 on_segment: Callable[[Segment], None] | None = None,
                 settings: IngestSettings | None = None, ffmpeg: str = "ffmpeg",
                 ffprobe: str = "ffprobe") -> None:  # fmt: skip
        settings = settings or IngestSettings()
        if segment_s is not None:
            settings = settings.model_copy(update={"segment_s": segment_s})
        super().__init__(ring, settings=settings, on_status=on_status, on_segment=on_segment,
                         ffmpeg=ffmpeg)  # fmt: skip
        self.source, self.ffprobe = source, ffprobe
        self.modes: tuple[Mode, Mode] | None = None
        """``(video, audio)`` as chosen at the first connection that could be probed."""

    def _choose(self, url: str) -> tuple[Mode, Mode]:
        s = self.settings
        if s.video != "auto":
            return (s.video, "transcode" if s.video == "transcode" else "copy")
        probe = probe_source(url, seconds=max(s.probe_s, 2 * s.segment_s + 1),
                             timeout=s.probe_s + 2 * s.rw_timeout_s, rw_timeout_s=s.rw_timeout_s,
                             ffprobe=self.ffprobe)  # fmt: skip
        video = choose_video_mode(probe, segment_s=s.segment_s, max_copy_gop_s=s.max_copy_gop_s)
        log.info("ingest %s: %s (codec %s, longest GOP %s s), audio %s", self.ring.root.name,
                 video, probe.video_codec, probe.max_gop_s, audio_mode(probe))  # fmt: skip
        return (video, audio_mode(probe))

    def _loop(self) -> None:
        s = self.settings
        failures, delay, reason, url = 0, s.backoff_initial_s, None, self.source
        connected = False
        while not self._stop.is_set():
            self._emit(IngestState.CONNECTING, reason, failures)
            try:
                url = resolve(self.source)
                if self.modes is None:
                    self.modes = self._choose(url)
                # A reconnect must show it is live before its media enters the buffer.
                hold = LIVE_PROGRESS * s.segment_s if connected and not is_local(url) else 0.0
                result = self._segment(input_args(url, rw_timeout_s=s.rw_timeout_s),
                                       *self.modes, hold_s=hold)  # fmt: skip
                connected = connected or result.segments > 0
            except CodedError as exc:  # unresolvable, unreadable, ffmpeg missing
                result = RunResult(0, None, exc.message)
            if self._stop.is_set():
                return
            reason = result.reason or "the source ended"
            if result.segments and is_local(url) and result.returncode == 0:
                self._emit(IngestState.STOPPED, "the file ended")
                return
            if result.progress_s >= LIVE_PROGRESS * s.segment_s:
                failures, delay = 0, s.backoff_initial_s
            else:
                # Segments that all came at once (a playlist that stopped advancing, or an
                # ended one replayed) do not make a connection good: it counts as failed.
                failures += 1
                if result.segments or result.held:
                    reason += (f"; it gave {result.segments + result.held} segment(s) at once "
                               "and did not advance")  # fmt: skip
            if failures >= s.max_failures:
                self._emit(IngestState.ERROR,
                           f"{failures} connections failed in a row; the last: {reason}",
                           failures)  # fmt: skip
                return
            if self._stop.wait(delay):
                return
            if failures:
                delay = min(delay * 2, s.backoff_max_s)


class PushIngest(_Runner):
    """Listen for an RTMP publisher on ``port`` that names ``stream_key``, into ``ring``.

    ``listen_url`` is what ffmpeg binds; the URL a streamer pastes into OBS names this
    machine's public address instead of ``host`` (the API builds it).
    """

    def __init__(self, port: int, stream_key: str, ring: RingBuffer, *,
                 host: str = "0.0.0.0",  # noqa: S104 (OBS pushes from another machine)
                 app: str = "live", on_status: Callable[[IngestStatus], None] | None = None,
                 on_segment: Callable[[Segment], None] | None = None,
                 settings: IngestSettings | None = None,
                 ffmpeg: str = "ffmpeg") -> None:  # fmt: skip
        if not STREAM_KEY.fullmatch(stream_key):
            raise IngestError("STREAM_KEY_INVALID", "a stream key is 8 to 128 letters, "
                              "digits, '-' or '_'")  # fmt: skip
        if not 0 < port < 65536:
            raise IngestError("STREAM_PORT_INVALID", f"{port} is not a TCP port")
        super().__init__(ring, settings=settings, on_status=on_status, on_segment=on_segment,
                         ffmpeg=ffmpeg)  # fmt: skip
        self.port, self.host, self.app = port, host, app
        self._key = stream_key
        self.refusals = 0
        """Publishers refused so far (a wrong key or application)."""

    @property
    def listen_url(self) -> str:
        return f"rtmp://{self.host}:{self.port}/{self.app}/{self._key}"

    def _loop(self) -> None:
        s = self.settings
        video: Mode = s.push_video
        audio: Mode = "copy" if video == "copy" else "transcode"
        failures, delay, reason = 0, s.backoff_initial_s, None
        while not self._stop.is_set():
            self._emit(IngestState.CONNECTING, reason or "waiting for a publisher", failures)
            result = self._segment(
                input_args(self.listen_url, rw_timeout_s=s.rw_timeout_s, listen=True),
                video, audio, gate=True)  # fmt: skip
            if self._stop.is_set():
                return
            if result.refused:  # someone else's failure: never counted against the stream
                self.refusals += 1
                reason = result.reason
                if self._stop.wait(REFUSAL_PAUSE_S):
                    return
                continue
            if result.opened:
                failures, delay = 0, s.backoff_initial_s
                reason = result.reason or "the publisher disconnected"
                continue
            failures += 1  # could not even listen (the port is taken, ...)
            reason = result.reason or "ffmpeg could not listen"
            if failures >= s.max_failures:
                self._emit(IngestState.ERROR,
                           f"{failures} attempts to listen failed in a row; the last: {reason}",
                           failures)  # fmt: skip
                return
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, s.backoff_max_s)
