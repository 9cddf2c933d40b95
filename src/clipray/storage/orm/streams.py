"""Live streams' control plane: the monitors clients start, and the one lease that says which
stream supervisor runs them (``actors/stream_supervisor.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.ids import new_id
from clipray.domain.streams import MonitorStatus
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum

_NOT_STOPPED = text("stopped_at IS NULL")


class StreamMonitor(Base):
    """One live stream a workspace watches: where its media comes from (a URL it pulls, or
    push ingest on ``push_port`` with a stream key), its settings, the state its worker
    reports, and which supervisor has claimed it (``claimed_by`` until
    ``claim_expires_at``; the supervisor renews the claim while it runs the worker)."""

    __tablename__ = "stream_monitors"
    __table_args__ = (
        # Two live push monitors never share a port (stopped ones give theirs back).
        Index("uq_stream_monitors_live_push_port", "push_port", unique=True,
              sqlite_where=_NOT_STOPPED, postgresql_where=_NOT_STOPPED),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(String(2048))
    """The checked source URL; None for push ingest."""
    push_port: Mapped[int | None] = mapped_column(Integer)
    """Push ingest: the RTMP port the worker listens on (``ingest_url`` names it)."""
    stream_key: Mapped[str | None] = mapped_column(Text)
    """Push ingest: the stream key, Fernet-encrypted (``storage/vault.py``): the worker needs
    the plain key to accept the push, so it cannot be a one-way hash."""
    stream_key_version: Mapped[str | None] = mapped_column(String(16))
    """Which Fernet key encrypted ``stream_key``."""
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``domain.streams.MonitorSettings`` as JSON."""
    status: Mapped[MonitorStatus] = mapped_column(
        str_enum(MonitorStatus, "monitor_status"), default=MonitorStatus.IDLE, index=True
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """The worker's last heartbeat."""
    last_error: Mapped[str | None] = mapped_column(Text)
    clips_generated: Mapped[int] = mapped_column(Integer, default=0)
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The worker's last ``domain.streams.StreamHealth`` (buffer, ingest and transcript lag)
    as JSON; None until a worker reported one."""
    health_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When ``health`` was written."""
    claimed_by: Mapped[str | None] = mapped_column(String(128), index=True)
    """The supervisor instance that runs this monitor's worker."""
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SupervisorLease(Base):
    """The stream supervisor's lease: one row per ``name``; the instance in ``holder``
    renews it each tick (``heartbeat``), and another may take it once ``expires_at`` has
    passed (its predecessor is dead or cut off)."""

    __tablename__ = "supervisor_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    heartbeat: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
