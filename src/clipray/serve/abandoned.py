"""A request runs to its end when its client leaves.

Ray Serve cancels a request whose client disconnects (its asyncio task is cancelled). A
route that runs in the threadpool goes on in its thread, but the cancellation unwinds the
request's dependencies at once: the database session can be closed while the route still
uses it, and the route's next query then opens a transaction nobody ends. On SQLite that
transaction holds the write lock every later request waits on (a page that moves on aborts
its fetches, so this is the studio's everyday case, not a rare one).

So an HTTP request runs in a task of its own that the client's leaving does not cancel: the
route ends, its session commits or rolls back, and what it would have answered is dropped.
Only an event stream (``text/event-stream``) is cancelled with its client once its response
has begun: its routes end their transaction before streaming and poll in short sessions.
WebSockets are passed through (their handlers see the close themselves).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_FINISHING: set[asyncio.Task[None]] = set()  # abandoned requests running to their end


def _is_stream(message: Message) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/event-stream")
               for name, value in message.get("headers", ()))  # fmt: skip


def _finished(task: asyncio.Task[None]) -> None:
    _FINISHING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.info("a request its client left ended in %r", task.exception())


class FinishAbandonedRequests:
    """Outermost ASGI middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streaming = abandoned = False

        async def watched(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                streaming = _is_stream(message)
                if streaming and abandoned:  # left before its stream began: none to send
                    raise asyncio.CancelledError
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, watched))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            abandoned = True
            if streaming:
                task.cancel()
            elif not task.done():
                _FINISHING.add(task)
                task.add_done_callback(_finished)
            raise
