"""A job followed as it runs: its snapshots, read in short sessions, turned into the
messages the job's event stream sends (``GET /api/jobs/{id}/events``) and its WebSocket
mirrors (``WS /ws/jobs/{id}``), so that both say the same thing in the same order.

Messages: ``step`` (an attempt started or ended: the step as the API shows it), ``status``
(``id``, ``status``, ``progress``, ``paused``, ``error``, when one of them changed), then
``end`` (``status``) once the job is finished or in review (only a person moves it on from
there) or deleted. Every replica reads the database, so any replica can serve a follower.

    >>> async for n, kind, data in follow_job(db, settings, ws_id, job_id, view):  # doctest: +SKIP
    ...     print(n, kind, data)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.jobs.machine import ACTIVE
from clipray.services import jobs
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.orm import Job, JobStatus

__all__ = ["KEEP_ALIVE_S", "JobFeed", "check", "follow_job"]

KEEP_ALIVE_S = 15.0
"""A follower quiet this long yields None (the SSE route writes a comment line)."""
STATUS_KEYS = ("id", "status", "progress", "paused", "error")

Message = tuple[int, str, dict[str, Any]]
"""``(n, kind, data)``: ``n`` numbers the follower's messages from 1 (the SSE ``id``)."""


def check(db: Database, workspace_id: str, job_id: str) -> None:
    """Refuse to follow a job that is not the workspace's: 404 ``JOB_NOT_FOUND``, 403
    ``FORBIDDEN`` for another workspace's."""
    with db.session() as s:
        owned(s, Job, job_id, workspace_id, "job")


class JobFeed:
    """What changed between a job's snapshots (``view``'s JSON of the job: ``steps``,
    ``status``, ``progress``, ``paused``, ``error``), as messages."""

    def __init__(self) -> None:
        self.n = 0
        self.last_status: tuple[Any, ...] | None = None
        self.seen_steps: dict[tuple[str, int], str] = {}
        self.ended = False

    def _msg(self, kind: str, data: dict[str, Any]) -> Message:
        self.n += 1
        return self.n, kind, data

    def diff(self, snap: dict[str, Any] | None) -> list[Message]:
        """The messages of one snapshot (None: the job is gone); :attr:`ended` after the
        last."""
        if snap is None:
            self.ended = True
            return [self._msg("end", {"status": "deleted"})]
        out = []
        for st in snap["steps"]:
            key = (st["name"], st["attempt"])
            if self.seen_steps.get(key) != st["status"]:
                self.seen_steps[key] = st["status"]
                out.append(self._msg("step", st))
        status = (snap["status"], round(snap["progress"], 3), snap["paused"], snap["error"])
        if status != self.last_status:
            self.last_status = status
            out.append(self._msg("status", {k: snap[k] for k in STATUS_KEYS}))
        if JobStatus(snap["status"]) not in ACTIVE:  # only a person moves it on now
            self.ended = True
            out.append(self._msg("end", {"status": snap["status"]}))
        return out


async def follow_job(db: Database, settings: Settings, workspace_id: str, job_id: str,
                     view: Callable[[Session, Job], dict[str, Any]], *,
                     gone: Callable[[], Awaitable[bool]] | None = None,
                     ) -> AsyncIterator[Message | None]:  # fmt: skip
    """The job's messages as they happen, ending with ``end``; None after
    :data:`KEEP_ALIVE_S` without a status change. Stops early when ``gone()`` says the
    client went away."""
    jf = JobFeed()
    idle = 0.0
    poll = max(settings.job_poll_interval_s, 0.2)
    while gone is None or not await gone():
        snap = await asyncio.to_thread(jobs.read_job, db, workspace_id, job_id, view)
        for msg in jf.diff(snap):
            if msg[1] == "status":
                idle = 0.0
            yield msg
        if jf.ended:
            return
        await asyncio.sleep(poll)
        idle += poll
        if idle >= KEEP_ALIVE_S:
            idle = 0.0
            yield None
