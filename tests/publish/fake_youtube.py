"""A fake of Google's OAuth 2.0 endpoints and the YouTube Data API v3, written from
Google's references, for the YouTube adapter to talk to over TCP:

- OAuth 2.0 for web server apps (developers.google.com/identity/protocols/oauth2/web-server):
  the consent page (``/o/oauth2/v2/auth``: ``response_type=code``, ``state``,
  ``access_type=offline``, PKCE ``code_challenge`` with ``code_challenge_method=S256``),
  which consents at once and redirects back with ``code`` and ``state``; the token endpoint
  (``POST /token``, form-encoded: ``authorization_code`` with the ``code_verifier`` checked
  against the challenge, ``refresh_token``; ``invalid_grant`` / ``invalid_client`` errors);
  ``POST /revoke?token=``.
- The resumable upload protocol (developers.google.com/youtube/v3/guides/
  using_resumable_upload_protocol): ``POST /upload/youtube/v3/videos?uploadType=resumable
  &part=snippet,status`` with the video resource and ``X-Upload-Content-Length`` answers
  200 with the session URI in ``Location``; ``PUT`` to it with ``Content-Range: bytes
  A-B/SIZE`` (chunks a multiple of 256 KiB except the last) answers ``308`` with ``Range:
  bytes=0-N`` until the last byte, then ``201`` with the video resource; ``PUT`` with
  ``Content-Range: bytes */SIZE`` asks the status.
- ``channels.list`` (``part=snippet&mine=true``), ``videos.list`` (``part=statistics``).
- Errors in the API's shape (``{"error": {"code", "message", "errors": [{"reason"}]}}``):
  401 ``authError`` for an expired or unknown token, 403 ``quotaExceeded``, 429 with
  ``Retry-After``, 400 ``invalidTitle``/``invalidDescription``, a file that is not a video
  ``uploadStatus: rejected``.

Switches a test flips: :attr:`FakeYouTube.expire_tokens`, :attr:`rate_limit_s`,
:attr:`quota_exceeded`, :attr:`fail_chunks` (5xx answers), :attr:`drop_at` (persist the
upload up to that byte, then drop the connection mid-response), :attr:`refuse_refresh`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

CHUNK_UNIT = 256 * 1024


def google_error(status: int, reason: str, message: str,
                 headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body = {"error": {"code": status, "message": message,
                      "errors": [{"domain": "youtube", "reason": reason, "message": message}]}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what OAuth token requests are)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl((await request.body()).decode()))


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@dataclass
class Upload:
    size: int
    content_type: str
    resource: dict[str, Any]
    data: bytearray = field(default_factory=bytearray)
    resent_bytes: int = 0
    """Bytes a PUT carried that the server already held (a client resending)."""
    puts: int = 0
    video_id: str | None = None


class FakeYouTube:
    """The fake's state and its FastAPI :attr:`app`."""

    def __init__(self, client_id: str = "yt-client",
                 client_secret: str = "yt-secret") -> None:  # noqa: S107 (a fake's)
        self.client_id, self.client_secret = client_id, client_secret
        self.codes: dict[str, dict[str, str]] = {}
        self.access: dict[str, float] = {}
        """access token -> expiry (time.time())."""
        self.refresh_tokens: set[str] = set()
        self.revoked: list[str] = []
        self.consents: list[dict[str, str]] = []
        self.token_grants: list[str] = []
        self.uploads: dict[str, Upload] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.channel = {"id": "UCfakeChannel0001", "title": "Fake Clips Channel"}
        self.access_ttl_s = 3599
        # switches
        self.expire_tokens = False
        self.rate_limit_s: float | None = None
        self.quota_exceeded = False
        self.fail_chunks = 0
        self.drop_at: int | None = None
        self.refuse_refresh = False
        self.app = self._build()

    # --- helpers -------------------------------------------------------------------------
    def _issue(self, with_refresh: bool) -> dict[str, Any]:
        access = "ya29." + secrets.token_urlsafe(24)
        self.access[access] = time.time() + self.access_ttl_s
        body: dict[str, Any] = {"access_token": access, "expires_in": self.access_ttl_s,
                                "token_type": "Bearer",
                                "scope": "https://www.googleapis.com/auth/youtube.upload "
                                         "https://www.googleapis.com/auth/youtube.readonly"}
        if with_refresh:
            refresh = "1//" + secrets.token_urlsafe(32)
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    def _refused(self, request: Request) -> JSONResponse | None:
        """401 for a missing, unknown, revoked or expired token; 429/403 when switched on."""
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        expiry = self.access.get(token)
        if self.expire_tokens or expiry is None or expiry < time.time():
            return google_error(401, "authError", "Invalid Credentials",
                                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        if self.rate_limit_s is not None:
            wait, self.rate_limit_s = self.rate_limit_s, None
            return google_error(429, "rateLimitExceeded", "Too many requests",
                                {"Retry-After": str(int(wait))})  # fmt: skip
        if self.quota_exceeded:
            return google_error(403, "quotaExceeded", "The request cannot be completed "
                                "because you have exceeded your quota.")  # fmt: skip
        return None

    def received(self, upload_id: str | None = None) -> bytes:
        up = self.uploads[upload_id] if upload_id else next(reversed(self.uploads.values()))
        return bytes(up.data)

    # --- the app -------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/o/oauth2/v2/auth")
        def consent(request: Request) -> Response:
            q = dict(request.query_params)
            self.consents.append(q)
            if q.get("client_id") != self.client_id:
                return oauth_error(400, "invalid_client", "The OAuth client was not found.")
            if q.get("response_type") != "code" or not q.get("redirect_uri"):
                return oauth_error(400, "invalid_request", "response_type=code, redirect_uri")
            if "code_challenge" in q and q.get("code_challenge_method") != "S256":
                return oauth_error(400, "invalid_request", "code_challenge_method must be S256")
            code = "4/" + secrets.token_urlsafe(24)
            self.codes[code] = {"challenge": q.get("code_challenge", ""),
                                "redirect_uri": q["redirect_uri"]}  # fmt: skip
            back = {"code": code, "state": q.get("state", ""), "scope": q.get("scope", "")}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode(back)}", status_code=302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            form = await _form(request)
            if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                      self.client_secret):
                return oauth_error(401, "invalid_client", "Unauthorized")
            grant = form.get("grant_type")
            self.token_grants.append(str(grant))
            if grant == "authorization_code":
                issued = self.codes.pop(str(form.get("code")), None)  # single use
                if issued is None:
                    return oauth_error(400, "invalid_grant", "Malformed auth code.")
                if issued["redirect_uri"] != form.get("redirect_uri"):
                    return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
                if issued["challenge"]:
                    verifier = str(form.get("code_verifier", "")).encode()
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                    if digest.rstrip(b"=").decode() != issued["challenge"]:
                        return oauth_error(400, "invalid_grant", "Invalid code verifier.")
                return JSONResponse(self._issue(with_refresh=True))
            if grant == "refresh_token":
                if self.refuse_refresh or form.get("refresh_token") not in self.refresh_tokens:
                    return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                return JSONResponse(self._issue(with_refresh=False))
            return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")

        @app.post("/revoke")
        async def revoke(request: Request) -> Response:
            form = await _form(request)
            tok = str(form.get("token") or request.query_params.get("token", ""))
            if tok in self.refresh_tokens:
                self.refresh_tokens.discard(tok)
            elif self.access.pop(tok, None) is None:
                return oauth_error(400, "invalid_token", "Token expired or revoked")
            self.revoked.append(tok)
            return JSONResponse({})

        @app.get("/youtube/v3/channels")
        def channels(request: Request, part: str = "", mine: str = "") -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            if "snippet" not in part.split(",") or mine != "true":
                return google_error(400, "invalidParameter", "part=snippet&mine=true expected")
            ch = self.channel
            return JSONResponse({"kind": "youtube#channelListResponse",
                                 "items": [{"kind": "youtube#channel", "id": ch["id"],
                                            "snippet": {"title": ch["title"]}}]})  # fmt: skip

        @app.get("/youtube/v3/videos")
        def videos(request: Request, part: str = "", id: str = "") -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            items = [{"kind": "youtube#video", "id": v, "statistics": self.videos[v]["statistics"]}
                     for v in id.split(",") if v in self.videos and "statistics" in part]
            return JSONResponse({"kind": "youtube#videoListResponse", "items": items})

        @app.post("/upload/youtube/v3/videos")
        async def start(request: Request, uploadType: str = "", part: str = "") -> Response:
            if (refused := self._refused(request)) is not None:
                return refused
            if uploadType != "resumable":
                return google_error(400, "badRequest", "uploadType=resumable expected")
            try:
                size = int(request.headers["x-upload-content-length"])
            except (KeyError, ValueError):
                return google_error(400, "badRequest", "X-Upload-Content-Length is required")
            resource = await request.json()
            snippet, status = resource.get("snippet", {}), resource.get("status", {})
            title, desc = snippet.get("title", ""), snippet.get("description", "")
            if not title or len(title) > 100 or "<" in title or ">" in title:
                return google_error(400, "invalidTitle", "The request metadata specifies an "
                                    "invalid video title.")  # fmt: skip
            if len(desc.encode()) > 5000 or "<" in desc or ">" in desc:
                return google_error(400, "invalidDescription", "invalid video description")
            if status.get("privacyStatus") not in ("private", "public", "unlisted"):
                return google_error(400, "invalidPrivacyStatus", "bad privacyStatus")
            upload_id = secrets.token_urlsafe(12)
            self.uploads[upload_id] = Upload(size, request.headers.get(
                "x-upload-content-type", "video/*"), resource)  # fmt: skip
            location = (f"{str(request.base_url).rstrip('/')}/upload/youtube/v3/videos"
                        f"?uploadType=resumable&upload_id={upload_id}")  # fmt: skip
            return Response(status_code=200, headers={"Location": location})

        @app.put("/upload/youtube/v3/videos")
        async def put(request: Request, upload_id: str = "") -> Response:
            up = self.uploads.get(upload_id)
            if up is None:
                return google_error(404, "notFound", "upload session not found")
            if (refused := self._refused(request)) is not None:
                return refused
            rng = request.headers.get("content-range", "")
            body = await request.body()
            up.puts += 1
            if rng == f"bytes */{up.size}":  # the status query
                return self._upload_state(up)
            try:
                span, total = rng.removeprefix("bytes ").split("/")
                first, last = (int(x) for x in span.split("-"))
            except ValueError:
                return google_error(400, "badRequest", f"bad Content-Range {rng!r}")
            if int(total) != up.size or len(body) != last - first + 1 or first > len(up.data):
                return google_error(400, "badRequest", f"Content-Range {rng!r} does not fit "
                                    f"{len(body)} bytes at offset {len(up.data)}")  # fmt: skip
            if last + 1 < up.size and len(body) % CHUNK_UNIT:
                return google_error(400, "badRequest", "chunks must be multiples of 256 KiB")
            if self.fail_chunks > 0:
                self.fail_chunks -= 1
                return google_error(503, "backendError", "Backend Error")
            held = len(up.data)
            up.resent_bytes += max(0, held - first)
            fresh = body[held - first:]
            if self.drop_at is not None and held < self.drop_at <= first + len(body):
                keep, self.drop_at = self.drop_at - held, None
                up.data += fresh[:keep]
                return _dropped()
            up.data += fresh
            return self._upload_state(up)

        return app

    def _upload_state(self, up: Upload) -> Response:
        if len(up.data) < up.size:
            headers = {"Range": f"bytes=0-{len(up.data) - 1}"} if up.data else {}
            return Response(status_code=308, headers=headers)
        if up.video_id is None:
            up.video_id = secrets.token_urlsafe(8)[:11]
            is_mp4 = bytes(up.data[4:8]) == b"ftyp"
            status = ({"uploadStatus": "uploaded"} if is_mp4 else
                      {"uploadStatus": "rejected", "rejectionReason": "invalidFile"})
            self.videos[up.video_id] = {
                "kind": "youtube#video", "id": up.video_id,
                "snippet": up.resource.get("snippet", {}),
                "status": {**up.resource.get("status", {}), **status},
                "statistics": {"viewCount": "1234", "likeCount": "56", "commentCount": "7"},
            }  # fmt: skip
        video = {k: v for k, v in self.videos[up.video_id].items() if k != "statistics"}
        return JSONResponse(video, status_code=201)


class Dropped(ConnectionAbortedError):
    """Raised inside a started response: the server closes the connection mid-answer."""


def _dropped() -> Response:
    async def body() -> Any:
        yield b""
        raise Dropped("the fake drops the connection mid-upload, as a test asked")

    return StreamingResponse(body(), status_code=200, media_type="application/json")
