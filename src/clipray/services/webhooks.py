"""Webhooks both ways, written once: what the routes, the job runner and the steps call.

Outbound: a workspace's admins subscribe a URL to some events (:func:`subscribe`; the
signing secret is returned once). Whatever makes an event happen calls :func:`emit` in its
own transaction, which queues one delivery per matching subscription; the job runner
claims due deliveries and runs :func:`deliver` as Ray work: one signed POST, retried with
exponential backoff after a 5xx, a 408/429, a timeout or a dropped connection, given up
after any other 4xx or the last attempt. Receivers verify with
``domain.webhooks.sign`` (the README spells it out).

Inbound: :func:`receive` checks a platform's request (rate limit, signature, timestamp
window, nonce once), stores an accepted event for the publications service, and records a
refused one with why, in ``webhook_inbound`` and in the installation's audit log.

    >>> with db.session() as s:                                          # doctest: +SKIP
    ...     emit(s, workspace_id, "job.review", {"job_id": job.id})
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from clipray.cluster.services import own_database
from clipray.config import Settings
from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import CodedError, NotFound, RateLimited
from clipray.domain.time import rfc3339, utcnow
from clipray.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryStatus,
    InboundOutcome,
    WebhookEvent,
    WebhookRefused,
    backoff_s,
    check_fresh,
    retryable_status,
    sign,
    verifier,
)
from clipray.pipelines.fetch import UrlRefusedError, check_public_url
from clipray.pipelines.limits import url_policy
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.security import sliding_window_wait
from clipray.services import audit
from clipray.services.access import owned
from clipray.storage.accounts import RateLimitRepo
from clipray.storage.db import Database
from clipray.storage.orm import Clip, WebhookDelivery, WebhookInbound, WebhookSubscription
from clipray.storage.webhooks import (
    SubscriptionRepo,
    claim_delivery,
    due_deliveries,
    finish_delivery,
    record_inbound,
    requeue_running_deliveries,
    use_nonce,
)

USER_AGENT = "clipray-webhooks/1"


# --- subscriptions -------------------------------------------------------------------------
def check_subscriber_url(settings: Settings, url: str) -> str:
    """The normalised URL, or 422 with the URL policy's code (``URL_ADDRESS_NOT_ALLOWED``
    ...): a subscriber is held to the public-address rules of a job's ``source_url``, so
    that a subscription cannot make the server post into its own network."""
    try:
        return check_public_url(url, url_policy(settings).allow_private)
    except UrlRefusedError as exc:
        raise UrlRefusedError(exc.code, exc.message, status=422) from exc  # type: ignore[arg-type]


def subscribe(db: Database, settings: Settings, workspace_id: str, user_id: str | None,
              url: str, events: list[WebhookEvent]) -> WebhookSubscription:  # fmt: skip
    """A new subscription; its ``secret`` is readable on the returned row (show it once)."""
    checked = check_subscriber_url(settings, url)
    names = sorted({WebhookEvent(e).value for e in events})
    with db.session() as s:
        return SubscriptionRepo(s, workspace_id).add(checked, names,
                                                     "whsec_" + secrets.token_urlsafe(32),
                                                     user_id)  # fmt: skip


def subscriptions(db: Database, workspace_id: str, limit: int, offset: int
                  ) -> tuple[list[WebhookSubscription], int]:  # fmt: skip
    with db.session() as s:
        return SubscriptionRepo(s, workspace_id).page(limit, offset)


def unsubscribe(db: Database, workspace_id: str, subscription_id: str) -> None:
    """Delete the subscription and its delivery log (pending deliveries are dropped)."""
    with db.session() as s:
        s.delete(owned(s, WebhookSubscription, subscription_id, workspace_id,
                       "webhook_subscription"))  # fmt: skip


def deliveries(db: Database, workspace_id: str, subscription_id: str, limit: int,
               offset: int) -> tuple[list[WebhookDelivery], int]:  # fmt: skip
    """The subscription's delivery log, newest first."""
    with db.session() as s:
        owned(s, WebhookSubscription, subscription_id, workspace_id, "webhook_subscription")
        return SubscriptionRepo(s, workspace_id).deliveries(subscription_id, limit, offset)


# --- outbound ------------------------------------------------------------------------------
def emit(session: Session, workspace_id: str, event: WebhookEvent | str,
         payload: dict[str, Any]) -> list[str]:  # fmt: skip
    """Queue ``event`` for every subscription of the workspace that asked for it, in the
    caller's transaction (the event and its deliveries commit or vanish together). Returns
    the deliveries' ids."""
    name = WebhookEvent(event).value
    repo = SubscriptionRepo(session, workspace_id)
    now = utcnow()
    return [repo.queue(sub, name, payload, now).id for sub in repo.matching(name)]


