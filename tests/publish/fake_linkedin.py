"""A fake of LinkedIn's OAuth 2.0, OpenID userinfo, Videos API and Posts API, written from
LinkedIn's API reference (learn.microsoft.com/linkedin: "Authorization Code Flow",
"Refresh Tokens", "Sign In with LinkedIn using OpenID Connect", "Videos API", "Posts API",
"Social Actions", "Rate Limits", "LinkedIn API Versioning"):

- ``GET /oauth/v2/authorization`` redirects with ``code`` and ``state`` (no PKCE);
  ``POST /oauth/v2/accessToken`` (client_id and client_secret in the form) and
  ``POST /oauth/v2/revoke``; ``GET /v2/userinfo``.
- every ``/rest/`` call needs ``LinkedIn-Version`` (YYYYMM) and
  ``X-Restli-Protocol-Version: 2.0.0`` (else 400) and a known bearer token (else 401);
  ``rate_limited``: 429 (LinkedIn sends no retry header: its limits reset at midnight UTC).
- ``initializeUpload``: ``fileSizeBytes`` up to 500 MB (else 400); one upload instruction per
  4 MB part (``firstByte``/``lastByte``, an upload URL each).
- ``PUT`` a part: the body must be exactly its range; answers 201 with an ``ETag``.
- ``finalizeUpload``: ``uploadedPartIds`` must be every part's ETag, in order; the video is
  PROCESSING once, then AVAILABLE (or PROCESSING_FAILED).
- ``POST /rest/posts``: 201 with the post URN in ``x-restli-id``.

Faults: ``drop_on_put`` (read half of that part upload, counted from 0, then drop the
connection), ``fail_processing``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.publish.faults import Dropped, read_until

PART = 4 * 1024 * 1024


def _error(status: int, message: str, code: str = "") -> JSONResponse:
    return JSONResponse({"status": status, "serviceErrorCode": 100, "code": code,
                         "message": message}, status_code=status)


@dataclass
class Video:
    owner: str
    size: int
    parts: dict[int, bytes] = field(default_factory=dict)
    stored: Counter[int] = field(default_factory=Counter)
    status: str = "WAITING_UPLOAD"
    polls: int = 0

    def data(self) -> bytes:
        return b"".join(self.parts[i] for i in sorted(self.parts))

    def etag(self, i: int) -> str:
        return '"' + hashlib.md5(self.parts[i]).hexdigest() + '"'  # noqa: S324 - an id


class FakeLinkedIn:
    def __init__(self) -> None:
        self.client_id, self.client_secret = "li-c", "li-s"
        self.codes: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.videos: dict[str, Video] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.rate_limited = False
        self.fail_processing = False
        self.drop_on_put: int | None = None
        self.put_calls = 0
        self.counter = itertools.count(7000)
        self.app = self._routes()

    def _rest(self, request: Request) -> JSONResponse | None:
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return _error(401, "Invalid access token", "INVALID_ACCESS_TOKEN")
        if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])", request.headers.get("linkedin-version", "")):
            return _error(400, "A version must be present", "VERSION_MISSING")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return _error(400, "X-Restli-Protocol-Version 2.0.0 required")
        if self.rate_limited:
            return _error(429, "Resource level throttle limit reached", "TOO_MANY_REQUESTS")
        return None

    def _tokens(self) -> JSONResponse:
        access, refresh = f"AQV{next(self.counter)}", f"AQX{next(self.counter)}"
        self.tokens.add(access)
        self.refresh_tokens.add(refresh)
        return JSONResponse({"access_token": access, "expires_in": 5184000,
                             "refresh_token": refresh, "refresh_token_expires_in": 31536000,
                             "scope": "openid,profile,w_member_social"})

    def _routes(self) -> FastAPI:
        app = FastAPI()

        @app.get("/oauth/v2/authorization")
        async def consent(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("response_type") != "code":
                return _error(400, "client_id / response_type")
            if "w_member_social" not in q.get("scope", "").split(" "):
                return _error(400, "scope")
            code = f"li-code-{next(self.counter)}"
            self.codes[code] = q["redirect_uri"]
            return RedirectResponse(
                f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.post("/oauth/v2/accessToken")
        async def token(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                      self.client_secret):
                return JSONResponse({"error": "invalid_client"}, 401)
            if form.get("grant_type") == "authorization_code":
                if self.codes.pop(form.get("code", ""), None) != form.get("redirect_uri"):
                    return JSONResponse({"error": "invalid_request",
                                         "error_description": "code or redirect_uri"}, 400)
                return self._tokens()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return JSONResponse({"error": "invalid_request",
                                         "error_description": "refresh token"}, 400)
                return self._tokens()
            return JSONResponse({"error": "unsupported_grant_type"}, 400)

        @app.post("/oauth/v2/revoke")
        async def revoke(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            self.tokens.discard(form.get("token", ""))
            return Response(status_code=200)

        @app.get("/v2/userinfo")
        async def userinfo(request: Request) -> JSONResponse:
            if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
                return _error(401, "Invalid access token", "INVALID_ACCESS_TOKEN")
            return JSONResponse({"sub": "782bbtaQ", "name": "Clip Ray", "given_name": "Clip",
                                 "family_name": "Ray", "locale": {"country": "US"}})

        @app.post("/rest/videos")
        async def videos(request: Request, action: str) -> JSONResponse:
            if (refused := self._rest(request)) is not None:
                return refused
            body = await request.json()
            if action == "initializeUpload":
                req = body["initializeUploadRequest"]
                size = int(req["fileSizeBytes"])
                if not req["owner"].startswith("urn:li:person:") or not 0 < size <= 500 << 20:
                    return _error(400, "fileSizeBytes or owner", "INVALID_ARGUMENT")
                urn = f"urn:li:video:C5F10AQ{next(self.counter)}"
                self.videos[urn] = Video(req["owner"], size)
                base = str(request.base_url).rstrip("/")
                parts = [{"uploadUrl": f"{base}/dms-uploads/{urn}/{i}?ca=vector_feedshare",
                          "firstByte": a, "lastByte": min(a + PART, size) - 1}
                         for i, a in enumerate(range(0, size, PART))]
                return JSONResponse({"value": {"uploadUrlsExpireAt": 1893456000000,
                                               "video": urn, "uploadInstructions": parts,
                                               "uploadToken": ""}})
            if action == "finalizeUpload":
                req = body["finalizeUploadRequest"]
                video = self.videos[req["video"]]
                etags = [video.etag(i) for i in sorted(video.parts)]
                if len(video.data()) != video.size or req["uploadedPartIds"] != etags:
                    return _error(400, "uploadedPartIds do not match the parts", "INVALID")
                video.status = "PROCESSING"
                return JSONResponse({})
            return _error(400, f"unknown action {action}")

        @app.put("/dms-uploads/{urn}/{index}")
        async def put_part(urn: str, index: int, request: Request) -> Response:
            video = self.videos.get(urn)
            if video is None:
                return Response(status_code=404)
            calls, self.put_calls = self.put_calls, self.put_calls + 1
            if calls == self.drop_on_put:
                self.drop_on_put = None
                await read_until(request, int(request.headers["content-length"]) // 2)
                return Dropped()
            body = await request.body()
            first = index * PART
            if len(body) != min(first + PART, video.size) - first:
                return Response(status_code=400)
            video.parts[index] = body
            video.stored[index] += 1
            return Response(status_code=201, headers={"ETag": video.etag(index)})

        @app.get("/rest/videos/{urn}")
        async def video_status(urn: str, request: Request) -> JSONResponse:
            if (refused := self._rest(request)) is not None:
                return refused
            video = self.videos[urn]
            if video.status == "PROCESSING":
                video.polls += 1
                if video.polls > 1:
                    video.status = "PROCESSING_FAILED" if self.fail_processing else "AVAILABLE"
            out: dict[str, Any] = {"id": urn, "owner": video.owner, "status": video.status}
            if video.status == "PROCESSING_FAILED":
                out["processingFailureReason"] = "Unsupported video codec"
            return JSONResponse(out)

        @app.post("/rest/posts")
        async def posts(request: Request) -> Response:
            if (refused := self._rest(request)) is not None:
                return refused
            body = await request.json()
            video = self.videos.get(body["content"]["media"]["id"])
            if video is None or video.status != "AVAILABLE" or body["author"] != video.owner:
                return _error(400, "video not available or not the author's", "INVALID")
            urn = f"urn:li:share:{next(self.counter)}"
            self.posts[urn] = body
            return Response(status_code=201, headers={"x-restli-id": urn})

        @app.get("/rest/socialActions/{urn}")
        async def social(urn: str, request: Request) -> JSONResponse:
            if (refused := self._rest(request)) is not None:
                return refused
            return JSONResponse({"target": urn, "likesSummary": {"totalLikes": 12},
                                 "commentsSummary": {"aggregatedTotalComments": 3}})

        return app
