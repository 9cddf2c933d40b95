"""A fake of Facebook Login and the Instagram Graph API's Reels publishing, written from
Meta's references (developers.facebook.com: "Manually Build a Login Flow", "Long-Lived Access
Tokens", "Instagram API with Facebook Login: Content Publishing" (Reels), "IG User
Content Publishing Limit", "IG Container" status codes, "IG Media Insights", "Graph API Error
Handling", "Rate Limiting" with ``X-Business-Use-Case-Usage``):

- ``GET /dialog/oauth`` redirects with ``code`` and ``state``; ``GET /oauth/access_token``
  exchanges a code (with client_id, client_secret, redirect_uri) for a short-lived token and
  ``grant_type=fb_exchange_token`` for a long-lived one (``expires_in`` about 60 days);
  ``DELETE /me/permissions`` revokes; ``GET /me/accounts`` lists Pages with their
  ``instagram_business_account``.
- errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``: an
  unknown token answers 400 with code 190 (OAuthException), a rate limit 400 with code 4 and
  ``X-Business-Use-Case-Usage`` carrying ``estimated_time_to_regain_access`` (minutes).
- ``POST /{ig}/media`` (REELS, ``video_url``, caption up to 2200 characters): the fake pulls
  ``video_url`` itself, over HTTP, as Instagram does; the container is IN_PROGRESS until the
  file is in, then FINISHED (ERROR when the pull fails or ``container_error`` is set).
- ``POST /{ig}/media_publish`` (only a FINISHED container, once), ``GET /{media}?fields=
  permalink``, ``GET /{media}/insights``.

Faults: ``drop_polls`` (drop that many container status polls), ``quota_usage``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.publish.faults import Dropped


def _error(code: int, message: str, subcode: int | None = None, status: int = 400,
           **headers: str) -> JSONResponse:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                           "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        err["error_subcode"] = subcode
    return JSONResponse({"error": err}, status_code=status, headers=headers)


@dataclass
class Container:
    ig_user: str
    video_url: str
    caption: str
    status: str = "IN_PROGRESS"
    data: bytes = b""
    task: asyncio.Task[None] | None = None
    published: bool = False


class FakeInstagram:
    def __init__(self) -> None:
        self.client_id, self.client_secret = "fb-app", "fb-secret"
        self.ig_user = "17841400000000001"
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        """Token -> "short" or "long"."""
        self.containers: dict[str, Container] = {}
        self.media: dict[str, str] = {}
        """Published media id -> its container id."""
        self.quota_usage = 0
        self.quota_total = 50
        self.rate_limited = False
        self.container_error = False
        self.drop_polls = 0
        self.polls = 0
        self.counter = itertools.count(90000000)
        self.app = self._routes()

    def _token(self, request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return token if token in self.tokens else None

    def _auth(self, request: Request) -> JSONResponse | None:
        if self._token(request) is None:
            return _error(190, "Error validating access token: Session has expired", 463)
        if self.rate_limited:
            usage = {self.ig_user: [{"type": "instagram", "call_count": 100,
                                     "total_cputime": 25, "total_time": 25,
                                     "estimated_time_to_regain_access": 7}]}
            return _error(4, "Application request limit reached",
                          **{"x-business-use-case-usage": json.dumps(usage)})
        return None

    async def _pull(self, container: Container) -> None:
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.get(container.video_url)
                r.raise_for_status()
            container.data = r.content
            container.status = "ERROR" if self.container_error else "FINISHED"
        except httpx.HTTPError:
            container.status = "ERROR"

    def _routes(self) -> FastAPI:
        app = FastAPI()

        @app.get("/dialog/oauth")
        async def consent(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != self.client_id or "instagram_content_publish" not in q.get(
                    "scope", "").split(","):
                return _error(100, "Invalid client_id or scope")
            code = f"fb-code-{next(self.counter)}"
            self.codes[code] = q["redirect_uri"]
            return RedirectResponse(
                f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @app.get("/oauth/access_token")
        async def token(request: Request) -> JSONResponse:
            q = request.query_params
            if (q.get("client_id"), q.get("client_secret")) != (self.client_id,
                                                                self.client_secret):
                return _error(101, "Error validating client secret")
            if q.get("grant_type") == "fb_exchange_token":
                if q.get("fb_exchange_token") not in self.tokens:
                    return _error(190, "Error validating access token", 463)
                long = f"EAAlong{next(self.counter)}"
                self.tokens[long] = "long"
                return JSONResponse({"access_token": long, "token_type": "bearer",
                                     "expires_in": 5183944})
            if self.codes.pop(q.get("code", ""), None) != q.get("redirect_uri"):
                return _error(100, "Invalid verification code format.", 36007)
            short = f"EAAshort{next(self.counter)}"
            self.tokens[short] = "short"
            return JSONResponse({"access_token": short, "token_type": "bearer",
                                 "expires_in": 5400})

        @app.delete("/me/permissions")
        async def revoke(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            self.tokens.pop(self._token(request) or "", None)
            return JSONResponse({"success": True})

        @app.get("/me/accounts")
        async def pages(request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return JSONResponse({"data": [
                {"id": "1111", "name": "A page without Instagram"},
                {"id": "2222", "name": "clipray", "instagram_business_account": {
                    "id": self.ig_user, "username": "clipray.test"}}]})

        @app.get("/{ig_user}/content_publishing_limit")
        async def limit(ig_user: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            return JSONResponse({"data": [{"quota_usage": self.quota_usage, "config": {
                "quota_total": self.quota_total, "quota_duration": 86400}}]})

        @app.post("/{ig_user}/media")
        async def create(ig_user: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            form = dict(parse_qsl((await request.body()).decode()))
            if ig_user != self.ig_user or form.get("media_type") != "REELS":
                return _error(100, "Invalid parameter")
            if not form.get("video_url", "").startswith("http"):
                return _error(9004, "Only photo or video can be accepted as media type.",
                              2207052)
            if len(form.get("caption", "")) > 2200:
                return _error(100, "The caption is too long", 2207019)
            container_id = str(next(self.counter))
            c = Container(ig_user, form["video_url"], form.get("caption", ""))
            c.task = asyncio.get_running_loop().create_task(self._pull(c))
            self.containers[container_id] = c
            return JSONResponse({"id": container_id})

        @app.post("/{ig_user}/media_publish")
        async def publish(ig_user: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            creation = dict(parse_qsl((await request.body()).decode())).get("creation_id", "")
            c = self.containers.get(creation)
            if c is None or c.status != "FINISHED" or c.published:
                return _error(9007, "The media is not ready for publishing", 2207027)
            c.published = True
            c.status = "PUBLISHED"
            media_id = str(next(self.counter))
            self.media[media_id] = creation
            self.quota_usage += 1
            return JSONResponse({"id": media_id})

        @app.get("/{node}/insights")
        async def insights(node: str, request: Request) -> JSONResponse:
            if (refused := self._auth(request)) is not None:
                return refused
            counts = {"views": 4200, "likes": 310, "comments": 12}
            names = request.query_params.get("metric", "").split(",")
            return JSONResponse({"data": [{"name": n, "period": "lifetime",
                                           "values": [{"value": counts[n]}], "id": f"{node}/"
                                           f"insights/{n}/lifetime"} for n in names]})

        @app.get("/{node}")
        async def node(node: str, request: Request) -> Response:
            if (refused := self._auth(request)) is not None:
                return refused
            if node in self.containers:
                self.polls += 1
                if self.drop_polls > 0:
                    self.drop_polls -= 1
                    return Dropped()
                c = self.containers[node]
                status = {"FINISHED": "Finished: Media has been uploaded and is ready",
                          "ERROR": "Error: The video file is not a supported format (2207026)",
                          "IN_PROGRESS": "In Progress: Media is still being processed"}
                return JSONResponse({"id": node, "status_code": c.status,
                                     "status": status.get(c.status, c.status)})
            if node in self.media:
                return JSONResponse({"id": node, "permalink":
                                     f"https://www.instagram.com/reel/C{node}/"})
            if node == self.ig_user:
                return JSONResponse({"id": node, "username": "clipray.test"})
            return _error(100, "Unsupported get request. Object does not exist", 33)

        return app
