"""The stream monitors' rows as the control plane moves them: the supervisor's lease, claims
on monitors, workers' heartbeats and reports, and the counts the quotas read.

Every move is a conditional update, so two supervisors (an old one cut off from the
database, and its successor) or a supervisor and a stale worker never both win: a lease is
taken only from its holder or once it expired; a monitor is claimed only while unclaimed or
its claim expired (on PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``, so two
claimants racing for one row never wait on each other and exactly one takes it); a worker
writes only while its supervisor's claim holds.

    >>> take_lease(session, "streams", holder, now, ttl_s=30)       # doctest: +SKIP
    True
    >>> claim_runnable(session, holder, now, ttl_s=30, limit=20)    # doctest: +SKIP
    ['0f3a...']
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.domain.streams import LIVE, REPORTABLE, RUNNABLE, MonitorStatus
from clipray.storage.orm import StreamMonitor, SupervisorLease, Workspace


def _rows(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the supervisor's lease ----------------------------------------------------------------
def take_lease(s: Session, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_s``: only if
    ``holder`` has it already or it expired. Commits nothing; True when ``holder`` holds it."""
    until = now + timedelta(seconds=ttl_s)
    done = s.execute(
        update(SupervisorLease)
        .where(SupervisorLease.name == name,
               or_(SupervisorLease.holder == holder, SupervisorLease.expires_at <= now))
        .values(holder=holder, heartbeat=now, expires_at=until)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if _rows(done) == 1:
        return True
    if s.get(SupervisorLease, name) is not None:
        return False
    try:
        with s.begin_nested():
            s.add(SupervisorLease(name=name, holder=holder, heartbeat=now, expires_at=until))
    except IntegrityError:  # another instance made the row first: it holds the lease
        return False
    return True


def release_lease(s: Session, name: str, holder: str, now: datetime) -> None:
    """Let the lease go now (a supervisor that stops cleanly spares its successor the wait)."""
    s.execute(
        update(SupervisorLease).where(SupervisorLease.name == name,
                                      SupervisorLease.holder == holder)
        .values(expires_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip


def lease_holder(s: Session, name: str) -> SupervisorLease | None:
    return s.get(SupervisorLease, name)


# --- claims --------------------------------------------------------------------------------
def _claimable(now: datetime) -> object:
    return or_(StreamMonitor.claimed_by.is_(None), StreamMonitor.claim_expires_at <= now)


def claim_runnable(s: Session, holder: str, now: datetime, ttl_s: float,
                   limit: int) -> list[str]:  # fmt: skip
    """Claim up to ``limit`` runnable monitors nobody holds (or whose claim expired) for
    ``holder`` until ``now + ttl_s``; the ids it won, oldest first."""
    q = (select(StreamMonitor.id)
         .where(StreamMonitor.status.in_(RUNNABLE), _claimable(now))
         .order_by(StreamMonitor.created_at, StreamMonitor.id).limit(limit))  # fmt: skip
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    won = []
    for monitor_id in s.scalars(q).all():
        done = s.execute(
            update(StreamMonitor)
            .where(StreamMonitor.id == monitor_id, StreamMonitor.status.in_(RUNNABLE),
                   _claimable(now))
            .values(claimed_by=holder, claim_expires_at=now + timedelta(seconds=ttl_s))
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if _rows(done) == 1:
            won.append(monitor_id)
    return won


def renew_claims(s: Session, holder: str, ids: Iterable[str], now: datetime,
                 ttl_s: float) -> None:  # fmt: skip
    ids = list(ids)
    if ids:
        s.execute(
            update(StreamMonitor)
            .where(StreamMonitor.claimed_by == holder, StreamMonitor.id.in_(ids))
            .values(claim_expires_at=now + timedelta(seconds=ttl_s))
            .execution_options(synchronize_session=False)
        )  # fmt: skip


def release_claims(s: Session, holder: str, ids: Iterable[str] | None = None) -> int:
    """Give up ``holder``'s claims (all of them, or those in ``ids``)."""
    q = update(StreamMonitor).where(StreamMonitor.claimed_by == holder)
    if ids is not None:
        q = q.where(StreamMonitor.id.in_(list(ids)))
    done = s.execute(q.values(claimed_by=None, claim_expires_at=None)
                     .execution_options(synchronize_session=False))  # fmt: skip
    return _rows(done)


def release_others(s: Session, holder: str) -> int:
    """Clear every claim not ``holder``'s: called by a supervisor that just took the lease,
    which only a lease holder claims under, so any other claim is a dead one's."""
    done = s.execute(
        update(StreamMonitor)
        .where(StreamMonitor.claimed_by.is_not(None), StreamMonitor.claimed_by != holder)
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return _rows(done)


def held(s: Session, holder: str) -> list[StreamMonitor]:
    """The monitors ``holder`` has claimed, whatever their status now."""
    return list(s.scalars(select(StreamMonitor).where(StreamMonitor.claimed_by == holder)))


# --- what workers write --------------------------------------------------------------------
def beat(s: Session, monitor_id: str, holder: str, now: datetime) -> MonitorStatus | None:
    """Record a worker's heartbeat while ``holder``'s claim on its monitor holds; the
    monitor's status (the worker stops when it is no longer runnable), or None when the
    claim was lost (the worker must stop: another one may run the stream)."""
    done = s.execute(
        update(StreamMonitor)
        .where(StreamMonitor.id == monitor_id, StreamMonitor.claimed_by == holder)
        .values(last_seen_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    if _rows(done) != 1:
        return None
    return s.scalar(select(StreamMonitor.status).where(StreamMonitor.id == monitor_id))


def report(s: Session, monitor_id: str, holder: str, status: MonitorStatus, now: datetime,
           error: str | None = None) -> bool:  # fmt: skip
    """A worker's status (connecting, active or error with why), written only while the
    monitor is runnable and ``holder`` holds it: a pause or stop by a client wins."""
    if status not in REPORTABLE:
        raise ValueError(f"a worker cannot report {status.value}")
    values: dict[str, object] = {"status": status, "last_seen_at": now}
    values["last_error"] = error[-2000:] if error else None
    done = s.execute(
        update(StreamMonitor)
        .where(StreamMonitor.id == monitor_id, StreamMonitor.claimed_by == holder,
               StreamMonitor.status.in_(RUNNABLE))
        .values(**values).execution_options(synchronize_session=False)
    )  # fmt: skip
    return _rows(done) == 1


def report_health(s: Session, monitor_id: str, holder: str, health: dict[str, object],
                  now: datetime) -> bool:  # fmt: skip
    """A worker's health report (``StreamHealth`` as JSON), written only while ``holder``
    holds the monitor: a stale worker cannot overwrite its successor's figures."""
    done = s.execute(
        update(StreamMonitor)
        .where(StreamMonitor.id == monitor_id, StreamMonitor.claimed_by == holder)
        .values(health=health, health_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    return _rows(done) == 1


def add_clips(s: Session, monitor_id: str, holder: str, n: int = 1) -> bool:
    done = s.execute(
        update(StreamMonitor)
        .where(StreamMonitor.id == monitor_id, StreamMonitor.claimed_by == holder)
        .values(clips_generated=StreamMonitor.clips_generated + n)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return _rows(done) == 1


# --- what the quotas and the API read ------------------------------------------------------
def lock_workspace(s: Session, workspace_id: str) -> None:
    """Serialise the workspace's stream creations until the transaction ends, so that two
    concurrent requests cannot both take its last place (SQLite's write lock already does)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())


def live_count(s: Session, workspace_id: str | None = None) -> int:
    """Monitors not stopped (of one workspace, or of the whole cluster)."""
    q = select(func.count()).select_from(StreamMonitor).where(StreamMonitor.status.in_(LIVE))
    if workspace_id is not None:
        q = q.where(StreamMonitor.workspace_id == workspace_id)
    return int(s.scalar(q) or 0)


def used_push_ports(s: Session) -> set[int]:
    return set(s.scalars(select(StreamMonitor.push_port).where(
        StreamMonitor.push_port.is_not(None), StreamMonitor.stopped_at.is_(None))))  # fmt: skip


def page(s: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[StreamMonitor], int]:
    """The workspace's monitors, newest first, and how many there are."""
    where = StreamMonitor.workspace_id == workspace_id
    total = int(s.scalar(select(func.count()).select_from(StreamMonitor).where(where)) or 0)
    rows = s.scalars(select(StreamMonitor).where(where)
                     .order_by(StreamMonitor.created_at.desc(), StreamMonitor.id.desc())
                     .limit(limit).offset(offset)).all()  # fmt: skip
    return list(rows), total
