"""Repositories of upload reservations and of the keepers' sweep records.

A presigned upload can put up to its declared size on the media bucket without the API
seeing a byte, so the presign reserves that size against the workspace's storage quota
(a row here) until the upload is confirmed or the retention keeper clears it after expiry.

    >>> with db.session() as s:                                   # doctest: +SKIP
    ...     repo = UploadRepo(s, workspace_id)
    ...     repo.lock()
    ...     if used + repo.reserved_bytes(now) + size <= limit:
    ...         repo.reserve(key, size, expires_at)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clipray.storage.orm import KeeperSweep, UploadReservation, Workspace, as_utc


class UploadRepo:
    """The reservations of one workspace."""

    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def lock(self) -> None:
        """Serialise quota decisions of this workspace until the transaction ends, so two
        presigns on two replicas cannot both take the last free bytes. PostgreSQL: a row
        lock on the workspace; SQLite: clipray's transactions begin IMMEDIATE, so the
        database's write lock is already held (``with_for_update`` is a no-op there)."""
        self.s.execute(select(Workspace.id).where(Workspace.id == self.workspace_id)
                       .with_for_update())  # fmt: skip

    def reserved_bytes(self, now: datetime) -> int:
        """Bytes held by presigns of the workspace that have not expired at ``now``."""
        total = self.s.scalar(
            select(func.coalesce(func.sum(UploadReservation.size_bytes), 0)).where(
                UploadReservation.workspace_id == self.workspace_id,
                UploadReservation.expires_at > now,
            )
        )
        return int(total or 0)

    def reserve(self, key: str, size: int, expires_at: datetime) -> UploadReservation:
        row = UploadReservation(workspace_id=self.workspace_id, storage_key=key,
                                size_bytes=size, expires_at=expires_at)  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return row

    def release(self, key: str) -> bool:
        """Drop the reservation of ``key`` (confirmed); False when there was none (an upload
        presigned before reservations existed, or one the keeper already cleared)."""
        done = self.s.execute(
            delete(UploadReservation).where(UploadReservation.workspace_id == self.workspace_id,
                                            UploadReservation.storage_key == key)
        )  # fmt: skip
        return bool(done.rowcount)

    def get(self, key: str) -> UploadReservation | None:
        return self.s.scalar(
            select(UploadReservation).where(UploadReservation.workspace_id == self.workspace_id,
                                            UploadReservation.storage_key == key)
        )  # fmt: skip


def abandoned(session: Session, cutoff: datetime, limit: int) -> list[UploadReservation]:
    """Reservations whose presign expired at or before ``cutoff``, oldest first."""
    return list(session.scalars(
        select(UploadReservation).where(UploadReservation.expires_at <= cutoff)
        .order_by(UploadReservation.expires_at, UploadReservation.id).limit(limit)
    ))  # fmt: skip


def drop_reservation(session: Session, reservation_id: str) -> None:
    session.execute(delete(UploadReservation).where(UploadReservation.id == reservation_id))


def reserved_keys(session: Session) -> set[str]:
    """Every key a reservation still holds, across workspaces."""
    return set(session.scalars(select(UploadReservation.storage_key)))


def workspace_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Workspace.id).order_by(Workspace.id)))


def last_sweep(session: Session, name: str) -> datetime | None:
    """When the keeper ``name`` last finished a sweep, None if it never did."""
    at = session.scalar(select(KeeperSweep.swept_at).where(KeeperSweep.name == name))
    return as_utc(at) if at is not None else None


def record_sweep(session: Session, name: str, at: datetime) -> None:
    """Upsert: a manual sweep and the keeper's own may finish at the same moment."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(KeeperSweep).values(name=name, swept_at=at)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"swept_at": at}))
