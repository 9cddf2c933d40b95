"""What every adapter does the same way over HTTP: one timeout on every call, the common
error mapping (a dropped connection, a timeout or a 5xx -> ``PlatformUnavailable``; 401 ->
``TokenExpired``; 429 -> ``PlatformRateLimited`` with the platform's retry time), bounded
retries of the idempotent steps (a chunk not acknowledged, a status poll), and polling until
a processing state settles.

The platform-specific refusals in a 4xx body (TikTok's ``error.code``, the Graph API's
``error.code``) are each adapter's own; it passes them through ``classify``.

    with Http(settings, "tiktok") as http:
        r = http.call("POST", url, json=body, headers=auth(tokens))
        retrying(lambda: http.call("PUT", upload_url, content=chunk), http.backoff_s)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from clipray.publish.base import (
    PlatformRateLimited,
    PlatformSettings,
    PlatformUnavailable,
    PublishError,
    TokenExpired,
)

T = TypeVar("T")

Classify = Callable[[httpx.Response], PublishError | None]
"""Maps a platform's error response to a refusal (None: not an error it knows)."""

RETRY_BACKOFF_S = (0.5, 1.0, 2.0)
"""Pauses between the tries of an idempotent step (a chunk, a poll): three more tries after
the first, short, because the publication as a whole is retried with the plan's 60 s backoff
by the service; these only ride out a blip without starting the upload over."""


def retry_after_s(r: httpx.Response, now: float | None = None) -> float | None:
    """The platform's retry time: ``Retry-After`` (seconds or an HTTP date), or X's
    ``x-rate-limit-reset`` (epoch seconds when the window reopens)."""
    now = time.time() if now is None else now
    value = r.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = r.headers.get("x-rate-limit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


class Http:
    """An httpx client with the platform's timeout and the common error mapping."""

    def __init__(self, settings: PlatformSettings, platform: str,
                 classify: Classify | None = None) -> None:
        self.platform = platform
        self.classify = classify
        self.client = httpx.Client(timeout=settings.timeout_s)

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request; returns a 2xx/3xx response or raises the mapped refusal."""
        try:
            r = self.client.request(method, url, **kw)
        except httpx.TransportError as e:  # connect, read, write, timeout, dropped mid-body
            raise PlatformUnavailable(f"{self.platform}: {type(e).__name__}: {e}") from e
        if r.status_code < 400:
            return r
        known = self.classify(r) if self.classify else None
        if known is not None:
            raise known
        text = r.text[:300]
        if r.status_code == 401:
            raise TokenExpired(f"{self.platform} refused the access token: {text}")
        if r.status_code == 429:
            raise PlatformRateLimited(f"{self.platform} rate limit: {text}", retry_after_s(r))
        if r.status_code >= 500:
            raise PlatformUnavailable(f"{self.platform} answered {r.status_code}: {text}",
                                      retry_after_s(r))
        raise PublishError("PLATFORM_REQUEST_REFUSED",
                           f"{self.platform} answered {r.status_code}: {text}",
                           status=502)


def retrying(step: Callable[[], T], backoff_s: tuple[float, ...] = RETRY_BACKOFF_S) -> T:
    """Run an idempotent step, trying again after a dropped connection or a 5xx; any other
    refusal (401, 429, rejected media) goes straight to the caller."""
    for pause in backoff_s:
        try:
            return step()
        except PlatformUnavailable:
            time.sleep(pause)
    return step()


def poll(fetch: Callable[[], T], settled: Callable[[T], bool], *, timeout_s: float,
         first_s: float = 1.0, max_s: float = 15.0, check_after: Callable[[T], float | None]
         = lambda _: None) -> T:
    """Fetch a processing state until ``settled`` (or ``timeout_s`` passes: the last state is
    returned and the caller decides). Waits grow from ``first_s`` to ``max_s``; a platform
    that says when to look again (X's ``check_after_secs``) is believed."""
    deadline = time.monotonic() + timeout_s
    pause = first_s
    while True:
        state = retrying(fetch)
        if settled(state) or time.monotonic() >= deadline:
            return state
        hint = check_after(state)
        wait = hint if hint is not None else pause
        time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
        pause = min(max_s, pause * 1.5)


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}
