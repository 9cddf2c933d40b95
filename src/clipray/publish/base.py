"""The one interface every platform adapter implements, and the refusals they map the
platforms' errors to.

An adapter is stateless apart from its settings: the caller (a service) holds the account's
tokens, decrypts them, refreshes them when :meth:`PlatformAdapter.needs_refresh` says so,
and stores what :meth:`PlatformAdapter.refresh` returns. One publication is one call to
:meth:`PlatformAdapter.publish`, which uploads the clip (resuming an interrupted upload
from where the platform says it stands) and posts it.

    adapter = adapter_for("youtube", settings.publish.youtube)          # registry.py
    url = adapter.consent_url(state, pkce_challenge, redirect_uri)
    tokens = adapter.exchange_code(code, pkce_verifier, redirect_uri)
    account = adapter.account(tokens)
    post = adapter.publish(tokens, ClipUpload(path, size, "video/mp4", meta, presigned))
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from clipray.domain.errors import CodedError
from clipray.domain.time import utcnow

PLATFORMS = ("youtube", "tiktok", "instagram", "x", "linkedin")
"""Platform names as they appear in routes, settings and rows."""


class PlatformSettings(BaseModel):
    """One platform's OAuth client and endpoints (``CLIPRAY_PUBLISH__<PLATFORM>__<FIELD>``).
    Endpoints default to the platform's real ones (each adapter's ``DEFAULTS``); tests point
    them at a local server that implements the platform's protocol."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    client_id: str | None = None
    """The OAuth client id of clipray's app on the platform. Unset: the platform is off."""
    client_secret: SecretStr | None = None
    """The OAuth client secret."""
    auth_url: str | None = None
    """The consent page (OAuth 2.0 authorization endpoint). Unset: the platform's own."""
    token_url: str | None = None
    """The token endpoint (code exchange, refresh). Unset: the platform's own."""
    api_base: str | None = None
    """Base URL of the platform's API (and upload host where it is the same). Unset: the
    platform's own."""
    upload_base: str | None = None
    """Base URL of the upload host where the platform has a separate one. Unset: the
    platform's own."""
    scopes: tuple[str, ...] = ()
    """OAuth scopes to ask for. Empty: the adapter's defaults (what posting needs)."""
    chunk_bytes: int = 8 * 1024 * 1024
    """Upload chunk size; each adapter rounds it to what its platform accepts."""
    timeout_s: float = 120.0
    """Per-call timeout (the publishing policy's 2 minutes)."""
    webhook_secret: SecretStr | None = None
    """The secret the platform signs its webhooks to ``POST /api/webhooks/{platform}`` with
    (TikTok: the app's client secret). Unset: that platform's webhooks are refused."""

    @property
    def configured(self) -> bool:
        return bool(self.client_id) and self.client_secret is not None


class PublishSettings(BaseModel):
    """``CLIPRAY_PUBLISH__<PLATFORM>__...``: one block per platform."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    youtube: PlatformSettings = PlatformSettings()
    """YouTube Data API v3 (resumable uploads, Shorts)."""
    tiktok: PlatformSettings = PlatformSettings()
    """TikTok Content Posting API."""
    instagram: PlatformSettings = PlatformSettings()
    """Instagram Graph API (Reels)."""
    x: PlatformSettings = PlatformSettings()
    """X API v2 (chunked media upload, posts)."""
    linkedin: PlatformSettings = PlatformSettings()
    """LinkedIn Videos and Posts APIs."""

    def of(self, platform: str) -> PlatformSettings:
        if platform not in PLATFORMS:
            raise UnknownPlatform(platform)
        return getattr(self, platform)


# --- values that cross the interface ---------------------------------------------------------
@dataclass(frozen=True)
class Tokens:
    """An account's OAuth tokens, decrypted (they are stored encrypted: never log them)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    """When the access token stops working (UTC); None: the platform did not say."""
    scopes: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)
    """What a platform needs besides the tokens (Instagram's business account id, the
    TikTok ``open_id``, LinkedIn's person URN)."""

    def __repr__(self) -> str:  # tokens never reach a log line or a traceback
        return f"Tokens(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class AccountInfo:
    """Who the tokens belong to on the platform."""

    platform_account_id: str
    name: str
    """The handle or channel name people recognise."""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostMetadata:
    """What the user wrote for the post; each adapter fits it to its platform's limits
    (``publish/metadata.py``)."""

    title: str = ""
    description: str = ""
    hashtags: tuple[str, ...] = ()
    privacy: str | None = None
    """The platform's own visibility value; None: the adapter's safe default (private
    where the platform requires it for unaudited apps)."""


@dataclass(frozen=True)
class ClipUpload:
    """The clip to post: a local file for the protocols that upload bytes, and a presigned
    URL of the same file for the ones that pull it (Instagram)."""

    path: Path
    size: int
    content_type: str
    metadata: PostMetadata
    media_url: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class PostResult:
    platform_post_id: str
    url: str | None


