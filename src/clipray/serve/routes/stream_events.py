"""A live stream's events as they happen, over server-sent events: what its analysis
detects (``event``), the clips it stores (``clip``) and its status changes (``status``);
``WS /ws/stream/{id}`` (``routes/ws.py``) sends the same messages.

Each SSE message is ``id: <seq>``, ``event: <type>``, ``data: <the message as JSON>``
(``domain/stream_events.py``); a reconnecting client's ``Last-Event-ID`` (or ``?after=``)
resumes after that message, without repeats. A comment line every 15 s keeps proxies
from closing a quiet stream; ``event: end`` closes it once the monitor is stopped and its
worker has drained. The messages are rows (``services/stream_events.py``), so any replica
serves any stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from clipray.domain.errors import CodedError
from clipray.serve.deps import Caller, ServicesDep
from clipray.serve.permissions import Action
from clipray.services import stream_events

router = APIRouter(prefix="/api/streams", tags=["streams"])


def sse(msg: dict[str, Any]) -> bytes:
    """One server-sent event: the message's ``seq`` as its id (none for ``end``)."""
    head = f"id: {msg['seq']}\n" if "seq" in msg else ""
    return f"{head}event: {msg['type']}\ndata: {json.dumps(msg)}\n\n".encode()


def resume_after(last_event_id: str | None, after: int | None) -> int:
    """Where a follower starts: after ``Last-Event-ID`` (a reconnecting EventSource sends
    it), else ``after``, else the feed's beginning."""
    if last_event_id is None or not last_event_id.strip():
        return after or 0
    if not last_event_id.strip().isdigit():
        raise CodedError("LAST_EVENT_ID_INVALID",
                         "Last-Event-ID must be the seq of a message of this stream",
                         status=400)  # fmt: skip
    return int(last_event_id.strip())


@router.get(
    "/{stream_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events_feed(
    stream_id: str,
    request: Request,
    who: Caller,
    svc: ServicesDep,
    after: Annotated[int | None, Query(ge=0, description="Resume after this seq.")] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Server-sent events of the stream: ``event``, ``clip`` and ``status`` messages as they
    are recorded, ``end`` once the stream is stopped. 404 ``STREAM_NOT_FOUND``, 403 for
    another workspace's stream, 400 ``LAST_EVENT_ID_INVALID``."""
    who.require(Action.READ_STREAMS)
    start = resume_after(last_event_id, after)
    stream_events.check(svc.db, who.workspace_id, stream_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_frames(svc, stream_id, start, request),
                             media_type="text/event-stream", headers=headers)  # fmt: skip


async def _frames(svc: ServicesDep, stream_id: str, after: int, request: Request
                  ) -> AsyncIterator[bytes]:  # fmt: skip
    async for msg in stream_events.follow(svc.db, svc.settings, stream_id, after,
                                          gone=request.is_disconnected):  # fmt: skip
        yield b": keep-alive\n\n" if msg is None else sse(msg)
