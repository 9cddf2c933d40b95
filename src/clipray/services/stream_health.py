"""How a live stream is doing: the health its worker reports, its clips, and how long its
moments take to become clips.

A stream worker's pipeline measures its own health (``domain.streams.StreamHealth``: the
ring buffer's size, ingest lag, transcript lag) about once a second and :func:`record`
stores it on the monitor while the worker holds its claim. :func:`health` adds what only
the clips tell: the event-to-clip latency (``domain.streams.event_to_clip_s``: from when the
end of a clip's last event arrived to when the clip was available), its p50 and p95 over
the monitor's recent clips. :func:`clips` pages the monitor's clips with their stream
windows. The routes ``GET /api/streams/{id}/health`` and ``.../clips`` call these.

    >>> view = health(db, workspace_id, monitor_id)                 # doctest: +SKIP
    >>> view.latency_p95_s
    31.8
"""

from __future__ import annotations

from dataclasses import dataclass

from clipray.domain.streams import MonitorStatus, StreamHealth, event_to_clip_s, percentile
from clipray.domain.time import utcnow
from clipray.services.access import owned
from clipray.storage import streams as store
from clipray.storage.db import Database
from clipray.storage.orm import GeneratedClip, StreamClip, StreamMonitor
from clipray.storage.stream_clips import StreamClipRepo

__all__ = ["HealthView", "StreamClipView", "clip_latency", "clips", "health", "latency_of",
           "record"]  # fmt: skip


@dataclass(frozen=True)
class HealthView:
    """A monitor's last reported health (None when its worker never reported) and the
    latency of its recent clips (None without a clip that has events)."""

    status: MonitorStatus
    reported: StreamHealth | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_clips: int
    """How many clips the percentiles are taken over."""


@dataclass(frozen=True)
class StreamClipView:
    """A stream clip: its stream window and its generated clip."""

    window: StreamClip
    clip: GeneratedClip


def record(db: Database, monitor_id: str, holder: str, health: StreamHealth) -> bool:
    """Store the worker's ``health`` on its monitor (committed); False when ``holder`` no
    longer holds the monitor (the worker is ending)."""
    with db.session() as s:
        return store.report_health(s, monitor_id, holder, health.as_json(), utcnow())


def latency_of(row: StreamClip) -> float | None:
    """The clip's event-to-clip seconds (``domain.streams.event_to_clip_s``)."""
    return event_to_clip_s(row.events, row.stream_start, row.stream_end, row.received_start,
                           row.received_end, row.available_at)  # fmt: skip


def clip_latency(db: Database, workspace_id: str, generated_clip_id: str) -> float | None:
    """The event-to-clip seconds of one stream clip (None when it is not one, or has no
    events); the stream pipeline observes it into the latency histogram."""
    with db.session() as s:
        row = s.get(StreamClip, generated_clip_id)
        if row is None or row.workspace_id != workspace_id:
            return None
        return latency_of(row)


def health(db: Database, workspace_id: str, monitor_id: str) -> HealthView:
    """The monitor's health: 404 ``STREAM_NOT_FOUND``, 403 when it is another workspace's."""
    with db.session() as s:
        row = owned(s, StreamMonitor, monitor_id, workspace_id, "stream")
        status, reported = row.status, StreamHealth.of(row.health) if row.health else None
        recent = StreamClipRepo(s, workspace_id).recent_of_monitor(monitor_id)
        latencies = [x for r in recent if (x := latency_of(r)) is not None]
    return HealthView(status, reported, _round(percentile(latencies, 50)),
                      _round(percentile(latencies, 95)), len(latencies))  # fmt: skip


def clips(db: Database, workspace_id: str, monitor_id: str, limit: int, offset: int = 0
          ) -> tuple[list[StreamClipView], int]:  # fmt: skip
    """The monitor's clips (not purged), newest first, and how many there are: 404/403 as
    :func:`health`."""
    with db.session() as s:
        owned(s, StreamMonitor, monitor_id, workspace_id, "stream")
        rows, total = StreamClipRepo(s, workspace_id).page_of_monitor(monitor_id, limit, offset)
        s.expunge_all()
    return [StreamClipView(w, g) for w, g in rows], total


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
