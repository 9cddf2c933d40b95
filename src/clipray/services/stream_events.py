"""A live stream's event feed, as watchers follow it: the events its analysis detects, the
clips it stores and its status changes, in order, resumable, from whichever replica.

The messages are rows (``storage/stream_events.py``) that the stream's worker appends;
following a feed is polling them in short sessions (no transaction held between two looks,
as the job event stream does), every ``CLIPRAY_STREAM_EVENTS_POLL_S``. A feed is complete
once the monitor is stopped and no worker holds it any more (a stopping worker drains and
may store a last clip first): the follower then says ``end`` and returns. The SSE route,
the WebSocket route and ``clipray streams watch`` all follow through here.

    >>> check(db, ws_id, monitor_id)                                    # doctest: +SKIP
    >>> async for msg in follow(db, settings, monitor_id, after=0):    # doctest: +SKIP
    ...     print(msg)     # {"type": "clip", "seq": 7, "at": ..., "id": ..., ...}, None: idle
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from clipray.config import Settings
from clipray.domain.stream_events import end_message, message
from clipray.domain.streams import MonitorStatus
from clipray.domain.time import utcnow
from clipray.services.access import owned
from clipray.storage import stream_events as feed
from clipray.storage.db import Database
from clipray.storage.orm import StreamMonitor

__all__ = ["KEEP_ALIVE_S", "Batch", "check", "follow", "read", "watch"]

KEEP_ALIVE_S = 15.0
"""A quiet follower yields None this often: the SSE route writes a comment line then, so
that proxies do not close an idle stream."""
BATCH = 500
"""Messages read per look: a follower that resumes far back catches up in a few looks."""


@dataclass(frozen=True)
class Batch:
    """One look at a feed: the messages after the given sequence number, and whether the
    feed is complete after them."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    last: int = 0
    """The sequence number of the last message (the one asked after when there is none)."""
    end: dict[str, Any] | None = None
    """The ``end`` message when nothing can follow these messages."""


def check(db: Database, workspace_id: str, monitor_id: str) -> None:
    """Refuse to follow a stream that is not the workspace's: 404 ``STREAM_NOT_FOUND``,
    403 ``FORBIDDEN`` for another workspace's."""
    with db.session() as s:
        owned(s, StreamMonitor, monitor_id, workspace_id, "stream")


def read(db: Database, monitor_id: str, after: int, limit: int = BATCH) -> Batch:
    """The feed's messages numbered above ``after``, in a short session of its own.

    The monitor's state is read before the messages: a feed found complete then (stopped,
    unclaimed) cannot have gained a message the read below misses."""
    with db.session() as s:
        state = feed.feed_state(s, monitor_id, utcnow())
        rows = feed.after(s, monitor_id, after, limit)
        messages = [message(r.seq, r.type, r.payload, r.created_at) for r in rows]
    last = rows[-1].seq if rows else after
    if state is None:
        return Batch(messages, last, end_message(None))
    status, claimed = state
    done = status == MonitorStatus.STOPPED.value and not claimed and len(rows) < limit
    return Batch(messages, last, end_message(status) if done else None)


async def follow(db: Database, settings: Settings, monitor_id: str, after: int = 0, *,
                 gone: Callable[[], Awaitable[bool]] | None = None,
                 ) -> AsyncIterator[dict[str, Any] | None]:  # fmt: skip
    """The feed's messages after ``after`` as they are recorded, then its ``end`` message;
    None every :data:`KEEP_ALIVE_S` of quiet. Stops early when ``gone()`` (the client
    went away) says so."""
    poll = settings.stream_events_poll_s
    idle = 0.0
    while gone is None or not await gone():
        batch = await asyncio.to_thread(read, db, monitor_id, after)
        for msg in batch.messages:
            yield msg
        after = batch.last
        if batch.end is not None:
            yield batch.end
            return
        if batch.messages:
            idle = 0.0
            if len(batch.messages) >= BATCH:
                continue  # catching up: look again at once
        await asyncio.sleep(poll)
        idle += poll
        if idle >= KEEP_ALIVE_S:
            idle = 0.0
            yield None


def watch(db: Database, settings: Settings, monitor_id: str, after: int = 0,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """:func:`follow` for a terminal: blocking, without keep-alives."""
    while True:
        batch = read(db, monitor_id, after)
        yield from batch.messages
        after = batch.last
        if batch.end is not None:
            yield batch.end
            return
        if len(batch.messages) < BATCH:
            sleep(settings.stream_events_poll_s)
