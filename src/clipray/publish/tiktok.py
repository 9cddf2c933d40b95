"""TikTok: Login Kit (OAuth 2.0 v2) and the Content Posting API's direct post from a file.

TikTok has no official Python client, so this speaks the documented HTTP API with httpx:

1. ``POST /v2/post/publish/creator_info/query/``: which privacy levels the creator may use
   and the longest video they may post (TikTok requires asking before every post).
2. ``POST /v2/post/publish/video/init/`` with ``source_info`` FILE_UPLOAD, ``video_size``,
   ``chunk_size`` and ``total_chunk_count``: a ``publish_id`` and an ``upload_url``.
   Chunks are 5 MB to 64 MB; the last one takes the remainder (up to 128 MB), so the count
   is ``video_size // chunk_size``; a video under 5 MB goes whole.
3. ``PUT upload_url`` per chunk, in order, with ``Content-Range: bytes first-last/total``
   (206 until the last, 201 then). After a dropped connection the adapter asks where the
   upload stands (``status/fetch``'s ``uploaded_bytes``) and goes on from there, so no chunk
   is sent twice even when only the answer was lost.
4. ``POST /v2/post/publish/status/fetch/`` until PUBLISH_COMPLETE or FAILED.

Posts are ``SELF_ONLY`` unless the metadata names another level: TikTok makes unaudited apps
post privately, and the creator info says which levels this creator allows.

    adapter = Adapter(settings.publish.tiktok)
    adapter.consent_url(state, challenge, "https://clipray.example/api/auth/tiktok/callback")
"""

from __future__ import annotations

import time
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
    PlatformRateLimited,
    PlatformUnavailable,
    PostResult,
    PublishError,
    TokenExpired,
    Tokens,
)
from clipray.publish.http import RETRY_BACKOFF_S, Http, bearer, poll, retry_after_s, retrying

DEFAULTS = {
    "auth_url": "https://www.tiktok.com/v2/auth/authorize/",
    "token_url": "https://open.tiktokapis.com/v2/oauth/token/",
    "api_base": "https://open.tiktokapis.com",
}
MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64 * 1024 * 1024
RATE_WINDOW_S = 60.0
"""TikTok's documented rate limits are per one-minute window and its 429 carries no retry
time: the window is the retry time."""
POST_CAP_WINDOW_S = 24 * 3600.0
"""``spam_risk_too_many_posts``: the creator's daily post cap."""
REJECTED = {"file_format_check_failed", "duration_check_failed", "frame_rate_check_failed",
            "picture_size_check_failed", "invalid_file_upload", "video_pull_failed"}
"""``error.code`` / ``fail_reason`` values that mean TikTok will not take this file."""


def chunk_plan(size: int, wanted: int) -> tuple[int, int]:
    """``(chunk_size, total_chunk_count)`` by TikTok's rules for a file of ``size`` bytes."""
    if size < MIN_CHUNK:
        return size, 1
    chunk = min(max(wanted, MIN_CHUNK), MAX_CHUNK, size)
    return chunk, size // chunk


def _classify(r: httpx.Response) -> PublishError | None:
    try:
        body = r.json()
    except ValueError:
        return None
    err = body.get("error")
    if isinstance(err, str):  # the OAuth endpoints: {"error": "invalid_grant", ...}
        text = f"tiktok: {err}: {body.get('error_description', '')}"
        return TokenExpired(text) if err in ("invalid_grant", "invalid_token") else None
    code = (err or {}).get("code", "")
    message = f"tiktok: {code}: {(err or {}).get('message', '')}"
    if code == "access_token_invalid" or r.status_code == 401:
        return TokenExpired(message)
    if code == "rate_limit_exceeded" or r.status_code == 429:
        return PlatformRateLimited(message, retry_after_s(r) or RATE_WINDOW_S)
    if code == "spam_risk_too_many_posts":
        return PlatformRateLimited(message, POST_CAP_WINDOW_S)
    if code in REJECTED:
        return MediaRejected(message)
    if code in ("unaudited_client_can_only_post_to_private_accounts",
                "privacy_level_option_mismatch"):
        return PublishError("PLATFORM_PRIVACY_REFUSED", message, status=422)
    return None