def clip_ready(session: Session, clip: Clip) -> None:
    """``clip.ready`` for a clip whose render was just recorded (``render_clips``'
    ``on_ready``), in the same transaction."""
    emit(session, clip.workspace_id, WebhookEvent.CLIP_READY, {
        "clip_id": clip.id, "job_id": clip.job_id, "source_id": clip.source_id,
        "generated_clip_id": clip.generated_clip_id, "title": clip.title,
        "start": clip.start_s, "end": clip.end_s, "score": clip.score,
    })  # fmt: skip


def due(db: Database, limit: int, now: datetime | None = None) -> list[str]:
    """Deliveries the runner may start now."""
    with db.session() as s:
        return due_deliveries(s, now or utcnow(), limit)


def recover(db: Database) -> int:
    """After a runner restart: deliveries its predecessor was running are due again."""
    with db.session() as s:
        return requeue_running_deliveries(s)


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """What a delivery POSTs: the event, its id and time, and the event's data."""
    doc = {"id": delivery.id, "event": delivery.event, "created_at": rfc3339(delivery.created_at),
           "data": delivery.payload}  # fmt: skip
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@own_database
def deliver(settings: Settings, delivery_id: str, now: datetime | None = None,
            db: Database | None = None) -> DeliveryStatus | None:  # fmt: skip
    """One attempt of a delivery (a Ray task the job runner starts; tests call it with
    ``now`` to drive backoff without waiting). Returns the status it left, or None when the
    delivery was not due or another worker holds it."""
    assert db is not None  # given by @own_database
    at = now or utcnow()
    with db.session() as s:
        attempt = claim_delivery(s, delivery_id, at)
        if attempt is None:
            return None
        row = s.get(WebhookDelivery, delivery_id)
        sub = s.get(WebhookSubscription, row.subscription_id) if row else None
        if row is None or sub is None:
            return None
        body, url, secret, event = delivery_body(row), sub.url, sub.secret, row.event
    code, error, refused = _post(settings, url, secret, event, delivery_id, body, at)
    values: dict[str, Any] = {"response_code": code, "error": error, "finished_at": utcnow()}
    if code is not None and 200 <= code < 300:
        status = DeliveryStatus.DELIVERED
    elif not refused and retryable_status(code) and attempt < settings.webhook_delivery_attempts:
        status = DeliveryStatus.PENDING
        values["not_before"] = at + timedelta(
            seconds=backoff_s(attempt, settings.webhook_delivery_base_delay_s)
        )
    else:
        status = DeliveryStatus.FAILED
    with db.session() as s:
        finish_delivery(s, delivery_id, attempt, status=status, **values)
    return status


def _post(settings: Settings, url: str, secret: str, event: str, delivery_id: str,
          body: bytes, at: datetime) -> tuple[int | None, str | None, bool]:  # fmt: skip
    """POST one signed delivery: (status code or None, error or None, whether the URL policy
    refused it). The URL is checked again here: what it resolves to may have changed since
    the subscription was made, and a refused address is not tried again."""
    try:
        check_public_url(url, url_policy(settings).allow_private)
    except UrlRefusedError as exc:
        return None, f"{exc.code}: {exc.message}", True
    ts = int(at.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret.encode(), ts, body),
        TIMESTAMP_HEADER: str(ts),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    try:
        # no redirects: a 3xx could point anywhere, the private network included
        r = httpx.post(url, content=body, headers=headers, follow_redirects=False,
                       timeout=settings.webhook_delivery_timeout_s)  # fmt: skip
    except httpx.TimeoutException as exc:
        return None, f"timeout: {exc}"[:2000], False
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:2000], False
    error = None if r.is_success else f"HTTP {r.status_code}: {r.text[:500]}"
    return r.status_code, error, False


# --- inbound -------------------------------------------------------------------------------
def platform_settings(settings: Settings, platform: str) -> PlatformSettings:
    """The platform's block, or 404 ``WEBHOOK_PLATFORM_NOT_FOUND``: a platform clipray does
    not know, or one without a webhook secret (nothing it sends could be verified)."""
    known = platform in PublishSettings.model_fields
    block = getattr(settings.publish, platform) if known else None
    if not isinstance(block, PlatformSettings) or block.webhook_secret is None:
        raise NotFound("WEBHOOK_PLATFORM_NOT_FOUND",
                       f"no webhooks are configured for platform {platform!r}")  # fmt: skip
    return block


