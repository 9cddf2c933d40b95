"""Clips cut from live streams: which window of which monitor each generated clip is.

The clip itself is a ``generated_clips`` row (kind ``stream``), so retention, keep and the
generated-clip API apply as to any other; this row adds what only a stream clip has. The
unique ``(monitor_id, window_key)`` is what makes assembly idempotent: a worker recreated on
the same stream that finds the same moment again cannot record a second clip of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base


class StreamClip(Base):
    """A generated clip of kind ``stream``: its window on the stream clock and in UTC."""

    __tablename__ = "stream_clips"
    __table_args__ = (UniqueConstraint("monitor_id", "window_key",
                                       name="uq_stream_clips_monitor_window"),)  # fmt: skip

    generated_clip_id: Mapped[str] = mapped_column(
        ForeignKey("generated_clips.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("stream_monitors.id", ondelete="CASCADE"), index=True
    )
    """The stream monitor the clip came from."""
    window_key: Mapped[str] = mapped_column(String(128))
    """The analysis' stable key of the window (monitor and rounded edges)."""
    stream_start: Mapped[float] = mapped_column(Float)
    """Seconds of the stream (its clock counts media received) where the clip starts..."""
    stream_end: Mapped[float] = mapped_column(Float)
    """...and ends: the segment edges the window was cut on."""
    received_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the clip's first moment arrived (UTC)..."""
    received_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """...and its last."""
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The events that made the window (``live.Event.to_json``), with its score."""
    available_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    """When the clip was stored and could be watched: event end to this is the latency."""
