"""Faults the fakes inject the way a network does: a connection dropped in the middle of an
upload (the fake reads part of the body, starts an answer and closes the socket, so the
client sees the peer go away mid-exchange, not an HTTP error)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class ConnectionDropped(Exception):
    """Raised inside the fake after its answer started: uvicorn closes the socket."""


class Dropped(Response):
    """An answer cut off after its headers: the client reads a truncated response."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionDropped("the fake drops the connection")


async def read_until(request: Request, limit: int | None) -> tuple[bytes, bool]:
    """The request body, or only its first ``limit`` bytes and ``True`` when the fake is to
    drop the connection there (the rest is never read)."""
    got = bytearray()
    async for part in request.stream():
        got += part
        if limit is not None and len(got) >= limit:
            return bytes(got[:limit]), True
    return bytes(got), False
