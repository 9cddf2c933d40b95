"""Instagram: Facebook Login, then Reels through the Instagram Graph API.

Meta's official Python SDK (``facebook-business``) targets the Marketing API and has no
Reels publishing helpers, so this speaks the documented Graph API with httpx:

1. ``GET /{ig-user-id}/content_publishing_limit``: an account may publish a limited number
   of posts per 24 hours; a full quota is refused before anything is created.
2. ``POST /{ig-user-id}/media`` with ``media_type=REELS``, ``video_url`` (the clip's
   presigned URL: Instagram pulls the file, clipray uploads nothing) and the caption: a
   container id.
3. ``GET /{container-id}?fields=status_code`` until FINISHED (ERROR: rejected; EXPIRED: not
   published within 24 h). A dropped poll is polled again; the container is never created
   twice, which is what "resuming" means for a pulled file.
4. ``POST /{ig-user-id}/media_publish`` with ``creation_id``, then the permalink via
   ``GET /{media-id}?fields=permalink``.

Login: Facebook's OAuth dialog, the code exchanged for a short-lived user token, that one for
a long-lived token (about 60 days), and the Instagram business account found through the
user's Pages (``/me/accounts`` -> page -> ``instagram_business_account``), kept in
``Tokens.extra["ig_user_id"]``. Facebook has no refresh token: a long-lived token that is
still valid is exchanged for a new one, so ``refresh`` does that and ``needs_refresh`` looks
only at the expiry. The Graph API's errors carry a numeric ``error.code`` (190: token
expired; 4, 17, 32, 613: rate limits, whose retry time is in ``X-Business-Use-Case-Usage``).

    adapter = Adapter(settings.publish.instagram)
    adapter.publish(tokens, ClipUpload(path, size, "video/mp4", meta, media_url=presigned))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from clipray.domain.time import utcnow
from clipray.publish import metadata
from clipray.publish.base import (
    AccountInfo,
    ClipUpload,
    MediaRejected,
    PendingReview,
    PlatformAdapter,
    PlatformRateLimited,
    PlatformUnavailable,
    PostResult,
    PublishError,
    TokenExpired,
    Tokens,
)
from clipray.publish.http import Http, bearer, poll, retry_after_s, retrying

GRAPH_VERSION = "v21.0"
DEFAULTS = {
    "auth_url": f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
    "token_url": f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
    "api_base": f"https://graph.facebook.com/{GRAPH_VERSION}",
}
RATE_CODES = {4, 17, 32, 613}
"""Graph API error codes of the app, user, page and custom rate limits."""
MEDIA_CODES = {352, 2207026, 2207004, 2207005, 2207009, 2207010}
"""Error codes and subcodes that mean Instagram will not take this video (format, size,
aspect ratio, length)."""
PUBLISH_CAP_SUBCODE = 2207042
"""The account reached its publishing limit for the 24 hours."""


class MediaUrlMissing(PublishError):
    """Instagram pulls the clip from a URL; without one there is nothing to give it."""

    status = 422

    def __init__(self) -> None:
        super().__init__("PLATFORM_MEDIA_URL_MISSING",
                         "instagram pulls the video from a URL: the clip has no presigned URL "
                         "(is the object store reachable from the internet?)")


def _usage_wait_s(r: httpx.Response) -> float | None:
    """``estimated_time_to_regain_access`` (minutes) from the business use case header."""
    raw = r.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = max(int(u.get("estimated_time_to_regain_access", 0))
                      for entries in usage.values() for u in entries)
    except (ValueError, TypeError, AttributeError):
        return None
    return minutes * 60.0 if minutes else None


def _classify(r: httpx.Response) -> PublishError | None:
    try:
        err = r.json().get("error") or {}
    except ValueError:
        return None
    code, sub = err.get("code"), err.get("error_subcode")
    message = f"instagram: ({code}/{sub}) {err.get('message', '')}"
    if code == 190 or r.status_code == 401:
        return TokenExpired(message)
    if code in RATE_CODES or sub == PUBLISH_CAP_SUBCODE or r.status_code == 429:
        wait = _usage_wait_s(r) or retry_after_s(r)
        return PlatformRateLimited(message, wait if wait is not None else 3600.0)
    if code in MEDIA_CODES or sub in MEDIA_CODES:
        return MediaRejected(message)
    if code in (1, 2) or r.status_code >= 500:
        return PlatformUnavailable(message)
    return None


class Adapter(PlatformAdapter):
    platform: ClassVar[str] = "instagram"
    defaults: ClassVar[Mapping[str, str]] = DEFAULTS
    uses_pkce: ClassVar[bool] = False
    """A confidential web client: Facebook Login's code flow with the app secret."""
    default_scopes: ClassVar[tuple[str, ...]] = (
        "instagram_basic", "instagram_content_publish", "pages_show_list",
        "pages_read_engagement", "business_management",
    )
    refresh_margin_s: ClassVar[float] = 7 * 86400.0
    """Long-lived tokens last about 60 days; exchange them a week before they lapse."""
    poll_timeout_s: ClassVar[float] = 600.0

    def _http(self) -> Http:
        return Http(self.settings, self.platform, _classify)

    def _client(self) -> dict[str, str]:
        assert self.settings.client_secret is not None  # configured, checked in __init__
        return {"client_id": self.settings.client_id or "",
                "client_secret": self.settings.client_secret.get_secret_value()}

    # --- OAuth -------------------------------------------------------------------------------
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        query = {"client_id": self.settings.client_id, "redirect_uri": redirect_uri,
                 "state": state, "response_type": "code", "scope": ",".join(self.scopes)}
        return f"{self._url('auth_url')}?{urlencode(query)}"

    def _long_lived(self, http: Http, token: str) -> tuple[str, datetime | None]:
        body = http.call("GET", self._url("token_url"), params=self._client() | {
            "grant_type": "fb_exchange_token", "fb_exchange_token": token}).json()
        expires = body.get("expires_in")
        return body["access_token"], (utcnow() + timedelta(seconds=int(expires))
                                      if expires else None)

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        with self._http() as http:
            short = http.call("GET", self._url("token_url"), params=self._client() | {
                "redirect_uri": redirect_uri, "code": code}).json()["access_token"]
            token, expires_at = self._long_lived(http, short)
            ig = self._business_account(http, token)
        return Tokens(access_token=token, expires_at=expires_at, scopes=self.scopes,
                      extra={"ig_user_id": ig["id"], "ig_username": ig.get("username", "")})

    def _business_account(self, http: Http, token: str) -> dict[str, str]:
        pages = http.call("GET", self._api("/me/accounts"), headers=bearer(token), params={
            "fields": "id,name,instagram_business_account{id,username}"}).json()["data"]
        for page in pages:
            if page.get("instagram_business_account"):
                account: dict[str, str] = page["instagram_business_account"]
                return account
        raise PublishError("PLATFORM_ACCOUNT_UNSUITABLE",
                           "instagram: none of this user's Facebook Pages has an Instagram "
                           "professional account linked; link one in the Page's settings",
                           status=422)

    def needs_refresh(self, tokens: Tokens, now: datetime | None = None) -> bool:
        if tokens.expires_at is None:
            return False
        return (tokens.expires_at - (now or utcnow())).total_seconds() < self.refresh_margin_s

    def refresh(self, tokens: Tokens) -> Tokens:
        with self._http() as http:
            token, expires_at = self._long_lived(http, tokens.access_token)
        return Tokens(access_token=token, expires_at=expires_at, scopes=tokens.scopes,
                      extra=tokens.extra)

    def revoke(self, tokens: Tokens) -> bool:
        with self._http() as http:
            body = http.call("DELETE", self._api("/me/permissions"),
                             headers=bearer(tokens.access_token)).json()
        return bool(body.get("success"))

    def account(self, tokens: Tokens) -> AccountInfo:
        with self._http() as http:
            ig_id = tokens.extra.get("ig_user_id") or self._business_account(
                http, tokens.access_token)["id"]
            me = http.call("GET", self._api(f"/{ig_id}"), headers=bearer(tokens.access_token),
                           params={"fields": "id,username"}).json()
        return AccountInfo(platform_account_id=me["id"], name=me.get("username", ""),
                           extra={"ig_user_id": me["id"]})

    # --- posting -----------------------------------------------------------------------------
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        if not clip.media_url:
            raise MediaUrlMissing()
        auth = bearer(tokens.access_token)
        ig = tokens.extra.get("ig_user_id") or self.account(tokens).platform_account_id
        with self._http() as http:
            self._check_quota(http, auth, ig)
            caption = metadata.fit("instagram", clip.metadata).text
            container = http.call("POST", self._api(f"/{ig}/media"), headers=auth, data={
                "media_type": "REELS", "video_url": clip.media_url, "caption": caption,
                "share_to_feed": "true"}).json()["id"]
            state = poll(lambda: http.call("GET", self._api(f"/{container}"), headers=auth,
                                           params={"fields": "status_code,status"}).json(),
                         lambda s: s.get("status_code") in ("FINISHED", "ERROR", "EXPIRED"),
                         timeout_s=self.poll_timeout_s)
            status = state.get("status_code")
            if status == "ERROR":
                raise MediaRejected(f"instagram could not process the reel: "
                                    f"{state.get('status', '')}")
            if status == "EXPIRED":
                raise PlatformUnavailable(f"instagram container {container} expired unpublished")
            if status != "FINISHED":
                raise PendingReview(f"instagram is still processing container {container}")
            media_id = http.call("POST", self._api(f"/{ig}/media_publish"), headers=auth,
                                 data={"creation_id": container}).json()["id"]
            link = retrying(lambda: http.call("GET", self._api(f"/{media_id}"), headers=auth,
                                              params={"fields": "permalink"}).json())
        return PostResult(str(media_id), link.get("permalink"))

    def _check_quota(self, http: Http, auth: dict[str, str], ig: str) -> None:
        usage = retrying(lambda: http.call(
            "GET", self._api(f"/{ig}/content_publishing_limit"), headers=auth,
            params={"fields": "config,quota_usage"}).json())
        for entry in usage.get("data", []):
            config: dict[str, Any] = entry.get("config") or {}
            total = config.get("quota_total")
            if total is not None and int(entry.get("quota_usage", 0)) >= int(total):
                raise PlatformRateLimited(
                    f"instagram: {entry.get('quota_usage')} of {total} posts used in the last "
                    f"{config.get('quota_duration', 86400)} s",
                    float(config.get("quota_duration", 86400)))

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        with self._http() as http:
            body = http.call("GET", self._api(f"/{platform_post_id}/insights"),
                             headers=bearer(tokens.access_token),
                             params={"metric": "views,likes,comments"}).json()
        out: dict[str, int] = {}
        for metric in body.get("data", []):
            values = metric.get("values") or [{}]
            out[metric["name"]] = int(values[0].get("value", 0))
        return out
