"""Webhooks both ways: subscriptions and their deliveries (outbound), the events platforms
sent us, and the nonces already seen (inbound)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.domain.webhooks import DeliveryStatus, InboundOutcome
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


class WebhookSubscription(Base):
    """A URL that wants to be told about some events of a workspace, and the secret that
    signs what it is sent (stored: clipray signs with it; shown to the subscriber once)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event to one subscription: queued by ``services.webhooks.emit`` in the
    transaction that made the event happen, claimed by the job runner once ``not_before``
    has passed (``attempt`` bumped by each claim, like an export), retried with backoff."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts claimed so far; only the latest claimant may record the outcome."""
    not_before: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    """When it may be tried (next): now, or after a failed attempt's backoff."""
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebhookInbound(Base):
    """One request to ``POST /api/webhooks/{platform}``: an accepted event (for the
    publications service to consume) or a refused one, with why (until an audit log
    records refusals)."""

    __tablename__ = "webhook_inbound"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[InboundOutcome] = mapped_column(str_enum(InboundOutcome, "inbound_outcome"))
    event_type: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The event's JSON (accepted events only: a refused body is not trusted to be JSON)."""
    error: Mapped[str | None] = mapped_column(Text)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class WebhookNonce(Base):
    """A nonce a platform already used; kept until its timestamp leaves the window, after
    which a replay is refused as stale anyway."""

    __tablename__ = "webhook_nonces"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
