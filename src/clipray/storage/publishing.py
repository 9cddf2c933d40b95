"""The publisher's queries: which publications are due, the claim, the conditional outcome,
the restart's requeue, and the stats of recent posts (``services/publishing.py`` combines
them; the requests and reads of publications are ``storage/publications.py``).

A publication is claimed like every queue here (``claims.take``): ``pending`` or
``scheduled`` -> ``publishing`` with attempt + 1, only while ``not_before`` has passed; only
the attempt that still holds the row may record its outcome.

    >>> attempt = claim(session, publication_id, now)                          # doctest: +SKIP
    >>> settle(session, publication_id, attempt, status=PublicationStatus.PUBLISHED, ...)
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clipray.domain.publications import PublicationStatus
from clipray.storage.claims import take
from clipray.storage.orm import GeneratedClip, GeneratedStatus, Publication

CLAIMABLE = (PublicationStatus.PENDING, PublicationStatus.SCHEDULED)


def due(session: Session, now: datetime, limit: int) -> list[str]:
    """Pending or scheduled publications whose ``not_before`` has passed, oldest first."""
    return list(session.scalars(
        select(Publication.id)
        .where(Publication.status.in_(CLAIMABLE), Publication.not_before <= now)
        .order_by(Publication.not_before, Publication.created_at, Publication.id).limit(limit)
    ))  # fmt: skip


def claim(session: Session, publication_id: str, now: datetime) -> int | None:
    """Take a due publication (``publishing``, attempt + 1); the attempt number its outcome
    is recorded with, or None when it is not due, not claimable, or another worker won."""
    status = session.scalar(select(Publication.status).where(Publication.id == publication_id))
    if status not in CLAIMABLE:
        return None
    return take(session, Publication, publication_id, status, PublicationStatus.PUBLISHING, now,
                Publication.not_before <= now)  # fmt: skip


def defer(session: Session, publication_id: str, now: datetime, until: datetime, code: str,
          why: str) -> bool:  # fmt: skip
    """Push a due, unclaimed publication's ``not_before`` to ``until`` with why (no attempt
    is spent); False when it was not due or someone claimed it meanwhile."""
    done = session.execute(
        update(Publication)
        .where(Publication.id == publication_id, Publication.status.in_(CLAIMABLE),
               Publication.not_before <= now)
        .values(not_before=until, error_code=code, error=why)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return done.rowcount == 1  # type: ignore[attr-defined]


def settle(session: Session, publication_id: str, attempt: int, **values: Any) -> bool:
    """Record an outcome if ``attempt`` still holds the row (it is ``publishing`` under that
    attempt); False when it was given up for dead, or a later claim took it over."""
    done = session.execute(
        update(Publication)
        .where(Publication.id == publication_id, Publication.attempt == attempt,
               Publication.status == PublicationStatus.PUBLISHING)
        .values(**values).execution_options(synchronize_session=False)
    )  # fmt: skip
    return done.rowcount == 1  # type: ignore[attr-defined]


def publishing(session: Session) -> list[tuple[str, int]]:
    """``(id, attempt)`` of every publication being published (after a restart: the ones a
    dead attempt left)."""
    rows = session.execute(
        select(Publication.id, Publication.attempt)
        .where(Publication.status == PublicationStatus.PUBLISHING)
    ).all()  # fmt: skip
    return [(r.id, r.attempt) for r in rows]


def started_before(session: Session, publication_ids: list[str], cutoff: datetime
                   ) -> list[str]:  # fmt: skip
    """Of ``publication_ids``, the ones publishing under an attempt claimed before ``cutoff``."""
    return list(session.scalars(
        select(Publication.id)
        .where(Publication.id.in_(publication_ids),
               Publication.status == PublicationStatus.PUBLISHING,
               Publication.started_at < cutoff)
    ))  # fmt: skip


def mark_generated_published(session: Session, generated_id: str, at: datetime) -> bool:
    """A generated clip was posted: ``published`` (retention never purges it), unless it was
    purged meanwhile."""
    done = session.execute(
        update(GeneratedClip)
        .where(GeneratedClip.id == generated_id, GeneratedClip.status != GeneratedStatus.PURGED)
        .values(status=GeneratedStatus.PUBLISHED, published_at=at, expires_at=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return done.rowcount == 1  # type: ignore[attr-defined]


# --- analytics ---------------------------------------------------------------------------
def recent_posts(session: Session, since: datetime, limit: int) -> list[Publication]:
    """Published publications of live accounts posted since ``since``, the least recently
    pulled first (never pulled before all)."""
    return list(session.scalars(
        select(Publication)
        .where(Publication.status == PublicationStatus.PUBLISHED,
               Publication.published_at >= since, Publication.account_id.is_not(None),
               Publication.platform_post_id.is_not(None))
        .order_by(Publication.stats_at.is_not(None), Publication.stats_at, Publication.id)
        .limit(limit)
    ))  # fmt: skip


def record_stats(session: Session, publication_id: str, stats: dict[str, int],
                 at: datetime) -> None:  # fmt: skip
    session.execute(
        update(Publication).where(Publication.id == publication_id)
        .values(stats=stats, stats_at=at).execution_options(synchronize_session=False)
    )  # fmt: skip


def published_page(session: Session, workspace_id: str, platform: str | None, limit: int,
                   offset: int) -> tuple[list[Publication], int]:  # fmt: skip
    """One page of the workspace's published publications, newest first, and the count."""
    where = [Publication.workspace_id == workspace_id,
             Publication.status == PublicationStatus.PUBLISHED]  # fmt: skip
    if platform is not None:
        where.append(Publication.platform == platform)
    total = session.scalar(select(func.count()).select_from(Publication).where(*where)) or 0
    rows = session.scalars(
        select(Publication).where(*where)
        .order_by(Publication.published_at.desc(), Publication.id).limit(limit).offset(offset)
    ).all()  # fmt: skip
    return list(rows), int(total)


def published_stats(session: Session, workspace_id: str, platform: str | None
                    ) -> list[tuple[str, dict[str, int]]]:  # fmt: skip
    """``(platform, stats)`` of every published publication of the workspace (the totals
    are summed from these: stats is a JSON column, which SQLite and PostgreSQL sum apart)."""
    q = select(Publication.platform, Publication.stats).where(
        Publication.workspace_id == workspace_id,
        Publication.status == PublicationStatus.PUBLISHED,
    )
    if platform is not None:
        q = q.where(Publication.platform == platform)
    return [(r.platform, dict(r.stats or {})) for r in session.execute(q).all()]
