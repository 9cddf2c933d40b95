"""One JSON error shape for every HTTP error, validation errors included:

    {"error": {"code": "JOB_NOT_FOUND", "message": "...", "trace_id": "...", "detail": ...}}

``code`` is machine-readable and stable (upper snake case); ``message`` is for people;
``trace_id`` is also sent as the ``X-Trace-Id`` header and names the request in the logs
(a client's own ``X-Request-Id`` is used when it is a sane token); ``detail`` carries
structured extras (the failing fields of a validation error) and is often absent.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipray.domain.errors import CodedError
from clipray.domain.errors import not_found as domain_not_found

log = logging.getLogger("clipray.api")
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ErrorBody(BaseModel):
    code: str
    message: str
    trace_id: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    """The body of every non-2xx response."""

    error: ErrorBody


def not_found(kind: str, ident: str) -> CodedError:
    """``JOB_NOT_FOUND`` and friends: the one way a missing record is reported."""
    return domain_not_found(kind, ident)


def trace_id(request: Request) -> str:
    return getattr(request.state, "trace_id", "") or uuid.uuid4().hex


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    detail: Any | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, trace_id=trace_id(request), detail=detail)
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


class TraceMiddleware:
    """Gives every request a trace id (``request.state.trace_id``, ``X-Trace-Id``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        tid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["trace_id"] = tid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-trace-id", tid.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(TraceMiddleware)

    @app.exception_handler(CodedError)
    async def _coded_error(req: Request, exc: CodedError) -> JSONResponse:
        """Every refusal, whichever layer raised it: its own status, code and headers."""
        if exc.status >= 500:
            log.warning("%s (trace %s): %s", exc.code, trace_id(req), exc.message)
        return error_response(req, exc.status, exc.code, exc.message, exc.detail,
                              exc.headers or None)  # fmt: skip

    @app.exception_handler(HTTPException)
    async def _http_error(req: Request, exc: HTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        return error_response(req, exc.status_code, code, str(exc.detail),
                              headers=getattr(exc, "headers", None))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _validation_error(req: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]  # fmt: skip
        return error_response(req, 422, "VALIDATION_ERROR", "the request is not valid", fields)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error (trace %s)", trace_id(req), exc_info=exc)
        return error_response(req, 500, "INTERNAL_ERROR", "internal error")
