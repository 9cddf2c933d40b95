"""Stream clips in the database: found by monitor and window key, recorded once.

A stream clip is two rows written together: the ``generated_clips`` row (kind ``stream``;
retention, keep and the generated-clip API see it like any other) and the ``stream_clips``
row that says which window of which stream it is. The unique ``(monitor_id, window_key)``
decides a race between two workers cutting the same moment: the loser finds the winner's.

    >>> with db.session() as s:                                              # doctest: +SKIP
    ...     row, created = StreamClipRepo(s, ws).record(gen, window, now, days, cap)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.clips.retention import expiry
from clipray.storage.generated import GeneratedRepo, Generation
from clipray.storage.orm import GeneratedClip, GeneratedStatus, StreamClip
from clipray.storage.repos import get_or_create

RECENT_FOR_LATENCY = 500
"""Clips the latency percentiles are taken over: a monitor's most recent ones (a day of a
busy stream at the default cap), so the figure follows the present and the read stays small."""


@dataclass(frozen=True)
class StreamWindow:
    """Where a stream clip lies: on the stream clock and in UTC, and what made it."""

    monitor_id: str
    window_key: str
    stream_start: float
    stream_end: float
    received_start: datetime | None
    received_end: datetime | None
    events: list[dict[str, Any]]


class StreamClipRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def by_window(self, monitor_id: str, window_key: str) -> StreamClip | None:
        return self.s.scalar(select(StreamClip).where(StreamClip.monitor_id == monitor_id,
                                                      StreamClip.window_key == window_key))

    def generated(self, row: StreamClip) -> GeneratedClip:
        clip = self.s.get(GeneratedClip, row.generated_clip_id)
        assert clip is not None, "a stream clip's generated row goes with it (CASCADE)"
        return clip

    def record(self, generated_id: str, gen: Generation, window: StreamWindow, now: datetime,
               retention_days: float, cap: int) -> tuple[StreamClip, bool]:  # fmt: skip
        """Record the generated clip ``generated_id`` (its objects already stored) and its
        stream window, unless the window has a clip already. Returns the window's row and
        whether this call created it (False: the caller's objects are not needed).

        Raises:
            GeneratedLimitError: a new clip and the workspace is at its live cap.
        """
        found = self.by_window(window.monitor_id, window.window_key)
        if found is not None:
            return found, False
        GeneratedRepo(self.s, self.workspace_id).require_room(cap)

        def create() -> StreamClip:
            self.s.add(GeneratedClip(
                id=generated_id, workspace_id=self.workspace_id, source_id=None,
                candidate_id=gen.candidate_id, kind=gen.kind, status=GeneratedStatus.AVAILABLE,
                storage_key=gen.storage_key, size_bytes=gen.size_bytes,
                duration_s=gen.duration_s, title=gen.title[:200],
                expires_at=expiry(now, retention_days)))  # fmt: skip
            self.s.flush()
            row = StreamClip(
                generated_clip_id=generated_id, workspace_id=self.workspace_id,
                monitor_id=window.monitor_id, window_key=window.window_key,
                stream_start=window.stream_start, stream_end=window.stream_end,
                received_start=window.received_start, received_end=window.received_end,
                events=window.events, available_at=now)  # fmt: skip
            self.s.add(row)
            self.s.flush()
            return row

        return get_or_create(self.s, lambda: self.by_window(window.monitor_id,
                                                            window.window_key), create)

    def of_monitor(self, monitor_id: str) -> list[StreamClip]:
        """The monitor's clips in stream order (what a recreated worker must not repeat)."""
        return list(self.s.scalars(select(StreamClip).where(
            StreamClip.workspace_id == self.workspace_id, StreamClip.monitor_id == monitor_id,
        ).order_by(StreamClip.stream_start)))  # fmt: skip

    def page_of_monitor(self, monitor_id: str, limit: int, offset: int
                        ) -> tuple[list[tuple[StreamClip, GeneratedClip]], int]:  # fmt: skip
        """The monitor's clips not purged, newest first (by ``available_at``), each with its
        generated clip, and how many there are."""
        where = (StreamClip.workspace_id == self.workspace_id,
                 StreamClip.monitor_id == monitor_id,
                 GeneratedClip.status != GeneratedStatus.PURGED)  # fmt: skip
        joined = select(StreamClip, GeneratedClip).join(
            GeneratedClip, GeneratedClip.id == StreamClip.generated_clip_id).where(*where)
        total = self.s.scalar(select(func.count()).select_from(joined.subquery())) or 0
        rows = self.s.execute(joined.order_by(StreamClip.available_at.desc(),
                                              StreamClip.generated_clip_id.desc())
                              .limit(limit).offset(offset)).all()  # fmt: skip
        return [(r[0], r[1]) for r in rows], int(total)

    def recent_of_monitor(self, monitor_id: str, n: int = RECENT_FOR_LATENCY) -> list[StreamClip]:
        """The monitor's ``n`` most recent clips (purged ones too: their latency happened)."""
        return list(self.s.scalars(select(StreamClip).where(
            StreamClip.workspace_id == self.workspace_id, StreamClip.monitor_id == monitor_id,
        ).order_by(StreamClip.available_at.desc()).limit(n)))  # fmt: skip
