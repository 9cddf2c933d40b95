"""The stream pipeline: what a stream worker drives to turn a live stream into clips.

``CLIPRAY_STREAM_PIPELINE`` names :func:`stream_pipeline` by default. The worker actor calls
it with its context (the monitor, its buffer directory, the settings, and callbacks to
report status and count clips) and then calls :meth:`LivePipeline.step` in a loop,
:meth:`~LivePipeline.drain` before a graceful stop and :meth:`~LivePipeline.close` at the end.

It lives in ``services/`` because it is the one use case that combines the stream's media
edge (``streams``: ingest and ring buffer), the pure analysis (``live``), a model (speech
recognition, warm or in-process), the chat reader and storage (``services.stream_clips``);
the worker actor stays a door that only keeps the lifecycle.

One step, at most ``step_wait_s`` of waiting plus the work of what arrived:

* each new segment of the ring (the ingest adds them from its thread): its audio decoded to
  16 kHz mono PCM and fed to the analyzer's energy, its scene cuts (FFmpeg's scene score on
  a thumbnail-sized decode) to ``feed_scene_cuts``, its audio appended to the speech buffer;
* the speech buffer, once it holds ``asr_window_s``, transcribed with word timestamps (the
  warm ASR service with ``CLIPRAY_WARM_MODELS``, else an in-process faster-whisper at beam
  1); words ending in its last ``asr_hold_s`` wait for the next window, which starts there;
* Twitch chat (a ``twitch.tv`` source), mapped from wall time onto the stream clock;
* the windows the analyzer makes due, each assembled (``services.stream_clips.assemble``)
  and counted on the monitor, on one assembler thread beside the analysis: a render takes
  longer than a heartbeat, and the worker beats between steps;
* about once a second (``HEALTH_EVERY_S``), the stream's health (``StreamHealth``: buffer,
  ingest lag, transcript lag) reported through the context and to the metrics.

Every event the analysis detects and every clip stored is also told to the stream's
watchers (``ctx.event``: the feed of ``GET /api/streams/{id}/events``).

    >>> pipeline = stream_pipeline(ctx)   # doctest: +SKIP
    >>> while running: pipeline.step()    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import MonitorSettings, MonitorStatus, StreamHealth, ingest_lag_s
from clipray.domain.time import rfc3339, utcnow
from clipray.live import ClipWindow, Event, LiveAnalyzer, live_config
from clipray.live_chat.twitch import TwitchChatConfig, TwitchChatReader
from clipray.media.ffmpeg import run
from clipray.observability import metrics
from clipray.schemas import Transcript, Word
from clipray.services.stream_clips import StreamTarget, assemble, emitted
from clipray.services.stream_context import WorkerContext
from clipray.services.stream_faces import face_detector
from clipray.services.stream_health import clip_latency
from clipray.storage.db import Database
from clipray.storage.objects import Buckets
from clipray.streams.ingest import Ingest, IngestState, IngestStatus, PushIngest
from clipray.streams.ring import RingBuffer, RingError, Segment

log = logging.getLogger(__name__)

RATE = 16_000
"""Sample rate of the PCM the analysis and Whisper get."""
MAX_SEGMENTS_PER_STEP = 5
"""A worker that fell behind catches up 10 s of stream per step, so a step stays short."""
CLOCK_SLACK_S = 0.25
"""The analysis' clock runs on decoded audio, which may outlast a segment's measured length
by a few AAC frames: a window ending this little past the buffer's end is cut at the end
instead of being refused as not yet received."""
HEALTH_EVERY_S = 1.0
"""How often the health is reported: often enough for a dashboard, one small update a
second for the database."""
SCENE_LINE = re.compile(r"pts_time:\s*([0-9.]+)")

Transcribe = Callable[[list[tuple[np.ndarray, float]]], list[Transcript]]
"""``[(samples, offset_s), ...] -> one Transcript each``, word times offset (stream time)."""


def stream_pipeline(ctx: WorkerContext) -> LivePipeline:
    """The factory ``CLIPRAY_STREAM_PIPELINE`` names: storage and the database from the
    context's settings, then :class:`LivePipeline` (its ingest started)."""
    from clipray.cluster.services import open_database, open_storage

    settings = ctx.settings
    return LivePipeline(ctx, open_database(settings), open_storage(settings)).start()


