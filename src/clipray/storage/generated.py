"""Generated clips in the database: upsert on the candidate, the live cap, keep, the sweep.

A generated clip is one row per candidate it came from (``candidate_id`` is unique): a
retried render finds the row and refreshes it, so there is never a second row or a second
object. The sweep's queries are workspace-independent (the retention actor serves every
workspace); everything a user reaches goes through :class:`GeneratedRepo`, scoped to one.

    >>> with db.session() as s:                                              # doctest: +SKIP
    ...     row, replaced = GeneratedRepo(s, ws).record(clip, size, kind, now, days, cap)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clipray.clips.retention import expiry, is_due
from clipray.domain.errors import CodedError
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    GeneratedKind,
    GeneratedStatus,
    as_utc,
)
from clipray.storage.repos import fetch_page, get_or_create


class GeneratedLimitError(CodedError):
    """The workspace has as many live generated clips as it may (409
    ``GENERATED_CLIP_LIMIT``; not retryable as such: a person must free some first)."""

    code = "GENERATED_CLIP_LIMIT"
    status = 409

    def __init__(self, live: int, cap: int, **kw: Any) -> None:
        super().__init__(
            type(self).code,
            f"the workspace has {live} live generated clips, its limit is {cap}: keep, "
            "publish or wait for some to expire before generating more",
            detail=kw.pop("detail", {"live": live, "cap": cap}),
            **kw,
        )
        self.live, self.cap = live, cap


@dataclass(frozen=True)
class Generation:
    """One generated file to record: what it came from, where it is, what it is."""

    candidate_id: str
    """A rendered clip's id, or a highlight reel's."""
    source_id: str | None
    storage_key: str
    size_bytes: int
    duration_s: float
    title: str
    kind: GeneratedKind


class GeneratedRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def live_count(self) -> int:
        """Ephemeral clips that count against the cap (available; kept ones are the user's)."""
        return self.s.scalar(
            select(func.count()).where(
                GeneratedClip.workspace_id == self.workspace_id,
                GeneratedClip.status == GeneratedStatus.AVAILABLE,
            )
        ) or 0  # fmt: skip

    def require_room(self, cap: int) -> None:
        """Raise :class:`GeneratedLimitError` when no more clips may be generated now."""
        live = self.live_count()
        if live >= cap:
            raise GeneratedLimitError(live, cap)

    def by_candidate(self, candidate_id: str) -> GeneratedClip | None:
        return self.s.scalar(
            select(GeneratedClip).where(GeneratedClip.candidate_id == candidate_id)
        )

    def record(
        self, clip: Clip, size_bytes: int, kind: GeneratedKind, now: datetime,
        retention_days: float, cap: int,
    ) -> tuple[GeneratedClip, str | None]:  # fmt: skip
        """Upsert the generated clip of a rendered ``clip`` and link it (see :meth:`upsert`)."""
        assert clip.video_key is not None, "record a rendered clip"
        row, replaced = self.upsert(
            Generation(clip.id, clip.source_id, clip.video_key, size_bytes,
                       round(clip.end_s - clip.start_s, 3), clip.title, kind),
            now, retention_days, cap,
        )  # fmt: skip
        clip.generated_clip_id = row.id
        self.s.flush()
        return row, replaced

    def upsert(self, gen: Generation, now: datetime, retention_days: float, cap: int
               ) -> tuple[GeneratedClip, str | None]:  # fmt: skip
        """Upsert the generated clip of ``gen.candidate_id``.

        A new generation (no row yet, or the old one purged) must fit under ``cap``
        (:class:`GeneratedLimitError` otherwise) and expires ``retention_days`` from now; a
        kept or published clip stays so. Returns the row and the key of an object it
        replaced (a different key than before), which the caller deletes.
        """
        existing = self.by_candidate(gen.candidate_id)
        fresh = existing is None or existing.status is GeneratedStatus.PURGED
        if fresh:
            self.require_room(cap)

        def create() -> GeneratedClip:
            row = GeneratedClip(workspace_id=self.workspace_id, candidate_id=gen.candidate_id,
                                storage_key=gen.storage_key)  # fmt: skip
            self.s.add(row)
            self.s.flush()
            return row

        row, _ = get_or_create(self.s, lambda: self.by_candidate(gen.candidate_id), create)
        replaced = None
        if row.status is not GeneratedStatus.PURGED and row.storage_key != gen.storage_key:
            replaced = row.storage_key
        row.source_id, row.storage_key, row.kind = gen.source_id, gen.storage_key, gen.kind
        row.size_bytes, row.duration_s, row.title = gen.size_bytes, gen.duration_s, gen.title
        if row.status in (GeneratedStatus.AVAILABLE, GeneratedStatus.PURGED):
            row.status, row.purged_at = GeneratedStatus.AVAILABLE, None
            row.expires_at = expiry(now, retention_days)
        self.s.flush()
        return row, replaced

    def get(self, generated_id: str) -> GeneratedClip | None:
        row = self.s.get(GeneratedClip, generated_id)
        return row if row is not None and row.workspace_id == self.workspace_id else None

    def page(self, limit: int, offset: int, status: GeneratedStatus | None = None
             ) -> tuple[list[GeneratedClip], int]:  # fmt: skip
        """The workspace's generated clips (purged ones only when asked for), newest first."""
        q = select(GeneratedClip).where(GeneratedClip.workspace_id == self.workspace_id)
        if status is None:
            q = q.where(GeneratedClip.status != GeneratedStatus.PURGED)
        else:
            q = q.where(GeneratedClip.status == status)
        return fetch_page(self.s, q, limit, offset, GeneratedClip.created_at.desc(),
                          GeneratedClip.id)  # fmt: skip

    def purge_for_clips(self, clip_ids: list[str], now: datetime) -> None:
        """The rows of rendered clips being deleted (their files go with them)."""
        self.s.execute(
            update(GeneratedClip)
            .where(GeneratedClip.workspace_id == self.workspace_id,
                   GeneratedClip.candidate_id.in_(clip_ids),
                   GeneratedClip.status != GeneratedStatus.PURGED)
            .values(status=GeneratedStatus.PURGED, purged_at=now, expires_at=None)
            .execution_options(synchronize_session=False)
        )  # fmt: skip

    @staticmethod
    def gone(row: GeneratedClip, now: datetime) -> bool:
        """Purged, or expired and waiting for the sweep: to its users it no longer exists."""
        expires = as_utc(row.expires_at) if row.expires_at else None
        return row.status is GeneratedStatus.PURGED or is_due(row.status.value, expires, now)

    @staticmethod
    def keep(row: GeneratedClip, now: datetime) -> GeneratedClip:
        """The user keeps it: it never expires (a published clip stays published)."""
        if row.status is GeneratedStatus.AVAILABLE:
            row.status = GeneratedStatus.KEPT
        row.kept_at = row.kept_at or now
        row.expires_at = None
        return row


# --- the sweep: every workspace ----------------------------------------------------------
def due(session: Session, now: datetime, limit: int) -> list[GeneratedClip]:
    """Available clips whose time is up, oldest first."""
    return list(session.scalars(
        select(GeneratedClip)
        .where(GeneratedClip.status == GeneratedStatus.AVAILABLE,
               GeneratedClip.expires_at <= now)
        .order_by(GeneratedClip.expires_at, GeneratedClip.id).limit(limit)
    ))  # fmt: skip


def mark_purged(session: Session, generated_id: str, now: datetime) -> bool:
    """After its objects are deleted: the row is purged (only if it is still due: a keep
    that landed meanwhile wins) and the candidate's link cleared so it can be rendered
    again. Returns whether the row was purged."""
    done = session.execute(
        update(GeneratedClip)
        .where(GeneratedClip.id == generated_id,
               GeneratedClip.status == GeneratedStatus.AVAILABLE)
        .values(status=GeneratedStatus.PURGED, purged_at=now, expires_at=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(Clip)
        .where(Clip.generated_clip_id == generated_id)
        .values(generated_clip_id=None, status=ClipStatus.FAILED, video_key=None,
                thumbnail_key=None, fcpxml_key=None, edl_key=None,
                error="its generated files expired; render it again to get them back")
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return True


def live_keys(session: Session) -> list[str]:
    """The storage keys of every generated clip that is not purged."""
    return list(session.scalars(
        select(GeneratedClip.storage_key).where(GeneratedClip.status != GeneratedStatus.PURGED)
    ))  # fmt: skip
