"""LinkedIn: OAuth 2.0 (no PKCE for web apps), OpenID userinfo, the Videos API, the Posts API.

LinkedIn's only Python client (``linkedin-api-client``) is marked beta and covers Rest.li
calls but not the part uploads, so this speaks the documented HTTP API with httpx, with the
``LinkedIn-Version`` (YYYYMM) and ``X-Restli-Protocol-Version: 2.0.0`` headers it requires:

1. ``POST /rest/videos?action=initializeUpload`` (owner URN, ``fileSizeBytes``): the video
   URN and ``uploadInstructions``, one part per 4 MB range with its own upload URL.
2. ``PUT`` each part's bytes to its URL; the answer's ``ETag`` is the part's id. A part whose
   ETag did not come back is uploaded again, the others never: that is the resume.
3. ``POST /rest/videos?action=finalizeUpload`` with the ``uploadedPartIds`` in order, then
   ``GET /rest/videos/{urn}`` until AVAILABLE (PROCESSING_FAILED: rejected).
4. ``POST /rest/posts`` with the video in ``content.media``; the post URN comes back in
   ``x-restli-id``.

LinkedIn's rate limits are daily and reset at midnight UTC; a 429 without ``Retry-After`` is
retried then.

    adapter = Adapter(settings.publish.linkedin)
    adapter.publish(tokens, clip)  # PostResult("urn:li:share:...", "https://www.linkedin.com/feed/update/urn:li:share:.../")
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

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
    PostResult,
    PublishError,
    TokenExpired,
    Tokens,
)
from clipray.publish.http import Http, bearer, poll, retry_after_s, retrying

DEFAULTS = {
    "auth_url": "https://www.linkedin.com/oauth/v2/authorization",
    "token_url": "https://www.linkedin.com/oauth/v2/accessToken",
    "api_base": "https://api.linkedin.com",
}
API_VERSION = "202610"
"""``LinkedIn-Version``: LinkedIn serves each monthly version for a year; bump it yearly."""


def seconds_to_utc_midnight(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def _classify(r: httpx.Response) -> PublishError | None:
    path = r.request.url.path
    if path.endswith(("/accessToken", "/revoke")) and r.status_code in (400, 401):
        return TokenExpired(f"linkedin token endpoint: {r.text[:200]}")
    if r.status_code == 429:
        wait = retry_after_s(r)
        return PlatformRateLimited(f"linkedin rate limit: {r.text[:200]}",
                                   wait if wait is not None else seconds_to_utc_midnight(utcnow()))
    if r.status_code in (400, 422) and "action=initializeUpload" in str(r.request.url):
        return MediaRejected(f"linkedin refused the video: {r.text[:200]}")
    return None


class Adapter(PlatformAdapter):
    platform: ClassVar[str] = "linkedin"
    defaults: ClassVar[Mapping[str, str]] = DEFAULTS
    uses_pkce: ClassVar[bool] = False
    default_scopes: ClassVar[tuple[str, ...]] = ("openid", "profile", "w_member_social")
    poll_timeout_s: ClassVar[float] = 600.0

    def _http(self) -> Http:
        return Http(self.settings, self.platform, _classify)

    def _rest(self, tokens: Tokens) -> dict[str, str]:
        return bearer(tokens.access_token) | {"LinkedIn-Version": API_VERSION,
                                              "X-Restli-Protocol-Version": "2.0.0"}

    def _client(self) -> dict[str, str]:
        assert self.settings.client_secret is not None  # configured, checked in __init__
        return {"client_id": self.settings.client_id or "",
                "client_secret": self.settings.client_secret.get_secret_value()}

    # --- OAuth -------------------------------------------------------------------------------
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        query = {"response_type": "code", "client_id": self.settings.client_id,
                 "redirect_uri": redirect_uri, "state": state, "scope": " ".join(self.scopes)}
        return f"{self._url('auth_url')}?{urlencode(query)}"

    def _token(self, form: dict[str, str]) -> Tokens:
        with self._http() as http:
            body = http.call("POST", self._url("token_url"), data=form | self._client()).json()
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=utcnow() + timedelta(seconds=int(body.get("expires_in", 5184000))),
            scopes=tuple(str(body.get("scope", "")).replace(",", " ").split()),
        )

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        tokens = self._token({"grant_type": "authorization_code", "code": code,
                              "redirect_uri": redirect_uri})
        urn = self.account(tokens).extra["person_urn"]  # the author of every post
        return Tokens(tokens.access_token, tokens.refresh_token, tokens.expires_at,
                      tokens.scopes, {"person_urn": urn})

    def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:  # LinkedIn gives refresh tokens to approved apps only
            raise TokenExpired("linkedin: no refresh token; connect the account again")
        fresh = self._token({"grant_type": "refresh_token",
                             "refresh_token": tokens.refresh_token})
        return Tokens(fresh.access_token, fresh.refresh_token or tokens.refresh_token,
                      fresh.expires_at, fresh.scopes or tokens.scopes, tokens.extra)

    def revoke(self, tokens: Tokens) -> bool:
        url = self._url("token_url").rsplit("/", 1)[0] + "/revoke"
        with self._http() as http:
            http.call("POST", url, data={"token": tokens.access_token} | self._client())
        return True

    def account(self, tokens: Tokens) -> AccountInfo:
        with self._http() as http:
            me = http.call("GET", self._api("/v2/userinfo"),
                           headers=bearer(tokens.access_token)).json()
        return AccountInfo(platform_account_id=me["sub"], name=me.get("name", ""),
                           extra={"person_urn": f"urn:li:person:{me['sub']}"})

    # --- posting -----------------------------------------------------------------------------
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        owner = tokens.extra.get("person_urn") or self.account(tokens).extra["person_urn"]
        headers = self._rest(tokens)
        with self._http() as http:
            init = http.call("POST", self._api("/rest/videos"),
                             params={"action": "initializeUpload"}, headers=headers,
                             json={"initializeUploadRequest": {
                                 "owner": owner, "fileSizeBytes": clip.size,
                                 "uploadCaptions": False, "uploadThumbnail": False}}).json()
            value = init["value"]
            video = value["video"]
            etags = self._upload_parts(http, clip, value["uploadInstructions"])
            retrying(lambda: http.call(
                "POST", self._api("/rest/videos"), params={"action": "finalizeUpload"},
                headers=headers, json={"finalizeUploadRequest": {
                    "video": video, "uploadToken": value.get("uploadToken", ""),
                    "uploadedPartIds": etags}}))
            state = poll(lambda: self._video(http, headers, video),
                         lambda v: v.get("status") in ("AVAILABLE", "PROCESSING_FAILED"),
                         timeout_s=self.poll_timeout_s)
            if state.get("status") == "PROCESSING_FAILED":
                raise MediaRejected(f"linkedin could not process the video: "
                                    f"{state.get('processingFailureReason', '')}")
            if state.get("status") != "AVAILABLE":
                raise PendingReview(f"linkedin is still processing {video}")
            fitted = metadata.fit("linkedin", clip.metadata)
            r = http.call("POST", self._api("/rest/posts"), headers=headers, json={
                "author": owner, "commentary": fitted.text,
                "visibility": clip.metadata.privacy or "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                 "thirdPartyDistributionChannels": []},
                "content": {"media": {"title": fitted.title, "id": video}},
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False})
        urn = r.headers.get("x-restli-id", "")
        if not urn:
            raise PublishError("PLATFORM_REQUEST_REFUSED", "linkedin answered no post id")
        return PostResult(urn, f"https://www.linkedin.com/feed/update/{urn}/")

    def _upload_parts(self, http: Http, clip: ClipUpload,
                      instructions: list[dict[str, Any]]) -> list[str]:
        etags: list[str | None] = [None] * len(instructions)
        with clip.path.open("rb") as f:
            for i, part in enumerate(instructions):
                first, last = int(part["firstByte"]), int(part["lastByte"])
                f.seek(first)
                body = f.read(last - first + 1)
                # Only a part without an ETag is sent (again); the others are done.
                r = retrying(lambda url=part["uploadUrl"], b=body: http.call(
                    "PUT", url, content=b, headers={"Content-Type": "application/octet-stream"}))
                etags[i] = r.headers.get("etag")
        missing = [i for i, e in enumerate(etags) if not e]
        if missing:
            raise PublishError("PLATFORM_REQUEST_REFUSED",
                               f"linkedin answered no ETag for parts {missing}")
        return [e for e in etags if e]

    def _video(self, http: Http, headers: dict[str, str], video: str) -> dict[str, Any]:
        data: dict[str, Any] = http.call(
            "GET", self._api(f"/rest/videos/{quote(video, safe='')}"), headers=headers).json()
        return data

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        """Likes and comments (LinkedIn reports views of member posts to no API)."""
        with self._http() as http:
            urn = quote(platform_post_id, safe="")
            r = http.call("GET", self._api(f"/rest/socialActions/{urn}"),
                          headers=self._rest(tokens)).json()
        return {"likes": int((r.get("likesSummary") or {}).get("totalLikes", 0)),
                "comments": int((r.get("commentsSummary") or {}).get("aggregatedTotalComments",
                                                                      0))}
