"""Stream clips: a clip window of a live stream, cut from its ring buffer, rendered through
the VOD render path and stored as a generated clip of kind ``stream``.

:func:`assemble` is the one flow (the stream pipeline calls it for every window the live
analysis makes due):

1. a window of the monitor that has a clip already returns that clip (the unique
   ``(monitor_id, window_key)`` row decides; nothing is cut or rendered again);
2. the window is cut from the ring by stream copy (:meth:`RingBuffer.window`: whole segments
   around it) and rendered by ``clips.render.render_clip`` as a VOD clip is: the reframe
   path (``clips.reframe.crop_path`` on the window's face tracks, found by the VOD face
   detector on frames sampled from the cut (``services.stream_faces``); centred where none;
   shots bounded by the stream's scene cuts), captions of the window's words, -14 LUFS, at
   the live x264 preset of ``CLIPRAY_STREAM_CLIPS``;
3. the video and its thumbnail go to the app-owned bucket, then one transaction records the
   generated clip, its stream window and the ``stream.clip`` webhook deliveries.

Nothing is half-written: objects are stored before the rows and deleted again when the rows
are not recorded (a refusal, a lost race, a crash of the database); a process killed in
between leaves objects no row owns, which the retention keeper's reconciliation deletes.

    >>> clip = assemble(settings, db, buckets, target, window, ring, words=words)  # doctest: +SKIP
    >>> clip.generated_clip_id, clip.created
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clipray.clips.captions import CaptionConfig, build_ass
from clipray.clips.reframe import ReframeConfig, crop_path
from clipray.clips.render import ASPECTS, RenderSpec, ffmpeg_version, render_clip, thumbnail
from clipray.config import Settings
from clipray.domain.enums import GeneratedKind
from clipray.domain.errors import CodedError
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.domain.webhooks import WebhookEvent
from clipray.live import ClipWindow
from clipray.media.ffmpeg import ffprobe_json
from clipray.schemas import Word
from clipray.services import webhooks
from clipray.services.generation import require_generation
from clipray.services.stream_faces import Detect, tracks_or_none
from clipray.storage.db import Database
from clipray.storage.generated import Generation
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets
from clipray.storage.orm import StreamClip
from clipray.storage.stream_clips import StreamClipRepo, StreamWindow
from clipray.streams.ring import RingBuffer, Segment

log = logging.getLogger(__name__)

VIDEO, THUMBNAIL = "clip.mp4", "thumbnail.jpg"


@dataclass(frozen=True)
class StreamTarget:
    """The monitor a clip is made for, and how its clips look."""

    monitor_id: str
    workspace_id: str
    aspect: str = "9:16"
    caption_style: str = "highlight_word"


@dataclass(frozen=True)
class StreamClipResult:
    """The generated clip of a window."""

    generated_clip_id: str
    storage_key: str
    stream_start: float
    stream_end: float
    created: bool
    """False: the window had its clip already (this call made nothing)."""
    deliveries: tuple[str, ...] = ()
    """The ``stream.clip`` webhook deliveries queued with it."""
    available_at: datetime | None = None
    """When the clip was stored (its row's ``available_at``)."""


def _received(segs: Sequence[Segment]) -> tuple[datetime, datetime]:
    """When the window's first moment arrived (its first segment's landing, less its
    length: a segment lands once its last moment has arrived) and when its last did."""
    first, last = segs[0], segs[-1]
    return (datetime.fromtimestamp(first.received_at - first.duration_s, tz=UTC),
            datetime.fromtimestamp(last.received_at, tz=UTC))  # fmt: skip


def _probe(path: Path, ffprobe: str) -> tuple[int, int, bool]:
    info = ffprobe_json(path, "-show_entries", "stream=codec_type,width,height",
                        ffprobe=ffprobe, timeout=60)  # fmt: skip
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise CodedError("STREAM_WINDOW_NO_VIDEO", f"the window {path.name} holds no video")
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    return int(video["width"]), int(video["height"]), has_audio


def _title(window: ClipWindow) -> str:
    kinds = sorted({e.kind.value for e in window.events})
    minute, second = divmod(int(window.start), 60)
    return f"Live moment at {minute // 60:d}:{minute % 60:02d}:{second:02d} ({', '.join(kinds)})"


def render_window(settings: Settings, target: StreamTarget, window: ClipWindow, ring: RingBuffer,
                  work: Path, words: Sequence[Word] = (), cuts: Sequence[float] = (),
                  detect: Detect | None = None) -> tuple[Path, Path, list[Segment]]:  # fmt: skip
    """Cut ``window`` from ``ring`` and render it in ``work``; the video, its thumbnail and
    the segments it was cut from. With ``detect`` the crop follows the window's faces.

    Raises:
        WindowEvicted, WindowNotReceived, RingError: the buffer cannot serve the window.
        RenderError: FFmpeg failed.
    """
    segs = ring.cover(window.start, window.end)
    base = segs[0].start_s
    cut = ring.window(window.start, window.end, work / "window.mp4")
    width, height, has_audio = _probe(cut, settings.ffprobe_bin)
    start, end = window.start - base, window.end - base
    cfg = settings.stream_clips
    tracks = tracks_or_none(cut, width, height, start, end, detect, settings)
    path = crop_path(width, height, start, end, tracks, [c - base for c in cuts],
                     ReframeConfig(aspect=target.aspect))  # type: ignore[arg-type]
    spec = RenderSpec(
        source_id=target.monitor_id, start=start, end=end, aspect=target.aspect,
        reframe_filter=path.to_ffmpeg_filter(), captions=target.caption_style, crf=cfg.crf,
        preset=cfg.x264_preset, versions={"ffmpeg": ffmpeg_version(settings.ffmpeg_bin),
                                          "asr": settings.asr_model},
    )  # fmt: skip
    ass = None
    if target.caption_style != "none":
        out_w, out_h = ASPECTS[target.aspect]
        local = [Word(w.start - base, w.end - base, w.word, w.probability) for w in words
                 if w.end > window.start and w.start < window.end]  # fmt: skip
        ass = build_ass(local, start, end, out_w, out_h,
                        CaptionConfig(style=target.caption_style))  # type: ignore[arg-type]
    peak = max(window.events, key=lambda e: e.strength, default=None)
    at = (peak.t_start - window.start) if peak is not None else None
    done = render_clip(spec, str(cut), (width, height), has_audio, work / "render", ass,
                       ffmpeg=settings.ffmpeg_bin, encoder=settings.render_encoder)  # fmt: skip
    thumb = thumbnail(settings.ffmpeg_bin, done.video, spec.output_duration, at,
                      work / "render" / THUMBNAIL)  # fmt: skip
    return done.video, thumb, segs


def assemble(settings: Settings, db: Database, buckets: Buckets, target: StreamTarget,
             window: ClipWindow, ring: RingBuffer, *, words: Sequence[Word] = (),
             cuts: Sequence[float] = (), detect: Detect | None = None,
             ) -> StreamClipResult:  # fmt: skip
    """The generated clip of ``window`` of ``target``'s stream: made now, or the one made
    before for the same window key.

    Args:
        words: transcribed words around the window (stream seconds), for its captions.
        cuts: scene cuts around the window (stream seconds), for the reframe path's shots.
        detect: the face detector the crop follows faces with (``stream_faces``); None
            crops centred.

    Raises:
        Unavailable: 503 ``GENERATED_STORAGE_UNAVAILABLE``, no reachable app-owned bucket.
        Conflict: 409 ``GENERATED_CLIP_LIMIT``, the workspace is at its live cap.
        WindowEvicted, WindowNotReceived: the buffer no longer, or not yet, holds it.
        RenderError: FFmpeg failed.
    """
    ws = target.workspace_id
    with db.session() as s:
        repo = StreamClipRepo(s, ws)
        found = repo.by_window(target.monitor_id, window.key)
        if found is not None:
            return _result(found.generated_clip_id, repo.generated(found).storage_key, found,
                           created=False)  # fmt: skip
        require_generation(settings, buckets, s, ws)
    store = buckets.generated.scoped(ws)  # type: ignore[union-attr] (checked above)
    generated_id = new_id()
    keys = {name: object_key(ws, "clips", generated_id, name) for name in (VIDEO, THUMBNAIL)}
    with tempfile.TemporaryDirectory(prefix="clipray-stream-clip-") as tmp:
        video, thumb, segs = render_window(settings, target, window, ring, Path(tmp),
                                           words, cuts, detect)  # fmt: skip
        size = store.put_file(keys[VIDEO], video, content_type="video/mp4").size
        try:
            store.put_file(keys[THUMBNAIL], thumb, content_type="image/jpeg")
        except BaseException:
            store.delete(keys[VIDEO])
            raise
    received_start, received_end = _received(segs)
    placed = StreamWindow(
        target.monitor_id, window.key, segs[0].start_s, segs[-1].end_s, received_start,
        received_end, [{"score": round(window.score, 4)}, *(e.to_json() for e in window.events)],
    )  # fmt: skip
    gen = Generation(window.key, None, keys[VIDEO], size, round(window.duration, 3),
                     _title(window), GeneratedKind.STREAM)  # fmt: skip
    try:
        with db.session() as s:
            repo = StreamClipRepo(s, ws)
            row, created = repo.record(generated_id, gen, placed, utcnow(),
                                       settings.generated_clip_retention_days,
                                       settings.generated_clips_max_live)  # fmt: skip
            deliveries: list[str] = []
            if created:
                deliveries = webhooks.emit(s, ws, WebhookEvent.STREAM_CLIP, {
                    "generated_clip_id": generated_id, "monitor_id": target.monitor_id,
                    "window_key": window.key, "title": gen.title,
                    "stream_start": row.stream_start, "stream_end": row.stream_end,
                    "clip_start": round(window.start, 3), "clip_end": round(window.end, 3),
                    "score": round(window.score, 4), "events": placed.events[1:],
                })  # fmt: skip
            result = _result(row.generated_clip_id, repo.generated(row).storage_key, row,
                             created=created, deliveries=deliveries)  # fmt: skip
    except BaseException:
        for key in keys.values():
            store.delete(key)
        raise
    if not created:  # another worker recorded this window first: ours is not needed
        for key in keys.values():
            store.delete(key)
    return result


def _result(generated_id: str, key: str, row: StreamClip, *, created: bool,
            deliveries: Sequence[str] = ()) -> StreamClipResult:  # fmt: skip
    return StreamClipResult(generated_id, key, row.stream_start, row.stream_end, created,
                            tuple(deliveries), row.available_at)  # fmt: skip


def emitted(db: Database, target: StreamTarget) -> list[tuple[str, float, float]]:
    """``(window_key, start, end)`` of the monitor's clips, on the stream clock: what a
    recreated worker's analysis must never emit again."""
    with db.session() as s:
        return [(r.window_key, r.stream_start, r.stream_end)
                for r in StreamClipRepo(s, target.workspace_id).of_monitor(target.monitor_id)]
