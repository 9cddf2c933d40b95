"""A fake of X's OAuth 2.0 (PKCE) endpoints, v2 chunked media upload and post creation,
written from X's API reference (docs.x.com: "OAuth 2.0 Authorization Code Flow with PKCE",
"Media upload: initialize / append / finalize / status", "Create Post", "Users lookup me",
"Rate limits"):

- ``GET /i/oauth2/authorize`` (the consent page: redirects with ``code`` and ``state``),
  ``POST /2/oauth2/token`` (Basic client auth; authorization_code with ``code_verifier``
  checked against the S256 challenge, refresh_token rotating), ``POST /2/oauth2/revoke``.
- ``POST /2/media/upload/initialize``: JSON ``media_type`` (video/mp4), ``total_bytes`` (up
  to 512 MB), ``media_category``; ``POST /2/media/upload/{id}/append``: multipart ``media``
  + ``segment_index`` (0..999, at most 5 MB); ``finalize`` checks the segments add up to
  ``total_bytes`` and answers ``processing_info`` (pending, ``check_after_secs``);
  ``GET /2/media/upload?command=STATUS``: in_progress once, then succeeded (or failed with
  ``error``).
- ``POST /2/tweets`` with ``media.media_ids`` (only succeeded media).
- an unknown bearer token: 401; ``rate_limited``: 429 with ``x-rate-limit-reset``.

Faults: ``drop_on_append`` (read half of that APPEND request, counted from 0, then drop the
connection: the segment is not kept and must be appended again), ``fail_processing``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.publish.faults import Dropped, read_until

MAX_SEGMENT = 5 * 1024 * 1024


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    title = {400: "Invalid Request", 401: "Unauthorized", 429: "Too Many Requests"}.get(status, "")
    return JSONResponse({"title": title, "detail": detail, "status": status,
                         "type": "about:blank", "errors": [{"message": detail}]},
                        status_code=status, headers=headers)


def form_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = part.get_payload(decode=True) or b""
    return out


@dataclass
class Media:
    total_bytes: int
    media_type: str
    segments: dict[int, bytes] = field(default_factory=dict)
    appended: Counter[int] = field(default_factory=Counter)
    """How many times each segment was stored."""
    state: str = "initialized"
    polls: int = 0

    def data(self) -> bytes:
        return b"".join(self.segments[i] for i in sorted(self.segments))


class FakeX:
    def __init__(self) -> None:
        self.client_id, self.client_secret = "xc", "xs"
        self.codes: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.media: dict[str, Media] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.rate_limited = False
        self.reset_in_s = 90
        self.fail_processing = False
        self.drop_on_append: int | None = None
        self.append_calls = 0
        self.counter = itertools.count(1880028106020515840)
        self.app = self._routes()

    def _auth(self, request: Request) -> JSONResponse | None:
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return _problem(401, "Unauthorized")
        if self.rate_limited:
            reset = str(int(time.time()) + self.reset_in_s)
            return _problem(429, "Too Many Requests", **{"x-rate-limit-limit": "17",
                            "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
        return None

    def _client_ok(self, request: Request) -> bool:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {basic}"

    def _tokens(self) -> JSONResponse:
        access, refresh = f"xat-{next(self.counter)}", f"xrt-{next(self.counter)}"
        self.tokens.add(access)
        self.refresh_tokens.add(refresh)
        return JSONResponse({"token_type": "bearer", "expires_in": 7200, "access_token": access,
                             "scope": "tweet.read tweet.write users.read offline.access "
                                      "media.write", "refresh_token": refresh})

    def _routes(self) -> FastAPI:
        app = FastAPI()

        @app.get("/i/oauth2/authorize")
        async def consent(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("response_type") != "code":
                return _problem(400, "client_id / response_type")
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return _problem(400, "PKCE is required")
            if "media.write" not in q.get("scope", "").split(" "):
                return _problem(400, "scope")
            code = f"xcode-{next(self.counter)}"
            self.codes[code] = q["code_challenge"]
            query = urlencode({"state": q["state"], "code": code})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", 302)

        @app.post("/2/oauth2/token")
        async def token(request: Request) -> JSONResponse:
            if not self._client_ok(request):
                return JSONResponse({"error": "unauthorized_client"}, 401)
            form = dict(parse_qsl((await request.body()).decode()))
            if form.get("grant_type") == "authorization_code":
                challenge = self.codes.pop(form.get("code", ""), None)
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if challenge != base64.urlsafe_b64encode(digest).decode().rstrip("="):
                    return JSONResponse({"error": "invalid_request",
                                         "error_description": "code or verifier"}, 400)
                return self._tokens()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return JSONResponse({"error": "invalid_request",
                                         "error_description": "refresh token invalid"}, 400)
                self.refresh_tokens.discard(form["refresh_token"])
                return self._tokens()
            return JSONResponse({"error": "unsupported_grant_type"}, 400)

        @app.post("/2/oauth2/revoke")
        async def revoke(request: Request) -> JSONResponse:
            if not self._client_ok(request):
                return JSONResponse({"error": "unauthorized_client"}, 401)
            self.tokens.discard(dict(parse_qsl((await request.body()).decode())).get("token", ""))
            return JSONResponse({"revoked": True})

        @app.get("/2/users/me")
        async def me(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return JSONResponse({"data": {"id": "2244994945", "name": "clipray",
                                          "username": "clipray_test"}})

        @app.post("/2/media/upload/initialize")
        async def initialize(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            body = await request.json()
            size = body.get("total_bytes", 0)
            if body.get("media_type") != "video/mp4" or not 0 < size <= 512 << 20:
                return _problem(400, "media_type or total_bytes not supported")
            media_id = str(next(self.counter))
            self.media[media_id] = Media(body["total_bytes"], body["media_type"])
            return JSONResponse({"data": {"id": media_id, "media_key": f"13_{media_id}",
                                          "expires_after_secs": 86400}})

        @app.post("/2/media/upload/{media_id}/append")
        async def append(media_id: str, request: Request) -> Response:
            if (refused := self._auth(request)) is not None:
                return refused
            media = self.media.get(media_id)
            if media is None or media.state != "initialized":
                return _problem(400, "media_id")
            calls, self.append_calls = self.append_calls, self.append_calls + 1
            if calls == self.drop_on_append:  # read half of it, then the line goes dead
                self.drop_on_append = None
                await read_until(request, int(request.headers["content-length"]) // 2)
                return Dropped()
            parts = form_parts(request.headers["content-type"], await request.body())
            index = int(parts.get("segment_index", b"-1"))
            segment = parts.get("media", b"")
            if not 0 <= index <= 999 or not 0 < len(segment) <= MAX_SEGMENT:
                return _problem(400, "segment_index or media size")
            media.segments[index] = segment
            media.appended[index] += 1
            return JSONResponse({"data": {"expires_at": int(time.time()) + 86400}})

        @app.post("/2/media/upload/{media_id}/finalize")
        async def finalize(media_id: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            media = self.media.get(media_id)
            if media is None or len(media.data()) != media.total_bytes:
                return _problem(400, "the segments do not add up to total_bytes")
            media.state = "pending"
            return JSONResponse({"data": {"id": media_id, "media_key": f"13_{media_id}",
                                          "size": media.total_bytes, "expires_after_secs": 86400,
                                          "processing_info": {"state": "pending",
                                                              "check_after_secs": 1}}})

        @app.get("/2/media/upload")
        async def status(request: Request, command: str, media_id: str) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            media = self.media.get(media_id)
            if command != "STATUS" or media is None or media.state == "initialized":
                return _problem(400, "command / media_id")
            media.polls += 1
            if media.polls == 1:
                media.state = "in_progress"
                info: dict[str, Any] = {"state": "in_progress", "check_after_secs": 1,
                                        "progress_percent": 40}
            elif self.fail_processing:
                media.state = "failed"
                info = {"state": "failed", "progress_percent": 100, "error": {
                    "code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}
            else:
                media.state = "succeeded"
                info = {"state": "succeeded", "progress_percent": 100}
            return JSONResponse({"data": {"id": media_id, "media_key": f"13_{media_id}",
                                          "processing_info": info}})

        @app.post("/2/tweets")
        async def create(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            body = await request.json()
            ids = body.get("media", {}).get("media_ids", [])
            if any(self.media.get(i) is None or self.media[i].state != "succeeded" for i in ids):
                return _problem(400, "media not ready")
            post_id = str(next(self.counter))
            self.posts[post_id] = body
            return JSONResponse({"data": {"id": post_id, "text": body["text"]}}, 201)

        @app.get("/2/tweets/{post_id}")
        async def lookup(post_id: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return JSONResponse({"data": {"id": post_id, "text": self.posts[post_id]["text"],
                                          "public_metrics": {"retweet_count": 2,
                                                             "reply_count": 4,
                                                             "like_count": 31,
                                                             "quote_count": 0,
                                                             "impression_count": 950}}})

        return app
