"""X: OAuth 2.0 with PKCE, the v2 chunked media upload, then the post.

X's documented Python client (``xdk``) is young and its media helpers have moved twice
within a year, so this speaks the documented HTTP API with httpx. The media upload follows
the current v2 API reference (docs.x.com "Media upload": the dedicated endpoints that
replaced ``POST /2/media/upload`` with ``command=INIT|APPEND|FINALIZE``, which X still shows
in its quickstart):

1. ``POST /2/media/upload/initialize`` (JSON ``media_type``, ``total_bytes``,
   ``media_category`` amplify_video): the media id.
2. ``POST /2/media/upload/{id}/append`` per segment (multipart ``media`` + ``segment_index``
   0..999, each at most 5 MB; 4 MiB here, X's own sample size). X keeps segments by index,
   so a segment whose answer did not come is simply appended again: that is the resume.
3. ``POST /2/media/upload/{id}/finalize``; if it answers ``processing_info``,
   ``GET /2/media/upload?command=STATUS&media_id=`` after ``check_after_secs`` until
   ``succeeded`` or ``failed``.
4. ``POST /2/tweets`` with ``media.media_ids``.

A 429 carries ``x-rate-limit-reset`` (epoch seconds): the retry time.

    adapter = Adapter(settings.publish.x)
    post = adapter.publish(tokens, clip)   # PostResult("1880...", "https://x.com/i/web/status/1880...")
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
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
    PostResult,
    PublishError,
    TokenExpired,
    Tokens,
)
from clipray.publish.http import Http, bearer, poll, retrying

DEFAULTS = {
    "auth_url": "https://x.com/i/oauth2/authorize",
    "token_url": "https://api.x.com/2/oauth2/token",
    "api_base": "https://api.x.com",
}
MAX_SEGMENT = 4 * 1024 * 1024
"""X takes segments of at most 5 MB; 4 MiB leaves room and is what X's sample uses."""
MAX_SEGMENTS = 1000
"""``segment_index`` runs 0..999."""


