"""YouTube: OAuth 2.0 with Google (PKCE, offline access), the Data API v3's resumable upload
protocol for ``videos.insert``, Shorts metadata, revocation and statistics.

Why httpx and not google-api-python-client: the client library is not part of clipray's
environment (it brings httplib2 and a second HTTP stack), and the protocol it would wrap is
small and documented step by step for clients without the library ("Resumable uploads",
developers.google.com/youtube/v3/guides/using_resumable_upload_protocol): one POST opens a
session, PUTs send chunks with ``Content-Range``, ``308 Resume Incomplete`` answers with the
``Range`` the server holds, and a ``PUT`` with ``Content-Range: bytes */SIZE`` asks where an
interrupted upload stands. Written here it has the settings' timeout on every call, maps
Google's errors to clipray's codes, and resumes from the offset the server reports, so the
server receives every byte once.

    adapter = Adapter(settings.publish.youtube)
    post = adapter.publish(tokens, ClipUpload(path, size, "video/mp4", PostMetadata("Hi")))

Uploads by API projects that Google has not audited are locked private, so ``private`` is
the default privacy; a clip of at most three minutes gets ``#Shorts`` (clipray renders
vertical clips: YouTube files a vertical video up to 3 min with the tag as a Short).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from clipray.domain.time import utcnow
from clipray.publish.base import (
    AccountInfo,
    ClipUpload,
    MediaRejected,
    PlatformAdapter,
    PlatformRateLimited,
    PlatformUnavailable,
    PostMetadata,
    PostResult,
    TokenExpired,
    Tokens,
)
from clipray.publish.http import retry_after_s

AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an endpoint, not a secret)
API_BASE = "https://www.googleapis.com"
CHUNK_UNIT = 256 * 1024
"""Every chunk but the last is a multiple of 256 KiB (the protocol's rule)."""
TITLE_MAX = 100
"""Characters of a title."""
DESCRIPTION_MAX_BYTES = 5000
"""UTF-8 bytes of a description."""
SHORTS_MAX_S = 180.0
"""Longest video YouTube files as a Short (vertical)."""
RESUME_TRIES = 6
"""Interruptions in a row, without progress, before the upload is given up as unavailable."""
_QUOTA_REASONS = frozenset({"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded",
                            "uploadLimitExceeded"})  # fmt: skip
_MEDIA_REASONS = frozenset({"invalidTitle", "invalidDescription", "invalidTags",
                            "mediaBodyRequired", "invalidCategoryId", "invalidVideoMetadata",
                            "invalidFilename", "badContent"})  # fmt: skip


def _clean(text: str) -> str:
    """Titles and descriptions may not contain ``<`` or ``>``."""
    return text.replace("<", "").replace(">", "").strip()


def _fit_bytes(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[:limit].decode(errors="ignore").rstrip()


def video_resource(meta: PostMetadata, duration_s: float | None) -> dict[str, Any]:
    """The ``video`` resource of ``videos.insert``, fitted to YouTube's limits: the title
    100 characters, the description 5000 bytes, no angle brackets, hashtags at the end of
    the description, ``#Shorts`` for a clip short enough to be one."""
    tags = [t.lstrip("#").strip() for t in meta.hashtags if t.lstrip("#").strip()]
    shorts = duration_s is not None and duration_s <= SHORTS_MAX_S
    if shorts and not any(t.lower() == "shorts" for t in tags):
        tags.append("Shorts")
    title = _clean(meta.title) or "Untitled"
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1].rstrip() + "…"
    tail = " ".join(f"#{t.replace(' ', '')}" for t in tags)
    body = _clean(meta.description)
    room = DESCRIPTION_MAX_BYTES - len(tail.encode()) - (2 if body and tail else 0)
    body = _fit_bytes(body, max(room, 0))
    description = "\n\n".join(p for p in (body, tail) if p)
    return {
        "snippet": {"title": title, "description": description, "tags": tags,
                    "categoryId": "22"},
        "status": {"privacyStatus": meta.privacy or "private",
                   "selfDeclaredMadeForKids": False},
    }  # fmt: skip


def _reason(resp: httpx.Response) -> tuple[str, str]:
    """Google's error reason (``quotaExceeded``) and message from an error body."""
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:200]
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):  # the OAuth endpoints: {"error": "invalid_grant", ...}
        return err, str(body.get("error_description", err))
    if not isinstance(err, dict):
        return "", resp.text[:200]
    errors = err.get("errors") or [{}]
    return str(errors[0].get("reason", "")), str(err.get("message", ""))


def raise_for(resp: httpx.Response, what: str) -> None:
    """Map an error answer of Google's to clipray's refusals."""
    if resp.status_code < 400:
        return
    reason, message = _reason(resp)
    text = f"YouTube {what}: {resp.status_code} {reason or ''} {message}".strip()
    if resp.status_code == 401:
        raise TokenExpired(text)
    if resp.status_code == 429 or reason in _QUOTA_REASONS:
        raise PlatformRateLimited(text, retry_after_s(resp))
    if resp.status_code >= 500:
        raise PlatformUnavailable(text, retry_after_s(resp))
    if reason in _MEDIA_REASONS or resp.status_code in (400, 413, 415):
        raise MediaRejected(text)
    raise PlatformUnavailable(text)


