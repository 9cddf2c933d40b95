"""Webhooks' vocabulary and the pure rules behind them: event names, signing and verifying,
which failed delivery is worth retrying and when.

Outbound, clipray signs each delivery like this (receivers verify with the same lines)::

    body = request.body                               # the raw bytes, before parsing
    ts = request.headers["X-Clipray-Timestamp"]      # unix seconds
    expected = "sha256=" + hmac.new(secret, f"{ts}.".encode() + body, "sha256").hexdigest()
    hmac.compare_digest(expected, request.headers["X-Clipray-Signature"])

Inbound, a platform signs what it sends with its webhook secret; each platform's scheme is
one verifier in :data:`VERIFIERS` (TikTok's own ``TikTok-Signature: t=...,s=...``, and the
generic ``X-Clipray-*`` scheme for platforms without one).

    >>> sign(b"k", 1700000000, b"{}")
    'sha256=...'                                          # doctest: +SKIP
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from clipray.domain.errors import CodedError


class WebhookEvent(enum.StrEnum):
    """What a subscriber can be told about."""

    JOB_REVIEW = "job.review"
    """A job finished rendering and waits for review."""
    CLIP_READY = "clip.ready"
    """A rendered clip is on the app-owned bucket."""
    STREAM_CLIP = "stream.clip"
    """A live stream produced a clip."""
    PUBLICATION_PUBLISHED = "publication.published"
    """A publication went live on its platform."""
    PUBLICATION_FAILED = "publication.failed"
    """A publication failed for good (or the platform rejected it after review)."""


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its ``not_before``; claimed by the job runner then."""
    RUNNING = "running"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Given up: a 4xx that retrying cannot fix, or the attempts ran out."""


class InboundOutcome(enum.StrEnum):
    """What became of a request to ``POST /api/webhooks/{platform}`` (one row each)."""

    ACCEPTED = "accepted"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    REPLAYED = "replayed"


SIGNATURE_HEADER = "X-Clipray-Signature"
TIMESTAMP_HEADER = "X-Clipray-Timestamp"
NONCE_HEADER = "X-Clipray-Nonce"
EVENT_HEADER = "X-Clipray-Event"
DELIVERY_HEADER = "X-Clipray-Delivery"


class WebhookRefused(CodedError):
    """An inbound webhook that is not verifiably fresh from the platform (401). ``outcome``
    is what the refusal is recorded as."""

    status = 401

    def __init__(self, code: str, message: str, outcome: InboundOutcome) -> None:
        super().__init__(code, message)
        self.outcome = outcome


def sign(secret: bytes, timestamp: int, body: bytes, nonce: str | None = None) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``"{timestamp}." [+ "{nonce}."] + body``)."""
    prefix = f"{timestamp}." + (f"{nonce}." if nonce is not None else "")
    return "sha256=" + hmac.new(secret, prefix.encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Signed:
    """What a verifier read off a request whose signature matched."""

    timestamp: int
    nonce: str
    """Seen only once per platform; where a platform sends none, its signature (which
    covers the timestamp, so a replay carries the same one)."""


Verifier = Callable[[Mapping[str, str], bytes, bytes], Signed]
"""``(headers with lower-case names, raw body, secret) -> Signed`` or :class:`WebhookRefused`."""


def _bad(message: str) -> WebhookRefused:
    return WebhookRefused("WEBHOOK_BAD_SIGNATURE", message, InboundOutcome.BAD_SIGNATURE)


def _timestamp(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit():
        raise _bad("the webhook's timestamp is missing or not unix seconds")
    return int(raw.strip())


def verify_generic(headers: Mapping[str, str], body: bytes, secret: bytes) -> Signed:
    """``X-Clipray-Signature: sha256=<hex>`` over ``"{timestamp}.{nonce}." + body``, with
    ``X-Clipray-Timestamp`` (unix seconds) and ``X-Clipray-Nonce`` (any token, once)."""
    ts = _timestamp(headers.get(TIMESTAMP_HEADER.lower()))
    nonce = (headers.get(NONCE_HEADER.lower()) or "").strip()
    if not nonce or len(nonce) > 200:
        raise _bad(f"{NONCE_HEADER} is missing or longer than 200 characters")
    given = headers.get(SIGNATURE_HEADER.lower()) or ""
    if not hmac.compare_digest(sign(secret, ts, body, nonce).encode(), given.strip().encode()):
        raise _bad("the webhook's signature does not match its body")
    return Signed(ts, nonce)


def verify_tiktok(headers: Mapping[str, str], body: bytes, secret: bytes) -> Signed:
    """TikTok's documented scheme: ``TikTok-Signature: t=<unix s>,s=<hex>`` where ``s`` is
    HMAC-SHA256(client secret, ``"{t}." + body``). TikTok sends no nonce: the signature is
    the nonce (a replayed request carries the same ``t`` and ``s``)."""
    parts: dict[str, str] = {}
    for item in (headers.get("tiktok-signature") or "").split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, value)
    ts = _timestamp(parts.get("t"))
    given = parts.get("s", "")
    if not hmac.compare_digest(sign(secret, ts, body).encode(), f"sha256={given}".encode()):
        raise _bad("the TikTok-Signature does not match the body")
    return Signed(ts, given)


VERIFIERS: Mapping[str, Verifier] = {"tiktok": verify_tiktok}
"""Platforms with a scheme of their own; every other platform uses :func:`verify_generic`."""


def verifier(platform: str) -> Verifier:
    return VERIFIERS.get(platform, verify_generic)


def check_fresh(timestamp: int, now: float, window_s: float) -> None:
    """Refuse a timestamp more than ``window_s`` from ``now`` (either way: a clock ahead
    of ours is as suspicious as one behind)."""
    if abs(now - timestamp) > window_s:
        raise WebhookRefused("WEBHOOK_STALE",
                             f"the webhook's timestamp is over {window_s:g} s from now",
                             InboundOutcome.STALE)  # fmt: skip


def retryable_status(status: int | None) -> bool:
    """Whether a delivery that got HTTP ``status`` (None: a timeout or a dropped connection)
    may succeed later: 5xx, 408 and 429 may; any other 4xx will not, whatever we wait."""
    return status is None or status >= 500 or status in (408, 429)


def backoff_s(attempt: int, base_s: float, cap_s: float = 3600.0) -> float:
    """Delay after failed attempt ``attempt`` (1-based): base, 2 x base, 4 x base, ... capped."""
    return float(min(cap_s, base_s * 2 ** (attempt - 1)))


__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VERIFIERS",
    "DeliveryStatus",
    "InboundOutcome",
    "Signed",
    "WebhookEvent",
    "WebhookRefused",
    "backoff_s",
    "check_fresh",
    "retryable_status",
    "sign",
    "verifier",
    "verify_generic",
    "verify_tiktok",
]
