"""Webhooks both ways.

Inbound, ``POST /api/webhooks/{platform}`` takes a platform's event (no bearer token: the
signature is the credential). Outbound, a workspace's admins subscribe URLs to events
(``job.review``, ``clip.ready``, ``stream.clip``, ``publication.published``,
``publication.failed``) and read each subscription's delivery log. Every delivery is a
JSON POST signed with the subscription's secret: ``X-Clipray-Signature:
sha256=HMAC-SHA256(secret, "{X-Clipray-Timestamp}." + body)``, with ``X-Clipray-Event``
and ``X-Clipray-Delivery`` (the delivery's id, the same on each retry).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from clipray.serve.deps import Caller, PageNo, PageSize, ServicesDep, client_ip
from clipray.serve.permissions import Action
from clipray.serve.schemas import Page
from clipray.serve.schemas.webhooks import (
    DeliveryOut,
    InboundAccepted,
    SubscribeIn,
    SubscriptionCreated,
    SubscriptionOut,
)
from clipray.services import webhooks
from clipray.storage.orm import WebhookDelivery, WebhookSubscription

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


async def raw_body(request: Request) -> bytes:
    """The body as the platform signed it, byte for byte (parsing first would change it)."""
    return await request.body()


def subscription_out(row: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(id=row.id, url=row.url, events=list(row.events),
                           created_at=row.created_at)  # fmt: skip


def delivery_out(row: WebhookDelivery) -> DeliveryOut:
    pending = row.status.value == "pending"
    return DeliveryOut(
        id=row.id, event=row.event, status=row.status.value, attempts=row.attempt,
        response_code=row.response_code, error=row.error,
        next_attempt_at=row.not_before if pending else None, created_at=row.created_at,
        finished_at=row.finished_at,
    )  # fmt: skip


@router.post("/subscribe", status_code=201)
def subscribe(body: SubscribeIn, who: Caller, svc: ServicesDep) -> SubscriptionCreated:
    """Subscribe ``url`` to ``events``. The answer carries the signing ``secret``, this once.
    The URL must resolve to public addresses only (422 ``URL_ADDRESS_NOT_ALLOWED`` ...)."""
    who.require(Action.MANAGE_WEBHOOKS)
    row = webhooks.subscribe(svc.db, svc.settings, who.workspace_id, who.user.id, body.url,
                             body.events)  # fmt: skip
    return SubscriptionCreated(**subscription_out(row).model_dump(), secret=row.secret)


@router.get("/subscriptions")
def list_subscriptions(who: Caller, svc: ServicesDep, page: PageNo = 1, limit: PageSize = 20
                       ) -> Page[SubscriptionOut]:  # fmt: skip
    """The workspace's subscriptions, newest first (without their secrets)."""
    who.require(Action.MANAGE_WEBHOOKS)
    rows, total = webhooks.subscriptions(svc.db, who.workspace_id, limit, (page - 1) * limit)
    return Page[SubscriptionOut].of([subscription_out(r) for r in rows], total, page, limit)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: str, who: Caller, svc: ServicesDep) -> Response:
    """Delete the subscription; its pending deliveries are dropped with its log."""
    who.require(Action.MANAGE_WEBHOOKS)
    webhooks.unsubscribe(svc.db, who.workspace_id, subscription_id)
    return Response(status_code=204)


@router.get("/subscriptions/{subscription_id}/deliveries")
def list_deliveries(subscription_id: str, who: Caller, svc: ServicesDep, page: PageNo = 1,
                    limit: PageSize = 20) -> Page[DeliveryOut]:  # fmt: skip
    """The subscription's delivery log, newest first: status, attempts, the last response
    code and error, and when a pending one is tried next."""
    who.require(Action.MANAGE_WEBHOOKS)
    rows, total = webhooks.deliveries(svc.db, who.workspace_id, subscription_id, limit,
                                      (page - 1) * limit)  # fmt: skip
    return Page[DeliveryOut].of([delivery_out(r) for r in rows], total, page, limit)


@router.post("/{platform}", status_code=202)
def receive(platform: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
            svc: ServicesDep) -> InboundAccepted:  # fmt: skip
    """An event from a platform (a post published, rejected after review ...), stored for
    the publications service.

    Headers, by platform:

    - TikTok (its own scheme): ``TikTok-Signature: t=<unix seconds>,s=<hex>``, where ``s``
      is HMAC-SHA256 of ``"{t}." + body`` under the webhook secret; the signature serves
      as the nonce.
    - Every other platform (the generic scheme): ``X-Clipray-Signature: sha256=<hex>`` of
      HMAC-SHA256 over ``"{timestamp}.{nonce}." + body``, ``X-Clipray-Timestamp`` (unix
      seconds) and ``X-Clipray-Nonce`` (any token of up to 200 characters, used once).

    The secret is ``CLIPRAY_PUBLISH__<PLATFORM>__WEBHOOK_SECRET`` (unset: 404
    ``WEBHOOK_PLATFORM_NOT_FOUND``). Refusals, each recorded: 401
    ``WEBHOOK_BAD_SIGNATURE``, 401 ``WEBHOOK_STALE`` (a timestamp further than
    ``CLIPRAY_WEBHOOK_TIMESTAMP_WINDOW_S`` from now), 401 ``WEBHOOK_REPLAYED`` (a nonce
    already seen), 429 ``RATE_LIMITED``; a signed body that is not a JSON object is 422
    ``WEBHOOK_BAD_PAYLOAD``.
    """
    row = webhooks.receive(svc.db, svc.settings, platform, request.headers, body,
                           client_ip(request, svc.settings.trusted_proxies))  # fmt: skip
    return InboundAccepted(id=row.id, platform=row.platform, event_type=row.event_type,
                           received_at=row.received_at)  # fmt: skip
