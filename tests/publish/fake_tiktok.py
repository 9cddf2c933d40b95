"""A fake of TikTok's Login Kit token endpoints and Content Posting API, written from
TikTok's API reference (developers.tiktok.com: "Content Posting API - Direct Post",
"Media Transfer Guide", "Get Post Status", "Query Creator Info", "Manage User Access Tokens",
"Get User Info", "Query Videos"):

- ``POST /v2/oauth/token/`` (form: client_key, client_secret, code + code_verifier or
  refresh_token, grant_type) -> ``access_token``, ``refresh_token``, ``open_id``,
  ``expires_in``, ``scope``; ``POST /v2/oauth/revoke/``.
- every API call needs ``Authorization: Bearer``; a token it does not know (or revoked)
  answers 401 ``access_token_invalid``; ``rate_limited`` answers 429 ``rate_limit_exceeded``
  (TikTok's 429 carries no retry header: its limits are per one-minute window).
- ``video/init/``: FILE_UPLOAD with ``video_size``, ``chunk_size``, ``total_chunk_count``
  checked by the Media Transfer Guide's rules (chunks 5 MB to 64 MB, the last one up to
  128 MB, ``total_chunk_count == video_size // chunk_size``, a video under 5 MB whole).
- ``PUT`` to the ``upload_url``: ``Content-Range: bytes first-last/total`` must be the next
  chunk in order (else 416), ``Content-Length`` the range's length; 206 until the last, 201.
- ``status/fetch/``: PROCESSING_UPLOAD with ``uploaded_bytes`` until every byte is in, then
  PROCESSING_DOWNLOAD once and PUBLISH_COMPLETE (or FAILED with ``fail_reason``).

Faults for the tests: ``drop_at_byte`` (close the socket once that many bytes of the file
have arrived, keeping nothing of the chunk in flight), ``drop_answer_of_chunk`` (keep the
chunk, then drop the connection before answering: only the answer is lost), ``drop_every_put`` (the
upload host keeps dropping: the adapter gives up with PLATFORM_UNAVAILABLE).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.publish.faults import Dropped, read_until

MB = 1024 * 1024


def _error(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"data": {}, "error": {"code": code, "message": message,
                                               "log_id": "fake"}}, status_code=status)


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"data": data, "error": {"code": "ok", "message": "", "log_id": "fake"}})


@dataclass
class Upload:
    video_size: int
    chunk_size: int
    total_chunk_count: int
    privacy: str
    title: str
    data: bytearray = field(default_factory=bytearray)
    chunks: list[int] = field(default_factory=list)
    """Index of every chunk stored, in order (a chunk twice would show here twice)."""
    polls_after_upload: int = 0


class FakeTikTok:
    def __init__(self) -> None:
        self.client_key, self.client_secret = "ck", "cs"
        self.codes: dict[str, str | None] = {}
        """Authorization codes the consent page issued -> their PKCE challenge."""
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.uploads: dict[str, Upload] = {}
        self.privacy_options = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        self.rate_limited = False
        self.fail_reason: str | None = None
        self.drop_at_byte: int | None = None
        self.drop_answer_of_chunk: int | None = None
        self.drop_every_put = False
        self.counter = itertools.count(1)
        self.app = self._routes()

    def issue_token(self) -> str:
        token = f"act.{next(self.counter)}"
        self.tokens.add(token)
        return token

    def _auth(self, request: Request) -> JSONResponse | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _error(401, "access_token_invalid", "The access token is invalid or not found")
        if self.rate_limited:
            return _error(429, "rate_limit_exceeded", "exceeded the API rate limit")
        return None

    def _token_answer(self) -> JSONResponse:
        refresh = f"rft.{next(self.counter)}"
        self.refresh_tokens.add(refresh)
        return JSONResponse({"access_token": self.issue_token(), "expires_in": 86400,
                             "open_id": "open-1", "refresh_expires_in": 31536000,
                             "refresh_token": refresh, "scope": "user.info.basic,video.publish",
                             "token_type": "Bearer"})

    def _routes(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v2/auth/authorize/")
        async def consent(request: Request) -> Response:
            q = request.query_params
            if q.get("client_key") != self.client_key or q.get("response_type") != "code":
                return _error(400, "invalid_request", "client_key / response_type")
            if "video.publish" not in q.get("scope", "").split(","):
                return _error(400, "invalid_scope", "scope")
            if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
                return _error(400, "invalid_request", "code_challenge_method")
            code = f"code.{next(self.counter)}"
            self.codes[code] = q.get("code_challenge")
            return RedirectResponse(
                f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.post("/v2/oauth/token/")
        async def token(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            if (form.get("client_key"), form.get("client_secret")) != (self.client_key,
                                                                       self.client_secret):
                return JSONResponse({"error": "invalid_client",
                                     "error_description": "client_key or secret"}, 401)
            if form.get("grant_type") == "authorization_code":
                if form.get("code") not in self.codes:
                    return JSONResponse({"error": "invalid_grant",
                                         "error_description": "code"}, 400)
                challenge = self.codes.pop(form["code"])
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if challenge and digest.decode().rstrip("=") != challenge:
                    return JSONResponse({"error": "invalid_request", "error_description":
                                         "Code verifier or code challenge is invalid."}, 400)
                return self._token_answer()
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return JSONResponse({"error": "invalid_grant",
                                         "error_description": "refresh_token"}, 400)
                self.refresh_tokens.discard(form["refresh_token"])
                return self._token_answer()
            return JSONResponse({"error": "unsupported_grant_type"}, 400)

        @app.post("/v2/oauth/revoke/")
        async def revoke(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            self.tokens.discard(form.get("token", ""))
            return JSONResponse({})

        @app.get("/v2/user/info/")
        async def user_info(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return _ok({"user": {"open_id": "open-1", "union_id": "union-1",
                                 "display_name": "clipray tester", "avatar_url": ""}})

        @app.post("/v2/post/publish/creator_info/query/")
        async def creator_info(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return _ok({"creator_username": "tester", "creator_nickname": "clipray tester",
                        "privacy_level_options": self.privacy_options, "comment_disabled": False,
                        "duet_disabled": False, "stitch_disabled": True,
                        "max_video_post_duration_sec": 600})

        @app.post("/v2/post/publish/video/init/")
        async def init(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            body = await request.json()
            src, post = body.get("source_info", {}), body.get("post_info", {})
            if src.get("source") != "FILE_UPLOAD":
                return _error(400, "invalid_params", "source")
            size, chunk, count = src["video_size"], src["chunk_size"], src["total_chunk_count"]
            if size < 5 * MB:
                valid = chunk == size and count == 1
            else:
                last = size - chunk * (count - 1)
                valid = (5 * MB <= chunk <= 64 * MB and count == size // chunk
                         and chunk <= last <= 128 * MB and count <= 1000)
            if not valid:
                return _error(400, "invalid_params", "chunk_size / total_chunk_count")
            if post.get("privacy_level") not in self.privacy_options:
                return _error(400, "privacy_level_option_mismatch", "privacy_level")
            if len(post.get("title", "").encode("utf-16-le")) // 2 > 2200:
                return _error(400, "invalid_params", "title longer than 2200 runes")
            publish_id = f"v_pub_file~v2-1.{next(self.counter)}"
            self.uploads[publish_id] = Upload(size, chunk, count, post["privacy_level"],
                                              post.get("title", ""))
            base = str(request.base_url).rstrip("/")
            return _ok({"publish_id": publish_id,
                        "upload_url": f"{base}/upload/?upload_id={publish_id}&upload_token=t"})

        @app.put("/upload/")
        async def put_chunk(request: Request, upload_id: str) -> Response:
            up = self.uploads.get(upload_id)
            if up is None:
                return _error(404, "invalid_params", "upload_id")
            unit, _, spec = request.headers.get("content-range", "").partition(" ")
            rng, _, total = spec.partition("/")
            first, _, last = rng.partition("-")
            try:
                a, b, n = int(first), int(last), int(total)
            except ValueError:
                return Response(status_code=400)
            index = len(up.chunks)
            expected_last = (up.video_size - 1 if index == up.total_chunk_count - 1
                             else (index + 1) * up.chunk_size - 1)
            if unit != "bytes" or n != up.video_size or a != len(up.data) or b != expected_last:
                return Response(status_code=416)
            limit = 0 if self.drop_every_put else None
            if self.drop_at_byte is not None and a <= self.drop_at_byte <= b:
                limit = self.drop_at_byte - a
                self.drop_at_byte = None
            body, dropped = await read_until(request, limit)
            if dropped:
                return Dropped()
            declared = int(request.headers.get("content-length", -1))
            if len(body) != b - a + 1 or declared != len(body):
                return Response(status_code=400)
            up.data += body
            up.chunks.append(index)
            if self.drop_answer_of_chunk == index:
                self.drop_answer_of_chunk = None
                return Dropped()
            return Response(status_code=201 if len(up.data) == up.video_size else 206)

        @app.post("/v2/post/publish/status/fetch/")
        async def status(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            up = self.uploads.get((await request.json()).get("publish_id", ""))
            if up is None:
                return _error(400, "invalid_publish_id", "publish_id")
            if len(up.data) < up.video_size:
                return _ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": len(up.data)})
            up.polls_after_upload += 1
            if up.polls_after_upload == 1:
                return _ok({"status": "PROCESSING_DOWNLOAD", "uploaded_bytes": len(up.data)})
            if self.fail_reason:
                return _ok({"status": "FAILED", "fail_reason": self.fail_reason,
                            "uploaded_bytes": len(up.data)})
            public = [7300000000000000001] if up.privacy != "SELF_ONLY" else []
            return _ok({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": public,
                        "uploaded_bytes": len(up.data)})

        @app.post("/v2/video/query/")
        async def video_query(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            ids = (await request.json())["filters"]["video_ids"]
            return _ok({"videos": [{"id": i, "view_count": 1200, "like_count": 85,
                                    "comment_count": 7} for i in ids]})

        return app