# --- refusals --------------------------------------------------------------------------------
class PublishError(CodedError):
    """A platform refused or failed; ``code`` says how, ``retryable`` whether the same call
    may succeed later (with ``retry_after_s`` where the platform said when)."""

    status = 502

    def __init__(self, code: str, message: str, *, retry_after_s: float | None = None,
                 **kw: Any) -> None:  # fmt: skip
        headers = dict(kw.pop("headers", None) or {})
        if retry_after_s is not None:
            headers.setdefault("Retry-After", str(max(1, round(retry_after_s))))
        super().__init__(code, message, headers=headers, **kw)
        self.retry_after_s = retry_after_s


class TokenExpired(PublishError):
    """401 from the platform: refresh the tokens and try once more; if refreshing fails the
    account needs to be connected again."""

    status = 401

    def __init__(self, message: str = "the platform refused the access token") -> None:
        super().__init__("PLATFORM_TOKEN_EXPIRED", message)


class PlatformRateLimited(PublishError):
    status = 429
    retryable = True

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__("PLATFORM_RATE_LIMITED", message, retry_after_s=retry_after_s)


class MediaRejected(PublishError):
    """The platform will not take this clip (format, length, size, content): not retried."""

    status = 422

    def __init__(self, message: str) -> None:
        super().__init__("PLATFORM_MEDIA_REJECTED", message)


class PendingReview(PublishError):
    """The post is held for the platform's review: not a failure, not posted yet (the
    publication waits and is checked again)."""

    status = 409
    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__("PLATFORM_PENDING_REVIEW", message)


class PlatformUnavailable(PublishError):
    """5xx, a dropped connection or a timeout: retried with backoff."""

    status = 503
    retryable = True

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__("PLATFORM_UNAVAILABLE", message, retry_after_s=retry_after_s)


class PlatformOff(CodedError):
    """The platform has no client credentials configured (or its flag is off)."""

    status = 409

    def __init__(self, platform: str, why: str = "") -> None:
        hint = why or (f"set CLIPRAY_PUBLISH__{platform.upper()}__CLIENT_ID and "
                       f"CLIPRAY_PUBLISH__{platform.upper()}__CLIENT_SECRET")  # fmt: skip
        super().__init__("PLATFORM_OFF", f"publishing to {platform} is off: {hint}")


class UnknownPlatform(CodedError):
    status = 404

    def __init__(self, platform: str) -> None:
        known = ", ".join(PLATFORMS)
        super().__init__("PLATFORM_UNKNOWN", f"unknown platform {platform!r}: one of {known}")


# --- the interface ---------------------------------------------------------------------------
class PlatformAdapter(abc.ABC):
    """One platform. Implementations keep no state between calls but their settings; every
    HTTP call has the settings' timeout and maps the platform's errors to the refusals
    above (401 -> TokenExpired, 429 -> PlatformRateLimited with the platform's retry time,
    5xx or a dropped connection -> PlatformUnavailable, a refused file -> MediaRejected)."""

    platform: ClassVar[str]
    uses_pkce: ClassVar[bool] = True
    """Whether the consent flow sends a PKCE challenge (S256)."""
    default_scopes: ClassVar[tuple[str, ...]] = ()
    refresh_margin_s: ClassVar[float] = 300.0
    """Refresh this long before the access token expires."""
    defaults: ClassVar[Mapping[str, str]] = {}
    """The platform's own endpoints by settings field (``auth_url``, ``token_url``,
    ``api_base``, ``upload_base``): what a field left unset means."""

    def __init__(self, settings: PlatformSettings) -> None:
        if not settings.configured:
            raise PlatformOff(self.platform)
        self.settings = settings

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.settings.scopes or self.default_scopes

    def _url(self, field: str) -> str:
        """The endpoint of settings ``field``, else the platform's own, as given (some
        platforms' OAuth paths end in "/")."""
        url: str = getattr(self.settings, field) or self.defaults[field]
        return url

    def _api(self, path: str) -> str:
        """``path`` (from "/") on the API base."""
        return f"{self._url('api_base').rstrip('/')}{path}"

    # OAuth 2.0 authorization code flow
    @abc.abstractmethod
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        """The platform's consent page for this state (and PKCE S256 challenge)."""

    @abc.abstractmethod
    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        """The tokens for an authorization code."""

    @abc.abstractmethod
    def refresh(self, tokens: Tokens) -> Tokens:
        """New tokens from the refresh token (the platform may rotate the refresh token)."""

    def revoke(self, tokens: Tokens) -> bool:
        """Revoke at the platform where it can; returns whether it did."""
        return False

    def needs_refresh(self, tokens: Tokens, now: datetime | None = None) -> bool:
        if tokens.expires_at is None or tokens.refresh_token is None:
            return False
        return (tokens.expires_at - (now or utcnow())).total_seconds() < self.refresh_margin_s

    @abc.abstractmethod
    def account(self, tokens: Tokens) -> AccountInfo:
        """Who the tokens belong to."""

    # posting
    @abc.abstractmethod
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        """Upload the clip and post it; resumes an interrupted upload where the protocol
        allows, so the platform receives every byte once."""

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        """Views, likes and comments of a post, where the platform reports them."""
        return {}
