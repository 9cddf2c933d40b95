"""Live streams: start a monitor (a URL clipray pulls, or push ingest), list, inspect, pause,
resume and stop it.

Routes parse, call ``services/streams.py`` and format; the stream supervisor actor sees the
change at its next poll (``CLIPRAY_STREAM_SUPERVISOR_POLL_S``) and starts or stops the
monitor's worker.
"""

from __future__ import annotations

from fastapi import APIRouter

from clipray.domain.streams import Control
from clipray.serve.deps import Caller, PageNo, PageSize, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.routes.generated import generated_out
from clipray.serve.schemas import Page
from clipray.serve.schemas.streams import (
    StreamClipOut,
    StreamCreate,
    StreamCreated,
    StreamHealthOut,
    StreamOut,
)
from clipray.services import stream_health, streams
from clipray.storage.orm import StreamMonitor

router = APIRouter(prefix="/api/streams", tags=["streams"])


def stream_out(row: StreamMonitor) -> StreamOut:
    return StreamOut(
        id=row.id, status=row.status.value, url=row.url, push=row.push_port is not None,
        settings=row.settings, last_seen_at=row.last_seen_at, last_error=row.last_error,
        clips_generated=row.clips_generated, created_at=row.created_at,
        updated_at=row.updated_at, stopped_at=row.stopped_at,
    )  # fmt: skip


@router.post("", status_code=201)
def create_stream(body: StreamCreate, who: Caller, svc: ServicesDep) -> StreamCreated:
    """Watch a live stream. ``{"url": "rtmp-push"}`` asks for push ingest: the answer's
    ``ingest_url`` (shown this once) is where OBS pushes. Refusals: 400 ``URL_*`` (the same
    allowlist and public-address rules as jobs), 422 ``STREAM_SETTINGS_INVALID``, 429
    ``STREAM_QUOTA_EXCEEDED`` (the workspace's concurrent streams) or
    ``STREAM_CAPACITY_EXCEEDED`` (the cluster's), with ``Retry-After``."""
    who.require(Action.MANAGE_STREAMS)
    made = streams.create(svc.settings, svc.db, who.workspace_id, who.user.id, body.url,
                          body.settings.model_dump())  # fmt: skip
    return StreamCreated(id=made.monitor.id, status=made.monitor.status.value,
                         ingest_url=made.ingest_url)  # fmt: skip


@router.get("")
def list_streams(who: Caller, svc: ServicesDep, page: PageNo = 1, limit: PageSize = 20
                 ) -> Page[StreamOut]:  # fmt: skip
    """The workspace's stream monitors, newest first (stopped ones included)."""
    who.require(Action.READ_STREAMS)
    rows, total = streams.page(svc.db, who.workspace_id, limit, (page - 1) * limit)
    return Page[StreamOut].of([stream_out(r) for r in rows], total, page, limit)


@router.get("/{stream_id}")
def get_stream(stream_id: str, who: Caller, svc: ServicesDep) -> StreamOut:
    """The monitor: its status, last heartbeat, last error and clips made."""
    who.require(Action.READ_STREAMS)
    return stream_out(streams.get(svc.db, who.workspace_id, stream_id))


@router.delete("/{stream_id}")
def stop_stream(stream_id: str, who: Caller, svc: ServicesDep) -> StreamOut:
    """Stop watching (final): the worker drains and ends, the buffer directory is removed.
    409 ``STREAM_NOT_STOPPABLE`` when it is stopped already."""
    who.require(Action.MANAGE_STREAMS)
    return stream_out(streams.control(svc.settings, svc.db, who.workspace_id, stream_id,
                                      Control.STOP))  # fmt: skip


@router.post("/{stream_id}/pause")
def pause_stream(stream_id: str, who: Caller, svc: ServicesDep) -> StreamOut:
    """Pause: the worker drains and ends; the monitor keeps its place and settings. 409
    ``STREAM_NOT_PAUSABLE`` unless it is idle, connecting or active."""
    who.require(Action.MANAGE_STREAMS)
    return stream_out(streams.control(svc.settings, svc.db, who.workspace_id, stream_id,
                                      Control.PAUSE))  # fmt: skip


@router.post("/{stream_id}/resume")
def resume_stream(stream_id: str, who: Caller, svc: ServicesDep) -> StreamOut:
    """Resume a paused (or failed) monitor: a worker starts again. 409
    ``STREAM_NOT_RESUMABLE`` otherwise."""
    who.require(Action.MANAGE_STREAMS)
    return stream_out(streams.control(svc.settings, svc.db, who.workspace_id, stream_id,
                                      Control.RESUME))  # fmt: skip


def stream_clip_out(view: stream_health.StreamClipView) -> StreamClipOut:
    w, g = view.window, view.clip
    return StreamClipOut(
        **generated_out(g).model_dump(), watch_url=f"/api/generated-clips/{g.id}/watch",
        download_url=f"/api/generated-clips/{g.id}/download", stream_start=w.stream_start,
        stream_end=w.stream_end, received_start=w.received_start, received_end=w.received_end,
        events=w.events, available_at=w.available_at, latency_s=stream_health.latency_of(w),
    )  # fmt: skip


@router.get("/{stream_id}/clips")
def list_stream_clips(stream_id: str, who: Caller, svc: ServicesDep, page: PageNo = 1,
                      limit: PageSize = 20) -> Page[StreamClipOut]:  # fmt: skip
    """The clips the stream made (purged ones left out), newest first: each generated clip
    with its window on the stream clock (``stream_start``/``stream_end``), when those
    moments arrived (``received_start``/``received_end``), the events that made it and
    ``available_at``."""
    who.require(Action.READ_STREAMS)
    rows, total = stream_health.clips(svc.db, who.workspace_id, stream_id, limit,
                                      (page - 1) * limit)  # fmt: skip
    return Page[StreamClipOut].of([stream_clip_out(v) for v in rows], total, page, limit)


@router.get("/{stream_id}/health")
def get_stream_health(stream_id: str, who: Caller, svc: ServicesDep) -> StreamHealthOut:
    """How the stream keeps up: its buffer, ingest and transcript lag as its worker last
    reported them (null before it has), and the event-to-clip latency (p50, p95) of its
    recent clips."""
    who.require(Action.READ_STREAMS)
    view = stream_health.health(svc.db, who.workspace_id, stream_id)
    h = view.reported
    return StreamHealthOut(
        status=view.status.value, measured_at=h and h.measured_at,
        stream_time_s=h and h.stream_time_s, buffer_seconds=h and h.buffer_seconds,
        buffer_bytes=h and h.buffer_bytes, ingest_lag_s=h and h.ingest_lag_s,
        transcript_lag_s=h and h.transcript_lag_s, latency_p50_s=view.latency_p50_s,
        latency_p95_s=view.latency_p95_s, latency_clips=view.latency_clips,
    )  # fmt: skip
