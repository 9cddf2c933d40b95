"""Webhook subscriptions and their delivery logs, as the API shows them (never the secret,
except once in the answer that created it), and what an inbound webhook is answered."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict

from clipray.domain.webhooks import WebhookEvent
from clipray.serve.schemas.common import Body, Timestamp

EventName = Annotated[WebhookEvent, Strict(False)]
"""An event by its name (``"job.review"``); an unknown name is 422."""


class SubscribeIn(Body):
    url: str = Field(min_length=1, max_length=2048)
    """Where deliveries are POSTed: http(s), a public address."""
    events: list[EventName] = Field(min_length=1, max_length=len(WebhookEvent))


class SubscriptionOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: Timestamp


class SubscriptionCreated(SubscriptionOut):
    secret: str
    """Signs every delivery (``X-Clipray-Signature``); shown this once only."""


class DeliveryOut(BaseModel):
    id: str
    event: str
    status: str
    attempts: int
    response_code: int | None
    error: str | None
    next_attempt_at: Timestamp | None
    """When a pending delivery is tried (next); None once delivered or given up."""
    created_at: Timestamp
    finished_at: Timestamp | None


class InboundAccepted(BaseModel):
    id: str
    platform: str
    event_type: str | None
    received_at: Timestamp
