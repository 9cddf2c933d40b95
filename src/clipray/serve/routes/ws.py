"""WebSockets: a live stream's events (``/ws/stream/{id}``) and a job's progress
(``/ws/jobs/{id}``), for clients that would rather hold one socket than an event stream.

They send what the server-sent events send, as JSON text frames: a stream's messages as
``GET /api/streams/{id}/events`` carries them (``{"type": "event" | "clip" | "status",
"seq", "at", ...}``, then ``{"type": "end"}``), a job's as ``{"type": "step" | "status" |
"end", "seq": n, "data": <the SSE's data>}``. ``?after=<seq>`` resumes a stream's feed.
Authentication, refusals and the token's expiry: ``serve/sockets.py``. Ray Serve's proxy
passes WebSockets through to the FastAPI ingress, so these run on every replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from clipray.domain.errors import CodedError
from clipray.serve.deps import app_services
from clipray.serve.permissions import Action
from clipray.serve.routes.jobs import job_view
from clipray.serve.sockets import connect, pump, refuse
from clipray.services import job_events, stream_events

router = APIRouter(tags=["realtime"])


@router.websocket("/ws/stream/{stream_id}")
async def stream_socket(
    websocket: WebSocket,
    stream_id: str,
    after: Annotated[int, Query(ge=0)] = 0,
) -> None:
    """The stream's events, clips and status changes as JSON text frames (needs
    ``read_streams``); closes after ``end``."""
    svc = app_services(websocket.app)
    caller = await connect(websocket, svc)
    if caller is None:
        return
    try:
        caller.principal.require(Action.READ_STREAMS)
        await asyncio.to_thread(stream_events.check, svc.db, caller.principal.workspace_id,
                                stream_id)  # fmt: skip
    except CodedError as exc:
        await refuse(websocket, exc)
        return
    await pump(websocket, stream_events.follow(svc.db, svc.settings, stream_id, after), caller)


@router.websocket("/ws/jobs/{job_id}")
async def job_socket(websocket: WebSocket, job_id: str) -> None:
    """The job's ``step``, ``status`` and ``end`` messages, as ``GET /api/jobs/{id}/events``
    sends them; closes after ``end``."""
    svc = app_services(websocket.app)
    caller = await connect(websocket, svc)
    if caller is None:
        return
    who = caller.principal
    try:
        who.require(Action.READ)
        await asyncio.to_thread(job_events.check, svc.db, who.workspace_id, job_id)
    except CodedError as exc:
        await refuse(websocket, exc)
        return
    feed = job_events.follow_job(svc.db, svc.settings, who.workspace_id, job_id,
                      job_view(who.can(Action.INSPECT_WORKERS)))  # fmt: skip
    await pump(websocket, _frames(feed), caller)


async def _frames(feed: AsyncIterator[tuple[int, str, dict[str, Any]] | None]
                  ) -> AsyncIterator[dict[str, Any] | None]:  # fmt: skip
    async for msg in feed:
        if msg is None:
            yield None
        else:
            n, kind, data = msg
            yield {"type": kind, "seq": n, "data": data}
