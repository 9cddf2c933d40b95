"""What a live stream told its watchers, kept so that any Serve replica can replay it: one
row per event, clip or status change, numbered per monitor (``seq``: what an event
stream's ``Last-Event-ID`` resumes after). The worker that writes them prunes all but the
newest ``CLIPRAY_STREAM_EVENTS_KEEP`` of its monitor as it goes (``storage/stream_events.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.stream_events import StreamEventType
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class StreamEvent(Base):
    """One message of a monitor's feed (``domain.stream_events.message`` shapes it)."""

    __tablename__ = "stream_events"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("stream_monitors.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """1, 2, 3 ... per monitor, in the order the rows were committed."""
    type: Mapped[StreamEventType] = mapped_column(str_enum(StreamEventType, "stream_event_type"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
