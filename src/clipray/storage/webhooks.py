"""Webhook rows: subscriptions of a workspace, their deliveries (a queue claimed with an
attempt number, like exports), inbound events and the nonces already seen.

    >>> repo = SubscriptionRepo(session, workspace_id)                    # doctest: +SKIP
    >>> sub = repo.add(url, ["job.review"], secret, user_id)
    >>> attempt = claim_delivery(session, delivery_id, now)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.domain.webhooks import DeliveryStatus, InboundOutcome
from clipray.storage.claims import take
from clipray.storage.orm import (
    WebhookDelivery,
    WebhookInbound,
    WebhookNonce,
    WebhookSubscription,
)
from clipray.storage.repos import fetch_page


class SubscriptionRepo:
    """A workspace's subscriptions and their delivery logs."""

    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def add(self, url: str, events: Iterable[str], secret: str, user_id: str | None
            ) -> WebhookSubscription:  # fmt: skip
        row = WebhookSubscription(workspace_id=self.workspace_id, url=url, events=list(events),
                                  secret=secret, created_by=user_id)  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return row

    def page(self, limit: int, offset: int) -> tuple[list[WebhookSubscription], int]:
        q = select(WebhookSubscription).where(WebhookSubscription.workspace_id == self.workspace_id)
        return fetch_page(self.s, q, limit, offset, WebhookSubscription.created_at.desc(),
                          WebhookSubscription.id)  # fmt: skip

    def matching(self, event: str) -> list[WebhookSubscription]:
        """The subscriptions that asked for ``event`` (the list is filtered here: a JSON
        array is not searchable alike on SQLite and PostgreSQL, and a workspace has few)."""
        rows = self.s.scalars(select(WebhookSubscription).where(
            WebhookSubscription.workspace_id == self.workspace_id))  # fmt: skip
        return [r for r in rows if event in (r.events or [])]

    def deliveries(self, subscription_id: str, limit: int, offset: int
                   ) -> tuple[list[WebhookDelivery], int]:  # fmt: skip
        q = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        return fetch_page(self.s, q, limit, offset, WebhookDelivery.created_at.desc(),
                          WebhookDelivery.id)  # fmt: skip

    def queue(self, sub: WebhookSubscription, event: str, payload: dict[str, Any],
              now: datetime) -> WebhookDelivery:  # fmt: skip
        row = WebhookDelivery(subscription_id=sub.id, event=event, payload=payload,
                              not_before=now, created_at=now)  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return row


# --- the delivery queue ------------------------------------------------------------------
def due_deliveries(session: Session, now: datetime, limit: int) -> list[str]:
    """Pending deliveries whose ``not_before`` has passed, oldest first."""
    return list(session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING,
               WebhookDelivery.not_before <= now)
        .order_by(WebhookDelivery.not_before, WebhookDelivery.id).limit(limit)
    ))  # fmt: skip


def claim_delivery(session: Session, delivery_id: str, now: datetime) -> int | None:
    """Take a due pending delivery (``running``, attempt + 1); the attempt number the
    claimant records its outcome with, or None when another worker has it or it is not due."""
    return take(session, WebhookDelivery, delivery_id, DeliveryStatus.PENDING,
                DeliveryStatus.RUNNING, now, WebhookDelivery.not_before <= now)  # fmt: skip


def finish_delivery(session: Session, delivery_id: str, attempt: int, **values: Any) -> bool:
    """Record an attempt's outcome if ``attempt`` still holds the delivery."""
    done = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempt == attempt)
        .values(**values).execution_options(synchronize_session=False)
    )  # fmt: skip
    return done.rowcount == 1  # type: ignore[attr-defined]


def requeue_running_deliveries(session: Session) -> int:
    """After a runner restart: deliveries left running are due again (a receiver may see
    one twice; the ``X-Clipray-Delivery`` id lets it tell)."""
    done = session.execute(
        update(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.RUNNING)
        .values(status=DeliveryStatus.PENDING).execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(done.rowcount)  # type: ignore[attr-defined]


# --- inbound -----------------------------------------------------------------------------
def record_inbound(session: Session, platform: str, outcome: InboundOutcome, *,
                   event_type: str | None = None, payload: dict[str, Any] | None = None,
                   error: str | None = None, client_ip: str | None = None,
                   now: datetime) -> WebhookInbound:  # fmt: skip
    row = WebhookInbound(platform=platform, outcome=outcome, event_type=event_type,
                         payload=payload, error=error, client_ip=client_ip,
                         received_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def use_nonce(session: Session, platform: str, nonce: str, expires_at: datetime,
              now: datetime) -> bool:  # fmt: skip
    """Remember ``nonce``; False when it was already used (and has not expired). Expired
    nonces of the platform are dropped first. The insert is the check: two replicas that
    see the same nonce at once cannot both win the primary key."""
    session.execute(delete(WebhookNonce).where(WebhookNonce.platform == platform,
                                               WebhookNonce.expires_at <= now))  # fmt: skip
    try:
        with session.begin_nested():
            session.add(WebhookNonce(platform=platform, nonce=nonce, expires_at=expires_at))
            session.flush()
    except IntegrityError:
        return False
    return True


def inbound_events(session: Session, platform: str | None = None) -> list[WebhookInbound]:
    """Accepted events not consumed yet, oldest first (for the publications service)."""
    q = select(WebhookInbound).where(WebhookInbound.outcome == InboundOutcome.ACCEPTED,
                                     WebhookInbound.consumed_at.is_(None))  # fmt: skip
    if platform is not None:
        q = q.where(WebhookInbound.platform == platform)
    return list(session.scalars(q.order_by(WebhookInbound.received_at, WebhookInbound.id)))