def analysis_overrides(settings: Settings, options: MonitorSettings) -> dict[str, Any]:
    """``CLIPRAY_STREAM_CLIPS__ANALYSIS`` with the monitor's durations and hourly cap on top."""
    out = {k: dict(v) if isinstance(v, dict) else v
           for k, v in settings.stream_clips.analysis.items()}  # fmt: skip
    window = dict(out.get("window", {}))
    window.update(min_duration=options.min_duration, max_duration=options.max_duration,
                  max_clips_per_hour=options.max_clips_per_hour)  # fmt: skip
    out["window"] = window
    return out


def twitch_channel(url: str | None) -> str | None:
    """The channel of a ``twitch.tv/<channel>`` page; None for any other source."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host != "twitch.tv" and not host.endswith(".twitch.tv"):
        return None
    name = parts.path.strip("/").split("/", 1)[0]
    return name or None


class SegmentDecoder:
    """A segment's audio as PCM and its scene cuts, by FFmpeg."""

    def __init__(self, settings: Settings) -> None:
        self.ffmpeg = settings.ffmpeg_bin
        self.cfg = settings.stream_clips

    def audio(self, path: Path) -> np.ndarray:
        """Mono 16 kHz signed 16-bit PCM; empty when the segment has no audio."""
        proc = run([self.ffmpeg, "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0?",
                    "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"], text=False,
                   timeout=60)  # fmt: skip
        if proc.returncode != 0:
            return np.zeros(0, dtype=np.int16)
        return np.frombuffer(proc.stdout, dtype=np.int16)

    def scene_cuts(self, path: Path) -> list[float]:
        """Times (from the segment's start) of frames whose scene score passes the
        threshold, on a decode ``scene_height`` pixels high."""
        vf = (f"scale=-2:{self.cfg.scene_height},"
              f"select='gt(scene\\,{self.cfg.scene_threshold:g})',showinfo")  # fmt: skip
        proc = run([self.ffmpeg, "-nostdin", "-hide_banner", "-v", "info", "-i", path,
                    "-map", "0:v:0?", "-vf", vf, "-an", "-f", "null", "-"], timeout=60)  # fmt: skip
        if proc.returncode != 0:
            return []
        return [float(m.group(1)) for line in proc.stderr.splitlines()
                if "showinfo" in line and (m := SCENE_LINE.search(line))]  # fmt: skip


def local_transcriber(settings: Settings) -> Transcribe:
    """faster-whisper in this process, greedy (``asr_beam_size``), loaded on first use."""
    from clipray.models.asr import AsrConfig, AsrModel

    cfg = AsrConfig(model=settings.asr_model, beam_size=settings.stream_clips.asr_beam_size,
                    batch_size=1)  # fmt: skip
    model: list[AsrModel] = []

    def transcribe(chunks: list[tuple[np.ndarray, float]]) -> list[Transcript]:
        if not model:
            model.append(AsrModel.load(cfg))
        return model[0].transcribe_batch(chunks)

    return transcribe


def warm_transcriber(settings: Settings) -> Transcribe:
    """The warm ASR service the jobs share (started on first use where it does not run),
    asked for the live beam (``asr_beam_size``) on each call: the jobs keep the service's."""
    from clipray.models.asr import DecodeOptions
    from clipray.pipelines.warm import ASR, ServiceCall
    from clipray.serve.models import ensure_model_services

    call = ServiceCall.of(settings, ASR, "transcribe")
    options = DecodeOptions(beam_size=settings.stream_clips.asr_beam_size)
    ready: list[bool] = []

    def transcribe(chunks: list[tuple[np.ndarray, float]]) -> list[Transcript]:
        if not ready:
            ensure_model_services(settings)
            ready.append(True)
        return list(call(chunks, options))

    return transcribe