def segment_plan(size: int, wanted: int) -> tuple[int, int]:
    """``(segment_size, count)`` for a file of ``size`` bytes."""
    seg = max(1, min(wanted, MAX_SEGMENT))
    count = max(1, -(-size // seg))
    if count > MAX_SEGMENTS:
        raise MediaRejected(f"x: {size} bytes need more than {MAX_SEGMENTS} segments")
    return seg, count


def _classify(r: httpx.Response) -> PublishError | None:
    if r.request.url.path.endswith("/oauth2/token") and r.status_code in (400, 401):
        return TokenExpired(f"x token endpoint: {r.text[:200]}")
    return None


class Adapter(PlatformAdapter):
    platform: ClassVar[str] = "x"
    defaults: ClassVar[Mapping[str, str]] = DEFAULTS
    default_scopes: ClassVar[tuple[str, ...]] = (
        "tweet.read", "tweet.write", "users.read", "offline.access", "media.write",
    )
    """``POST /2/tweets`` needs tweet.read and users.read besides tweet.write; offline.access
    gives a refresh token; media.write the v2 media upload."""
    poll_timeout_s: ClassVar[float] = 600.0

    def _upload(self, path: str) -> str:
        base = (self.settings.upload_base or self._url("api_base")).rstrip("/")
        return f"{base}{path}"

    def _http(self) -> Http:
        return Http(self.settings, self.platform, _classify)

    def _basic(self) -> httpx.BasicAuth:
        assert self.settings.client_secret is not None  # configured, checked in __init__
        return httpx.BasicAuth(self.settings.client_id or "",
                               self.settings.client_secret.get_secret_value())

    # --- OAuth -------------------------------------------------------------------------------
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        query = {"response_type": "code", "client_id": self.settings.client_id,
                 "redirect_uri": redirect_uri, "scope": " ".join(self.scopes), "state": state}
        if code_challenge:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{self._url('auth_url')}?{urlencode(query)}"

    def _token(self, form: dict[str, str]) -> Tokens:
        with self._http() as http:
            body = http.call("POST", self._url("token_url"), data=form,
                             auth=self._basic()).json()
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=utcnow() + timedelta(seconds=int(body.get("expires_in", 7200))),
            scopes=tuple(str(body.get("scope", "")).split()),
        )

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        return self._token({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": redirect_uri, "code_verifier": code_verifier or "",
                            "client_id": self.settings.client_id or ""})

    def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise TokenExpired("x: no refresh token (offline.access); connect the account again")
        return self._token({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                            "client_id": self.settings.client_id or ""})

    def revoke(self, tokens: Tokens) -> bool:
        with self._http() as http:
            http.call("POST", self._api("/2/oauth2/revoke"), auth=self._basic(),
                      data={"token": tokens.access_token, "token_type_hint": "access_token"})
        return True

    def account(self, tokens: Tokens) -> AccountInfo:
        with self._http() as http:
            user = http.call("GET", self._api("/2/users/me"),
                             headers=bearer(tokens.access_token)).json()["data"]
        return AccountInfo(platform_account_id=user["id"], name=f"@{user['username']}",
                           extra={"username": user["username"]})

    # --- posting -----------------------------------------------------------------------------
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        auth = bearer(tokens.access_token)
        seg, count = segment_plan(clip.size, self.settings.chunk_bytes)
        with self._http() as http:
            media_id = self._initialize(http, auth, clip)
            with clip.path.open("rb") as f:
                for index in range(count):
                    f.seek(index * seg)
                    part = f.read(seg)
                    # Not acknowledged (dropped, 5xx): append the same segment again.
                    retrying(lambda i=index, p=part: http.call(
                        "POST", self._upload(f"/2/media/upload/{media_id}/append"), headers=auth,
                        data={"segment_index": str(i)},
                        files={"media": ("segment", p, "application/octet-stream")}))
            done = retrying(lambda: http.call(
                "POST", self._upload(f"/2/media/upload/{media_id}/finalize"),
                headers=auth).json()["data"])
            if done.get("processing_info"):
                done = poll(lambda: self._status(http, auth, media_id), _settled,
                            timeout_s=self.poll_timeout_s, check_after=_check_after)
            info = done.get("processing_info") or {"state": "succeeded"}
            if info.get("state") == "failed":
                err = info.get("error") or {}
                raise MediaRejected(f"x could not process the video: {err.get('name', '')} "
                                    f"{err.get('message', '')}".strip())
            if info.get("state") != "succeeded":
                raise PendingReview(f"x is still processing media {media_id}")
            text = metadata.fit("x", clip.metadata).text
            r = http.call("POST", self._api("/2/tweets"), headers=auth,
                          json={"text": text, "media": {"media_ids": [media_id]}})
        post_id = str(r.json()["data"]["id"])
        return PostResult(post_id, f"https://x.com/i/web/status/{post_id}")

    def _initialize(self, http: Http, auth: dict[str, str], clip: ClipUpload) -> str:
        try:
            r = http.call("POST", self._upload("/2/media/upload/initialize"), headers=auth,
                          json={"media_type": clip.content_type, "total_bytes": clip.size,
                                "media_category": "amplify_video"})
        except PublishError as e:
            if e.code == "PLATFORM_REQUEST_REFUSED":  # 400: type or size X does not take
                raise MediaRejected(f"x refused the upload: {e.message}") from e
            raise
        return str(r.json()["data"]["id"])

    def _status(self, http: Http, auth: dict[str, str], media_id: str) -> dict[str, Any]:
        r = http.call("GET", self._upload("/2/media/upload"), headers=auth,
                      params={"command": "STATUS", "media_id": media_id})
        data: dict[str, Any] = r.json()["data"]
        return data

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        with self._http() as http:
            r = http.call("GET", self._api(f"/2/tweets/{platform_post_id}"),
                          params={"tweet.fields": "public_metrics"},
                          headers=bearer(tokens.access_token))
        m = r.json()["data"].get("public_metrics") or {}
        return {"views": int(m.get("impression_count", 0)), "likes": int(m.get("like_count", 0)),
                "comments": int(m.get("reply_count", 0))}


def _settled(state: dict[str, Any]) -> bool:
    return (state.get("processing_info") or {}).get("state") in ("succeeded", "failed")


def _check_after(state: dict[str, Any]) -> float | None:
    value = (state.get("processing_info") or {}).get("check_after_secs")
    return float(value) if value is not None else None