class Adapter(PlatformAdapter):
    platform: ClassVar[str] = "tiktok"
    defaults: ClassVar[Mapping[str, str]] = DEFAULTS
    """TikTok's OAuth paths end in "/": kept as given."""
    default_scopes: ClassVar[tuple[str, ...]] = ("user.info.basic", "video.publish")
    poll_timeout_s: ClassVar[float] = 600.0
    """How long a post may stay in processing before the publication is checked later."""

    def _http(self) -> Http:
        return Http(self.settings, self.platform, _classify)

    # --- OAuth -------------------------------------------------------------------------------
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        query = {"client_key": self.settings.client_id, "scope": ",".join(self.scopes),
                 "response_type": "code", "redirect_uri": redirect_uri, "state": state}
        if code_challenge:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{self._url('auth_url')}?{urlencode(query)}"

    def _token(self, form: dict[str, str]) -> Tokens:
        assert self.settings.client_secret is not None  # configured, checked in __init__
        form |= {"client_key": self.settings.client_id or "",
                 "client_secret": self.settings.client_secret.get_secret_value()}
        with self._http() as http:
            body = http.call("POST", self._url("token_url"), data=form).json()
        if "access_token" not in body:
            raise TokenExpired(f"tiktok token endpoint: {body.get('error', body)}")
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=utcnow() + timedelta(seconds=int(body.get("expires_in", 86400))),
            scopes=tuple(s for s in str(body.get("scope", "")).split(",") if s),
            extra={"open_id": str(body.get("open_id", ""))},
        )

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token(form)

    def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise TokenExpired("tiktok: no refresh token; connect the account again")
        return self._token({"grant_type": "refresh_token",
                            "refresh_token": tokens.refresh_token})

    def revoke(self, tokens: Tokens) -> bool:
        assert self.settings.client_secret is not None
        form = {"client_key": self.settings.client_id or "", "token": tokens.access_token,
                "client_secret": self.settings.client_secret.get_secret_value()}
        with self._http() as http:
            http.call("POST", self._api("/v2/oauth/revoke/"), data=form)
        return True

    def account(self, tokens: Tokens) -> AccountInfo:
        with self._http() as http:
            r = http.call("GET", self._api("/v2/user/info/"), headers=bearer(tokens.access_token),
                          params={"fields": "open_id,union_id,avatar_url,display_name"})
        user = r.json()["data"]["user"]
        return AccountInfo(platform_account_id=user["open_id"], name=user.get("display_name", ""),
                           extra={"open_id": user["open_id"]})

    # --- posting -----------------------------------------------------------------------------
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        headers = bearer(tokens.access_token) | {"Content-Type": "application/json; charset=UTF-8"}
        with self._http() as http:
            creator = http.call("POST", self._api("/v2/post/publish/creator_info/query/"),
                                headers=headers).json()["data"]
            privacy = clip.metadata.privacy or "SELF_ONLY"
            if privacy not in creator.get("privacy_level_options", [privacy]):
                raise PublishError("PLATFORM_PRIVACY_REFUSED",
                                   f"tiktok: this creator cannot post as {privacy}; allowed: "
                                   f"{creator.get('privacy_level_options')}", status=422)
            longest = creator.get("max_video_post_duration_sec")
            if longest and clip.duration_s and clip.duration_s > longest:
                raise MediaRejected(f"tiktok: the clip is {clip.duration_s:.0f} s; this creator "
                                    f"may post up to {longest} s")
            chunk, count = chunk_plan(clip.size, self.settings.chunk_bytes)
            fitted = metadata.fit("tiktok", clip.metadata)
            init = {"post_info": {"title": fitted.text, "privacy_level": privacy},
                    "source_info": {"source": "FILE_UPLOAD", "video_size": clip.size,
                                    "chunk_size": chunk, "total_chunk_count": count}}
            data = http.call("POST", self._api("/v2/post/publish/video/init/"), headers=headers,
                             json=init).json()["data"]
            publish_id, upload_url = data["publish_id"], data["upload_url"]
            self._upload(http, tokens, clip, publish_id, upload_url, chunk, count)
            state = poll(lambda: self._status(http, headers, publish_id),
                         lambda s: s.get("status") in ("PUBLISH_COMPLETE", "FAILED"),
                         timeout_s=self.poll_timeout_s)
        return self._result(publish_id, state)

    def _status(self, http: Http, headers: dict[str, str], publish_id: str) -> dict[str, Any]:
        r = http.call("POST", self._api("/v2/post/publish/status/fetch/"), headers=headers,
                      json={"publish_id": publish_id})
        data: dict[str, Any] = r.json()["data"]
        return data

    def _upload(self, http: Http, tokens: Tokens, clip: ClipUpload, publish_id: str,
                upload_url: str, chunk: int, count: int) -> None:
        headers = bearer(tokens.access_token) | {"Content-Type": "application/json; charset=UTF-8"}
        index, resumes = 0, 0
        with clip.path.open("rb") as f:
            while index < count:
                first = index * chunk
                last = clip.size - 1 if index == count - 1 else first + chunk - 1
                f.seek(first)
                body = f.read(last - first + 1)
                try:
                    http.call("PUT", upload_url, content=body, headers={
                        "Content-Type": clip.content_type,
                        "Content-Range": f"bytes {first}-{last}/{clip.size}"})
                    index += 1
                except PlatformUnavailable:
                    resumes += 1
                    if resumes > len(RETRY_BACKOFF_S):
                        raise
                    time.sleep(RETRY_BACKOFF_S[resumes - 1])
                    # Where does TikTok stand? It may have kept the chunk and lost the answer.
                    state = retrying(lambda: self._status(http, headers, publish_id))
                    index = min(count, int(state.get("uploaded_bytes", first)) // chunk)

    def _result(self, publish_id: str, state: dict[str, Any]) -> PostResult:
        status = state.get("status")
        if status == "FAILED":
            reason = str(state.get("fail_reason", "unknown"))
            if reason in REJECTED:
                raise MediaRejected(f"tiktok refused the video: {reason}")
            if reason.startswith("spam_risk"):
                raise PlatformRateLimited(f"tiktok: {reason}", POST_CAP_WINDOW_S)
            raise PlatformUnavailable(f"tiktok could not post the video: {reason}")
        if status != "PUBLISH_COMPLETE":
            raise PendingReview(f"tiktok is still processing post {publish_id} ({status})")
        public = state.get("publicaly_available_post_id") or []  # sic: TikTok's field name
        if public:
            post_id = str(public[0])
            return PostResult(post_id, f"https://www.tiktok.com/video/{post_id}")
        return PostResult(publish_id, None)  # a SELF_ONLY post has no public id or URL

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        if not platform_post_id.isdigit():
            return {}  # a private post's publish_id: TikTok reports nothing for it
        with self._http() as http:
            r = http.call("POST", self._api("/v2/video/query/"),
                          params={"fields": "id,view_count,like_count,comment_count"},
                          headers=bearer(tokens.access_token),
                          json={"filters": {"video_ids": [platform_post_id]}})
        videos = r.json()["data"].get("videos") or []
        if not videos:
            return {}
        v = videos[0]
        return {"views": int(v.get("view_count", 0)), "likes": int(v.get("like_count", 0)),
                "comments": int(v.get("comment_count", 0))}
