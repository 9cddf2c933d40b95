"""Queued media work claimed with an attempt number: clip exports and highlight reels.

A row waits ``pending``; a worker claims it (``running``, attempt + 1) with a conditional
update, so two workers never both win; only the latest claimant may record the outcome
(a worker that was given up for dead cannot overwrite its successor's result). After a
runner restart, rows left ``running`` go back to ``pending``: the work is idempotent.

    >>> attempt = claim(session, ClipExport, export_id)           # doctest: +SKIP
    >>> finish(session, ClipExport, export_id, attempt, status=ExportStatus.DONE)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clipray.storage.orm import ClipExport, ExportStatus, HighlightReel, utcnow

Claimable = TypeVar("Claimable", ClipExport, HighlightReel)


def claim(session: Session, model: type[Claimable], row_id: str) -> int | None:
    """Take a pending row; returns the attempt number the claimant must record its outcome
    with, or None when another worker has it (or it is done)."""
    return take(session, model, row_id, ExportStatus.PENDING, ExportStatus.RUNNING, utcnow())


def take(session: Session, model: Any, row_id: str, pending: Any, running: Any,
         now: datetime, *ready: Any) -> int | None:  # fmt: skip
    """The conditional update every queue here claims with: ``model``'s row goes from
    ``pending`` to ``running`` with attempt + 1 only if nobody moved it since it was read
    (and only while every ``ready`` condition holds). Returns the new attempt, or None."""
    row = session.execute(
        select(model.status, model.attempt).where(model.id == row_id, *ready)
    ).first()  # fmt: skip
    if row is None or row.status is not pending:
        return None
    attempt = row.attempt + 1
    done = session.execute(
        update(model)
        .where(model.id == row_id, model.status == pending, model.attempt == row.attempt,
               *ready)
        .values(status=running, attempt=attempt, started_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return attempt if done.rowcount == 1 else None  # type: ignore[attr-defined]


def finish(session: Session, model: type[Claimable], row_id: str, attempt: int,
           **values: object) -> bool:  # fmt: skip
    """Record an outcome (``status``, ``method``, ...) if ``attempt`` still holds the row;
    False when a later claim took it over."""
    done = session.execute(
        update(model)
        .where(model.id == row_id, model.attempt == attempt)
        .values(finished_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def pending(session: Session, model: type[Claimable], limit: int) -> list[Claimable]:
    """Rows waiting for a worker, oldest first."""
    return list(session.scalars(
        select(model).where(model.status == ExportStatus.PENDING)
        .order_by(model.created_at, model.id).limit(limit)
    ))  # fmt: skip


def requeue_running(session: Session, model: type[Claimable]) -> int:
    """After a runner restart: rows left running go back to pending."""
    done = session.execute(
        update(model).where(model.status == ExportStatus.RUNNING)
        .values(status=ExportStatus.PENDING).execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(done.rowcount)  # type: ignore[attr-defined]