class LivePipeline:
    """Ingest, analysis and clip assembly of one stream (see the module's docstring).

    Args:
        transcribe: speech recognition; default: the warm service with
            ``settings.warm_models``, else faster-whisper in this process.
        chat: ``(channel, TwitchChatConfig)`` of the chat to read; default: the channel of
            a ``twitch.tv`` source on Twitch's own server, none for other sources.
    """

    def __init__(self, ctx: WorkerContext, db: Database, buckets: Buckets, *,
                 transcribe: Transcribe | None = None,
                 chat: tuple[str, TwitchChatConfig | None] | None = None) -> None:  # fmt: skip
        self.ctx, self.db, self.buckets = ctx, db, buckets
        settings = self.settings = ctx.settings
        self.cfg = settings.stream_clips
        options = ctx.options
        self.target = StreamTarget(ctx.monitor_id, ctx.workspace_id, options.aspect,
                                   options.caption_style)  # fmt: skip
        ing = settings.stream_ingest
        self.ring = RingBuffer(ctx.buffer_dir, max_seconds=ing.buffer_seconds,
                               max_bytes=ing.buffer_bytes, ffmpeg=settings.ffmpeg_bin,
                               ffprobe=settings.ffprobe_bin)  # fmt: skip
        self.analyzer = LiveAnalyzer(live_config(analysis_overrides(settings, options)),
                                     ctx.monitor_id, options.keywords,
                                     emitted=emitted(db, self.target),
                                     on_event=self._detected)  # fmt: skip
        self.decoder = SegmentDecoder(settings)
        self.transcribe = transcribe or (warm_transcriber(settings) if settings.warm_models
                                         else local_transcriber(settings))  # fmt: skip
        self.detect = face_detector(settings)
        """The face detector a clip's crop follows (warm or in process; None: centred)."""
        self._segments: queue.Queue[Segment] = queue.Queue()
        self._chat: queue.Queue[float] = queue.Queue()
        self.ingest: Ingest | PushIngest
        if ctx.url is None:
            if ctx.push_port is None or ctx.stream_key is None:
                raise CodedError("STREAM_SOURCE_MISSING", "a stream without a URL needs a "
                                 "push port and a stream key")  # fmt: skip
            self.ingest = PushIngest(ctx.push_port, ctx.stream_key, self.ring,
                                     on_status=self._status, on_segment=self._segments.put,
                                     settings=ing, ffmpeg=settings.ffmpeg_bin)  # fmt: skip
        else:
            self.ingest = Ingest(ctx.url, self.ring, on_status=self._status,
                                 on_segment=self._segments.put, settings=ing,
                                 ffmpeg=settings.ffmpeg_bin,
                                 ffprobe=settings.ffprobe_bin)  # fmt: skip
        self.chat_reader: TwitchChatReader | None = None
        channel = twitch_channel(ctx.url)
        self._chat_source = chat or ((channel, None) if channel is not None else None)
        self._speech = np.zeros(0, dtype=np.int16)
        self._speech_t0: float | None = None
        self.words: list[Word] = []
        """Words fed so far (the recent ones): the captions of a clip come from here."""
        self.cuts: list[float] = []
        self.clips: list[str] = []
        """Generated clip ids this pipeline made."""
        self.failures: list[str] = []
        """Why windows could not become clips (logged, the stream goes on)."""
        self._stopped = False
        self._heard_until: float | None = None
        """Stream time where the newest transcribed audio ends."""
        self._anchor: float | None = None
        """Least ``received_at - end_s`` of a segment since the source (re)connected."""
        self._reanchor = False
        self._health_at = -HEALTH_EVERY_S
        self._assembler = ThreadPoolExecutor(1, thread_name_prefix=f"clips-{ctx.monitor_id}")
        """One clip at a time, beside the analysis (a stream's clips are rendered in order)."""
        self._jobs: list[Future[None]] = []

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> LivePipeline:
        self.ingest.start()
        if self._chat_source is not None:
            self._start_chat(*self._chat_source)
        return self

    def _start_chat(self, channel: str, cfg: TwitchChatConfig | None) -> None:
        try:
            reader = self.chat_reader = TwitchChatReader(channel, cfg)
        except CodedError as exc:
            log.warning("stream %s: no chat: %s", self.ctx.monitor_id, exc)
            return
        reader.run(lambda msg: self._chat.put(msg.time.timestamp()),
                   on_error=lambda exc: log.warning("stream %s: chat ended: %s",
                                                    self.ctx.monitor_id, exc))  # fmt: skip

    def step(self) -> None:
        """Take what arrived (waiting at most ``step_wait_s`` for a segment), analyse it and
        assemble the windows that became due."""
        try:
            first = self._segments.get(timeout=self.cfg.step_wait_s)
        except queue.Empty:
            first = None
        batch = [first] if first is not None else []
        while len(batch) < MAX_SEGMENTS_PER_STEP:
            try:
                batch.append(self._segments.get_nowait())
            except queue.Empty:
                break
        for seg in batch:
            self._take(seg)
        if batch:
            self._listen(final=False)
        self._read_chat()
        self._assemble(self.analyzer.ready())
        self._report_health()

    def drain(self) -> None:
        """Land the segment being written, analyse everything received, and assemble every
        window still open (``ready(final=True)``)."""
        self._stop_ingest()
        while True:
            try:
                self._take(self._segments.get_nowait())
            except queue.Empty:
                break
        self._listen(final=True)
        self._read_chat()
        self._assemble(self.analyzer.ready(final=True))
        for job in list(self._jobs):
            job.result()

    def close(self) -> None:
        """Stop FFmpeg and the chat reader; a clip being assembled is finished first."""
        self._stop_ingest()
        if self.chat_reader is not None:
            self.chat_reader.close()
        self._assembler.shutdown(wait=True, cancel_futures=True)

    def _stop_ingest(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.ingest.stop()

    # --- the ingest's reports ----------------------------------------------------------
    def _status(self, status: IngestStatus) -> None:
        if status.state is IngestState.STOPPED:
            return
        reason = status.reason if status.state is not IngestState.ACTIVE else None
        if status.state is IngestState.ACTIVE:  # a new connection: a new clock anchor
            self._reanchor = True
        self.ctx.report(MonitorStatus(status.state.value), reason)

    # --- analysis ----------------------------------------------------------------------
    def _take(self, seg: Segment) -> None:
        path = self.ring.root / "segments" / seg.name
        if not path.is_file():  # evicted before it was read (a worker far behind)
            return
        late = seg.received_at - seg.end_s
        if self._reanchor or self._anchor is None:
            self._anchor, self._reanchor = late, False
        else:
            self._anchor = min(self._anchor, late)
        pcm = self.decoder.audio(path)
        cuts = [seg.start_s + t for t in self.decoder.scene_cuts(path)]
        if len(pcm):
            self.analyzer.feed_audio(seg.start_s, pcm, RATE)
            if self._speech_t0 is None or not len(self._speech):
                self._speech_t0 = seg.start_s
            self._speech = np.concatenate([self._speech, pcm])
        if cuts:
            self.cuts = [c for c in self.cuts if c >= seg.start_s - self._keep_s()] + cuts
            self.analyzer.feed_scene_cuts(cuts)

    def _keep_s(self) -> float:
        return self.analyzer.cfg.retention_s

    def _listen(self, *, final: bool) -> None:
        """Transcribe the speech buffer once it holds a window (or, ``final``, whatever it
        holds); feed the words that no later window can change."""
        window = int(self.cfg.asr_window_s * RATE)
        while self._speech_t0 is not None and (len(self._speech) >= window
                                               or (final and len(self._speech) > RATE // 4)):
            t0, pcm = self._speech_t0, self._speech
            end = t0 + len(pcm) / RATE
            [transcript] = self.transcribe([(pcm.astype(np.float32) / 32768.0, t0)])
            self._heard_until = end
            cut = end if final else end - self.cfg.asr_hold_s
            words = [w for seg in transcript.segments for w in seg.words if w.end <= cut]
            if words:
                self.analyzer.feed_words(words)
                horizon = words[-1].end - self._keep_s()
                self.words = [w for w in self.words if w.end >= horizon] + words
            resume = words[-1].end if words else cut
            if final or resume >= end:
                self._speech, self._speech_t0 = np.zeros(0, dtype=np.int16), None
                return
            self._speech = pcm[round((resume - t0) * RATE):]
            self._speech_t0 = resume
            if len(self._speech) >= len(pcm):  # nothing consumed: wait for more audio
                return

    def _read_chat(self) -> None:
        times: list[float] = []
        while True:
            try:
                times.append(self._chat.get_nowait())
            except queue.Empty:
                break
        segs = self.ring.segments()
        if not times or not segs:
            return
        # The newest segment's end arrived at its received_at: a message sent at wall time
        # t is about (received_at - t) seconds of stream before that end.
        last = segs[-1]
        self.analyzer.feed_chat(sorted(last.end_s - (last.received_at - t) for t in times))

    # --- health ------------------------------------------------------------------------
    def health(self) -> StreamHealth:
        """The stream's health now (``domain.streams.StreamHealth``)."""
        segs = self.ring.segments()
        now = time.time()
        ingest = None
        if segs:
            newest = segs[-1]
            late = newest.received_at - newest.end_s
            anchor = late if self._anchor is None else min(self._anchor, late)
            ingest = round(ingest_lag_s(now, newest.received_at, newest.end_s, anchor), 3)
        clock = self.ring.span()[1]
        heard = None if self._heard_until is None else round(max(0.0, clock - self._heard_until), 3)
        return StreamHealth(measured_at=utcnow(), stream_time_s=round(clock, 3),
                            buffer_seconds=round(sum(s.duration_s for s in segs), 3),
                            buffer_bytes=sum(s.size for s in segs), ingest_lag_s=ingest,
                            transcript_lag_s=heard)  # fmt: skip

    def _report_health(self) -> None:
        if time.monotonic() - self._health_at < HEALTH_EVERY_S:
            return
        self._health_at = time.monotonic()
        h = self.health()
        self.ctx.health(h)
        metrics.stream_health(self.ctx.monitor_id, h.buffer_bytes, h.ingest_lag_s,
                              h.transcript_lag_s)  # fmt: skip

    # --- clips -------------------------------------------------------------------------
    def _assemble(self, windows: Sequence[ClipWindow]) -> None:
        """Queue each window for the assembler thread: a render takes longer than a
        heartbeat, and the worker beats between steps."""
        self._jobs = [j for j in self._jobs if not j.done()]
        for window in windows:
            self._jobs.append(self._assembler.submit(self._clip, window, list(self.words),
                                                     list(self.cuts)))  # fmt: skip

    def _clip(self, window: ClipWindow, words: list[Word], cuts: list[float]) -> None:
        end = self.ring.span()[1]
        if end < window.end <= end + CLOCK_SLACK_S:
            window = replace(window, end=end)
        try:
            clip = assemble(self.settings, self.db, self.buckets, self.target, window,
                            self.ring, words=words, cuts=cuts, detect=self.detect)  # fmt: skip
        except (CodedError, RingError) as exc:  # one lost clip; the stream goes on
            log.warning("stream %s: window %s not clipped: %s: %s", self.ctx.monitor_id,
                        window.key, exc.code, exc.message)  # fmt: skip
            self.failures.append(f"{exc.code}: {exc.message}")
            return
        except Exception as exc:  # a bug must not end the stream, nor be silent
            log.exception("stream %s: window %s not clipped", self.ctx.monitor_id, window.key)
            self.failures.append(f"{type(exc).__name__}: {exc}")
            return
        if clip.created:
            self.clips.append(clip.generated_clip_id)
            self.ctx.clip_made(1)
            self._tell(StreamEventType.CLIP, {
                "id": clip.generated_clip_id, "window_key": window.key,
                "stream_start": clip.stream_start, "stream_end": clip.stream_end,
                "clip_start": round(window.start, 3), "clip_end": round(window.end, 3),
                "score": round(window.score, 4),
                "available_at": rfc3339(clip.available_at or utcnow()),
                "kinds": sorted({e.kind.value for e in window.events}),
            })  # fmt: skip
            metrics.stream_clip(self.ctx.monitor_id, clip_latency(
                self.db, self.ctx.workspace_id, clip.generated_clip_id))  # fmt: skip

    def _detected(self, event: Event) -> None:
        """The analysis saw something: the stream's watchers hear of it now, before any
        clip (which waits for the moment to end and be rendered)."""
        self._tell(StreamEventType.EVENT, event.to_json())

    def _tell(self, kind: StreamEventType, payload: dict[str, Any]) -> None:
        """A message for the watchers; one that cannot be recorded is logged, and the
        stream (and its clips) go on."""
        try:
            self.ctx.event(kind, payload)
        except Exception:
            log.exception("stream %s: a %s message was not recorded", self.ctx.monitor_id,
                          kind.value)  # fmt: skip


__all__ = [
    "LivePipeline",
    "SegmentDecoder",
    "analysis_overrides",
    "stream_pipeline",
    "twitch_channel",
]  # fmt: skip
