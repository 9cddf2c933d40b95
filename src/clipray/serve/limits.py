"""Bounds every request meets before a route parses it: the body's size, and query
parameters the route declares.

    api = FastAPI(dependencies=[Depends(known_query)])
    api.add_middleware(BodyLimitMiddleware, limit=lambda: settings.max_request_bytes)

The API takes small JSON bodies only (videos go straight to the bucket through presigned
uploads), so a body over ``CLIPRAY_MAX_REQUEST_BYTES`` is refused with 413
``PAYLOAD_TOO_LARGE`` before a byte of it is parsed: by its ``Content-Length`` when it
declares one, else while it streams in. A query parameter the route does not declare is a
client's typo or a filter the route does not have (``?status=`` on a list without one);
answering 200 with the filter ignored would look like an empty or unfiltered result, so
it is refused with 422.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipray.domain.brand import ASSET_MAX_BYTES
from clipray.domain.errors import PayloadTooLarge
from clipray.serve.errors import error_response

LARGER_BODIES: Final[tuple[tuple[str, re.Pattern[str], int, str], ...]] = (
    # A brand kit's logo, font or background comes as the raw body (domain.brand).
    ("PUT", re.compile(r"^/api/brand/[^/]+/assets/[^/]+$"), ASSET_MAX_BYTES,
     "BRAND_ASSET_TOO_LARGE"),
)  # fmt: skip
"""``(method, path, limit, code)``: the few routes that take a file as their body, with
their own limit and the code of its refusal."""


def _limit_of(scope: Scope, default: int) -> tuple[int, str]:
    for method, path, limit, code in LARGER_BODIES:
        if scope.get("method") == method and path.match(scope.get("path", "")):
            return max(limit, default), code
    return default, "PAYLOAD_TOO_LARGE"


class BodyLimitMiddleware:
    """Refuse a request body over ``limit()`` bytes with 413 ``PAYLOAD_TOO_LARGE``.

    The body is read here, up to the limit, and handed to the app whole: an oversized one
    is refused before any route or parser sees it, whether or not it declared its length
    (chunked bodies do not). ``limit`` is called per request so that settings read on
    first use (a Serve replica's) apply."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, code = _limit_of(scope, self.limit())
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit, code)
            return
        chunks: list[bytes] = []
        size = 0
        gone: Message | None = None  # a disconnect that came instead of the body
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                gone = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, send, limit, code)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending: list[Message] = [gone or {"type": "http.request", "body": b"".join(chunks),
                                            "more_body": False}]  # fmt: skip

        async def replay() -> Message:
            # The whole body first, then the server's own messages (a disconnect, which a
            # streaming response waits for).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int, code: str) -> None:
        err = PayloadTooLarge(code,
                              f"the request body is over the limit of {limit} bytes",
                              detail={"limit": limit})  # fmt: skip

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        request = Request(scope, nothing)
        response = error_response(request, err.status, err.code, err.message, err.detail,
                                  {"Connection": "close"})  # fmt: skip
        await response(scope, nothing, send)


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def known_query(request: HTTPConnection) -> None:
    """Refuse query parameters the matched route does not declare (422 ``VALIDATION_ERROR``
    naming each one). An app-wide dependency: it runs before the route's own (a
    WebSocket's too, which it leaves alone: a socket has no error response to give)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_names(route.dependant)  # a walk over a few dependants: not cached
    unknown = sorted({k for k in request.query_params if k not in declared})
    if unknown:
        raise RequestValidationError([
            {"loc": ("query", name), "msg": "unknown query parameter",
             "type": "extra_forbidden", "input": request.query_params[name]}
            for name in unknown
        ])  # fmt: skip