def _rate_limit(db: Database, settings: Settings, platform: str, client_ip: str,
                now: datetime) -> None:  # fmt: skip
    """The login's sliding window, per platform and client address: admitted hits commit
    in their own transaction, refused ones are not counted."""
    key = f"webhook:{platform}:{client_ip}"
    with db.session() as s:
        repo = RateLimitRepo(s)
        limit = settings.rate_limit_webhooks_per_minute
        wait = sliding_window_wait(repo.recent(key, 60, now), limit, 60, now)
        if wait is None:
            repo.admit(key, now)
            return
        refused = RateLimited("RATE_LIMITED", f"too many webhook requests; retry in {wait} s",
                              retry_after=wait)  # fmt: skip
        # A flood is logged once a minute per platform and address, not once per request:
        # the audit log must not become what the flood fills up.
        if repo.take(f"audit:{key}", 1, 60, now) is None:
            _audit_refusal(s, platform, client_ip, refused, {"retry_after_s": wait})
    raise refused


def _audit_refusal(session: Session, platform: str, client_ip: str, exc: CodedError,
                   extra: dict[str, Any] | None = None) -> None:  # fmt: skip
    """An inbound refusal in the installation's audit log (no workspace: nothing says whose
    a refused event would have been), with the platform, the address and why."""
    audit.record(session, Actor(None, client_ip), None, AuditAction.WEBHOOK_REFUSED, "webhook",
                 platform, {"platform": platform, "code": exc.code, "reason": exc.message,
                            **(extra or {})})  # fmt: skip


def receive(db: Database, settings: Settings, platform: str, headers: Mapping[str, str],
            body: bytes, client_ip: str, now: datetime | None = None
            ) -> WebhookInbound:  # fmt: skip
    """Verify and store one inbound event.

    Raises:
        NotFound: ``WEBHOOK_PLATFORM_NOT_FOUND``.
        RateLimited: ``RATE_LIMITED`` with ``Retry-After``.
        WebhookRefused: ``WEBHOOK_BAD_SIGNATURE``, ``WEBHOOK_STALE`` or
            ``WEBHOOK_REPLAYED`` (401), each recorded as a ``webhook_inbound`` row and in
            the installation's audit log (``webhook.refused``; rate limited ones there too,
            once a minute per platform and address).
        CodedError: ``WEBHOOK_BAD_PAYLOAD`` (422) for a signed body that is not a JSON object.
    """
    at = now or utcnow()
    block = platform_settings(settings, platform)
    _rate_limit(db, settings, platform, client_ip, at)
    secret = block.webhook_secret.get_secret_value().encode()  # type: ignore[union-attr]
    lower = {k.lower(): v for k, v in headers.items()}
    window = settings.webhook_timestamp_window_s
    refused: WebhookRefused | None = None
    with db.session() as s:
        try:
            signed = verifier(platform)(lower, body, secret)
            check_fresh(signed.timestamp, at.timestamp(), window)
            payload = _json_object(body)
            expires = datetime.fromtimestamp(signed.timestamp + window, UTC)
            if not use_nonce(s, platform, signed.nonce, max(expires, at), at):
                raise WebhookRefused("WEBHOOK_REPLAYED", "this webhook was already received",
                                     InboundOutcome.REPLAYED)  # fmt: skip
            kind = payload.get("event") or payload.get("type")
            return record_inbound(s, platform, InboundOutcome.ACCEPTED,
                                  event_type=str(kind)[:128] if kind is not None else None,
                                  payload=payload, client_ip=client_ip, now=at)  # fmt: skip
        except WebhookRefused as exc:
            record_inbound(s, platform, exc.outcome, error=f"{exc.code}: {exc.message}",
                           client_ip=client_ip, now=at)  # fmt: skip
            _audit_refusal(s, platform, client_ip, exc)
            refused = exc
    raise refused


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise CodedError("WEBHOOK_BAD_PAYLOAD", "the webhook's body is not a JSON object")
    return doc


__all__ = [
    "check_subscriber_url",
    "clip_ready",
    "deliver",
    "deliveries",
    "delivery_body",
    "due",
    "emit",
    "platform_settings",
    "receive",
    "recover",
    "subscribe",
    "subscriptions",
    "unsubscribe",
]
