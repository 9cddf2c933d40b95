"""Publication rows of a workspace: the queries behind requesting, deciding, cancelling and
reading publications. Executing them (claiming, recording outcomes) is the publisher's.

A request inserts all its rows in one savepoint: the partial unique index (one open
publication per clip and account) and the idempotency constraint decide between concurrent
requests, and :meth:`PublicationRepo.insert` reports a lost race as False instead of raising.
State changes a person makes are conditional updates, so they never overwrite a claim the
publisher made meanwhile.

    >>> repo = PublicationRepo(session, workspace_id)                     # doctest: +SKIP
    >>> repo.by_key("k-1")
    >>> repo.move(publication_id, CANCELLABLE, status=PublicationStatus.CANCELLED)
    True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.domain.publications import OPEN, PublicationStatus
from clipray.storage.orm import Publication
from clipray.storage.repos import fetch_page

CALENDAR_STATES = (PublicationStatus.SCHEDULED, PublicationStatus.PUBLISHING,
                   PublicationStatus.PUBLISHED)  # fmt: skip
"""What the content calendar shows: what will go out, is going out, or went out."""


@dataclass(frozen=True)
class Filters:
    """What ``GET /api/publish`` narrows the list by (None: any)."""

    status: PublicationStatus | None = None
    platform: str | None = None
    account_id: str | None = None
    clip_id: str | None = None


class PublicationRepo:
    """A workspace's publications."""

    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def insert(self, rows: Iterable[Publication]) -> bool:
        """Add ``rows`` together in a savepoint; False (nothing added) when a unique rule
        refused one: a concurrent request made them first, or the pair is already open."""
        try:
            with self.s.begin_nested():
                self.s.add_all(rows)
                self.s.flush()
        except IntegrityError:
            return False
        return True

    def by_key(self, key: str) -> list[Publication]:
        """The publications a request with ``Idempotency-Key: key`` made, oldest first."""
        return list(self.s.scalars(
            select(Publication)
            .where(Publication.workspace_id == self.workspace_id,
                   Publication.idempotency_key == key)
            .order_by(Publication.created_at, Publication.id)
        ))  # fmt: skip

    def open_pairs(self, clip_ids: Collection[str], account_ids: Collection[str]
                   ) -> list[Publication]:  # fmt: skip
        """Open publications of any of ``clip_ids`` to any of ``account_ids``."""
        return list(self.s.scalars(
            select(Publication)
            .where(Publication.clip_id.in_(clip_ids), Publication.account_id.in_(account_ids),
                   Publication.status.in_(OPEN))
        ))  # fmt: skip

    def page(self, filters: Filters, limit: int, offset: int) -> tuple[list[Publication], int]:
        """One page of the workspace's publications, newest first, and how many match."""
        q = select(Publication).where(Publication.workspace_id == self.workspace_id)
        if filters.status is not None:
            q = q.where(Publication.status == filters.status)
        if filters.platform is not None:
            q = q.where(Publication.platform == filters.platform)
        if filters.account_id is not None:
            q = q.where(Publication.account_id == filters.account_id)
        if filters.clip_id is not None:
            q = q.where(Publication.clip_id == filters.clip_id)
        return fetch_page(self.s, q, limit, offset, Publication.created_at.desc(),
                          Publication.id.desc())  # fmt: skip

    def calendar(self, start: datetime, end: datetime) -> list[Publication]:
        """Scheduled, publishing and published publications whose time falls in
        ``[start, end)``: when it went out for a published one, else when it is due (or,
        for one claimed without a schedule, when the attempt started)."""
        def in_range(col: Any) -> Any:
            return and_(col >= start, col < end)

        p, st = Publication, PublicationStatus
        return list(self.s.scalars(
            select(p).where(
                p.workspace_id == self.workspace_id,
                or_(
                    and_(p.status == st.PUBLISHED, in_range(p.published_at)),
                    and_(p.status.in_((st.SCHEDULED, st.PUBLISHING)), in_range(p.scheduled_at)),
                    and_(p.status == st.PUBLISHING, p.scheduled_at.is_(None),
                         in_range(p.started_at)),
                ),
            ).order_by(p.created_at, p.id)
        ))  # fmt: skip

    def move(self, publication_id: str, allowed: Collection[PublicationStatus],
             **values: Any) -> bool:  # fmt: skip
        """Set ``values`` on the publication only while its status is one of ``allowed``
        (a conditional update: the publisher's claim and a person's decision never both
        win). Returns whether it moved."""
        done = self.s.execute(
            update(Publication)
            .where(Publication.id == publication_id,
                   Publication.workspace_id == self.workspace_id,
                   Publication.status.in_(allowed))
            .values(**values)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        return done.rowcount == 1  # type: ignore[attr-defined]
