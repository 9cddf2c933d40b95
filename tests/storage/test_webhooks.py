"""Webhook rows on SQLite and PostgreSQL: a nonce is used once until it expires, and a
delivery is claimed by one worker at a time, only once due, its outcome recorded only by
the latest claimant."""

from __future__ import annotations

from datetime import timedelta

from clipray.domain.webhooks import DeliveryStatus
from clipray.storage.orm import WebhookDelivery, utcnow
from clipray.storage.repos import WorkspaceRepo
from clipray.storage.webhooks import (
    SubscriptionRepo,
    claim_delivery,
    due_deliveries,
    finish_delivery,
    requeue_running_deliveries,
    use_nonce,
)


def test_a_nonce_is_used_once_per_platform_until_it_expires(session):
    now = utcnow()
    later = now + timedelta(seconds=300)
    assert use_nonce(session, "x", "n-1", later, now)
    assert not use_nonce(session, "x", "n-1", later, now)
    assert use_nonce(session, "tiktok", "n-1", later, now)  # another platform's nonce
    # once expired it is dropped (a request that old is refused as stale anyway)
    assert use_nonce(session, "x", "n-1", later + timedelta(seconds=300), later)


def test_a_delivery_is_claimed_once_when_due_and_finished_by_its_latest_claimant(session):
    ws, _ = WorkspaceRepo(session).ensure(f"wh-{utcnow().timestamp():.0f}")
    repo = SubscriptionRepo(session, ws.id)
    sub = repo.add("https://hooks.example.com/", ["clip.ready"], "whsec_x", None)
    now = utcnow()
    did = repo.queue(sub, "clip.ready", {"clip_id": "c"}, now).id
    assert did in due_deliveries(session, now, 10)
    assert claim_delivery(session, did, now - timedelta(seconds=1)) is None  # not due yet
    assert claim_delivery(session, did, now) == 1
    assert claim_delivery(session, did, now) is None  # another worker has it
    assert did not in due_deliveries(session, now, 10)
    assert requeue_running_deliveries(session) == 1  # its runner died
    assert claim_delivery(session, did, now) == 2
    assert not finish_delivery(session, did, 1, status=DeliveryStatus.DELIVERED)
    assert finish_delivery(session, did, 2, status=DeliveryStatus.PENDING,
                           not_before=now + timedelta(seconds=10))  # fmt: skip
    session.expire_all()
    row = session.get(WebhookDelivery, did)
    assert (row.status, row.attempt) == (DeliveryStatus.PENDING, 2)
    assert did not in due_deliveries(session, now, 10)
    assert did in due_deliveries(session, now + timedelta(seconds=10), 10)