def _next_offset(resp: httpx.Response) -> int:
    """The byte after what the server holds, from a 308's ``Range: bytes=0-N``."""
    rng = resp.headers.get("range")
    if not rng:
        return 0
    return int(rng.rsplit("-", 1)[1]) + 1


class Adapter(PlatformAdapter):
    platform: ClassVar[str] = "youtube"
    default_scopes: ClassVar[tuple[str, ...]] = (
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    )

    # --- endpoints, from settings --------------------------------------------------------
    @property
    def _api_base(self) -> str:
        return (self.settings.api_base or API_BASE).rstrip("/")

    @property
    def _upload(self) -> str:
        return (self.settings.upload_base or self.settings.api_base or API_BASE).rstrip("/")

    @property
    def _token_url(self) -> str:
        return self.settings.token_url or TOKEN_URL

    @property
    def _revoke_url(self) -> str:
        """Google's revocation endpoint sits next to its token endpoint (``/revoke``)."""
        parts = urlsplit(self._token_url)
        path = parts.path.rsplit("/", 1)[0] + "/revoke"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.settings.timeout_s)

    def _secret(self) -> str:
        assert self.settings.client_secret is not None  # configured: checked at __init__
        return self.settings.client_secret.get_secret_value()

    # --- OAuth ---------------------------------------------------------------------------
    def consent_url(self, state: str, code_challenge: str | None, redirect_uri: str) -> str:
        params = {
            "client_id": self.settings.client_id, "redirect_uri": redirect_uri,
            "response_type": "code", "scope": " ".join(self.scopes), "state": state,
            # offline: a refresh token; consent: Google sends it again on a reconnect.
            "access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
        }  # fmt: skip
        if code_challenge:
            params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{self.settings.auth_url or AUTH_URL}?{urlencode(params)}"

    def _token_call(self, form: dict[str, str], what: str) -> dict[str, Any]:
        form = {**form, "client_id": self.settings.client_id or "", "client_secret": self._secret()}
        try:
            with self._client() as http:
                resp = http.post(self._token_url, data=form)
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"YouTube {what}: {type(exc).__name__}") from exc
        if resp.status_code in (400, 401):  # invalid_grant: revoked, expired or reused
            reason, message = _reason(resp)
            raise TokenExpired(f"YouTube {what}: {reason} {message}".strip())
        raise_for(resp, what)
        return dict(resp.json())

    def _tokens(self, body: dict[str, Any], previous: Tokens | None = None) -> Tokens:
        expires = body.get("expires_in")
        before_scopes = previous.scopes if previous else self.scopes
        before_refresh = previous.refresh_token if previous else None
        return Tokens(
            access_token=str(body["access_token"]),
            # Google returns a refresh token on the code exchange only; a refresh keeps it.
            refresh_token=body.get("refresh_token") or before_refresh,
            expires_at=utcnow() + timedelta(seconds=float(expires)) if expires else None,
            scopes=tuple(str(body.get("scope", "")).split()) or before_scopes,
        )

    def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._tokens(self._token_call(form, "code exchange"))

    def refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise TokenExpired("no refresh token: connect the account again")
        body = self._token_call({"grant_type": "refresh_token",
                                 "refresh_token": tokens.refresh_token}, "token refresh")
        return self._tokens(body, tokens)

    def revoke(self, tokens: Tokens) -> bool:
        """Revoking the refresh token revokes the whole grant (access tokens with it)."""
        token = tokens.refresh_token or tokens.access_token
        try:
            with self._client() as http:
                resp = http.post(self._revoke_url, data={"token": token})
        except httpx.TransportError:
            return False
        return resp.status_code == 200

    # --- reading -------------------------------------------------------------------------
    def _get(self, tokens: Tokens, path: str, params: dict[str, str], what: str) -> dict[str, Any]:
        try:
            with self._client() as http:
                resp = http.get(f"{self._api_base}{path}", params=params,
                                headers={"Authorization": f"Bearer {tokens.access_token}"})
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"YouTube {what}: {type(exc).__name__}") from exc
        raise_for(resp, what)
        return dict(resp.json())

    def account(self, tokens: Tokens) -> AccountInfo:
        body = self._get(tokens, "/youtube/v3/channels", {"part": "snippet", "mine": "true"},
                         "channels.list")  # fmt: skip
        items = body.get("items") or []
        if not items:
            raise MediaRejected("this Google account has no YouTube channel to post to")
        channel = items[0]
        return AccountInfo(platform_account_id=str(channel["id"]),
                           name=str(channel.get("snippet", {}).get("title", "")))  # fmt: skip

    def analytics(self, tokens: Tokens, platform_post_id: str) -> dict[str, int]:
        body = self._get(tokens, "/youtube/v3/videos",
                         {"part": "statistics", "id": platform_post_id}, "videos.list")
        items = body.get("items") or []
        stats = items[0].get("statistics", {}) if items else {}
        return {name: int(stats.get(key, 0)) for name, key in
                (("views", "viewCount"), ("likes", "likeCount"), ("comments", "commentCount"))}

    # --- posting -------------------------------------------------------------------------
    def publish(self, tokens: Tokens, clip: ClipUpload) -> PostResult:
        auth = {"Authorization": f"Bearer {tokens.access_token}"}
        with self._client() as http:
            session = self._open_session(http, auth, clip)
            video = self._send(http, auth, session, clip)
        status = video.get("status", {})
        if status.get("uploadStatus") in ("rejected", "failed"):
            why = status.get("rejectionReason") or status.get("failureReason") or "unknown"
            raise MediaRejected(f"YouTube rejected the video: {why}")
        video_id = str(video["id"])
        return PostResult(platform_post_id=video_id, url=f"https://youtube.com/shorts/{video_id}"
                          if (clip.duration_s or SHORTS_MAX_S + 1) <= SHORTS_MAX_S
                          else f"https://www.youtube.com/watch?v={video_id}")  # fmt: skip

    def _open_session(self, http: httpx.Client, auth: dict[str, str], clip: ClipUpload) -> str:
        """Step 1: the session URI (``Location``) for this video's bytes."""
        url = f"{self._upload}/upload/youtube/v3/videos"
        headers = {**auth, "X-Upload-Content-Length": str(clip.size),
                   "X-Upload-Content-Type": clip.content_type}  # fmt: skip
        try:
            resp = http.post(url, params={"uploadType": "resumable", "part": "snippet,status"},
                             json=video_resource(clip.metadata, clip.duration_s),
                             headers=headers)  # fmt: skip
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"YouTube videos.insert: {type(exc).__name__}") from exc
        raise_for(resp, "videos.insert")
        location = resp.headers.get("location")
        if not location:
            raise PlatformUnavailable("YouTube videos.insert: no upload session in the answer")
        return location

    def _chunk_bytes(self) -> int:
        return max(CHUNK_UNIT, self.settings.chunk_bytes // CHUNK_UNIT * CHUNK_UNIT)

    def _send(self, http: httpx.Client, auth: dict[str, str], session: str, clip: ClipUpload
              ) -> dict[str, Any]:  # fmt: skip
        """Step 2 and 3: PUT the chunks; after an interruption ask the server where it stands
        and go on from there (never resending what it holds)."""
        chunk, size, offset, failures, ask = self._chunk_bytes(), clip.size, 0, 0, False
        with open(clip.path, "rb") as fh:
            while True:
                resp: httpx.Response | None
                if ask:  # interrupted: where does the server stand?
                    resp = self._status(http, auth, session, size)
                    why = "no answer to the status query"
                else:
                    try:
                        resp = self._put_chunk(http, auth, session, fh, offset, chunk, size)
                        why = f"{resp.status_code}"
                    except httpx.TransportError as exc:
                        resp, why = None, type(exc).__name__
                    if resp is not None and resp.status_code >= 500:
                        resp = None
                if resp is None:
                    failures += 1
                    if failures > RESUME_TRIES:
                        raise PlatformUnavailable(f"YouTube upload interrupted {failures} times "
                                                  f"in a row at byte {offset}: {why}")
                    time.sleep(min(0.1 * 2**failures, 8.0))
                    ask = True
                    continue
                ask = False
                if resp.status_code == 308:
                    reached = _next_offset(resp)
                    if reached > offset:
                        failures = 0
                    offset = reached
                    continue
                if resp.status_code in (200, 201):
                    return dict(resp.json())
                if resp.status_code in (404, 410):
                    raise PlatformUnavailable("YouTube upload session expired: start it again")
                raise_for(resp, "upload")
                raise PlatformUnavailable(f"YouTube upload: unexpected {resp.status_code}")

    def _put_chunk(self, http: httpx.Client, auth: dict[str, str], session: str, fh: BinaryIO,
                   offset: int, chunk: int, size: int) -> httpx.Response:  # fmt: skip
        fh.seek(offset)
        data = fh.read(min(chunk, size - offset))
        last = offset + len(data) - 1
        headers = {**auth, "Content-Length": str(len(data)),
                   "Content-Range": f"bytes {offset}-{last}/{size}"}  # fmt: skip
        return http.put(session, content=data, headers=headers)

    def _status(self, http: httpx.Client, auth: dict[str, str], session: str, size: int
                ) -> httpx.Response | None:  # fmt: skip
        """Step 3 of the guide: an empty PUT with ``Content-Range: bytes */SIZE``; None when
        the server cannot be reached either (the caller retries with backoff)."""
        headers = {**auth, "Content-Length": "0", "Content-Range": f"bytes */{size}"}
        try:
            resp = http.put(session, headers=headers)
        except httpx.TransportError:
            return None
        if resp.status_code >= 500:
            return None
        return resp
