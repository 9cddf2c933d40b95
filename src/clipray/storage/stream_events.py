"""A live stream's event feed in the database: appended by its worker (and by a client's
pause, resume or stop), read in order after a sequence number by whichever replica serves
a watcher.

Sequence numbers are per monitor and committed in order: an append takes the monitor's row
lock first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so ``seq``
``n + 1`` is never visible before ``n``, and a reader that resumes after the last number it
saw skips nothing. A worker appends only while its supervisor's claim on the monitor holds
(the lock also orders the append before the claim's release), so once a stopped monitor is
unclaimed its feed is complete. The worker prunes as it appends: only the newest ``keep``
rows of the monitor stay (a watcher that was away longer resumes at the oldest kept).

    >>> with db.session() as s:                                         # doctest: +SKIP
    ...     seq = append(s, monitor_id, StreamEventType.CLIP, {"id": gid}, now,
    ...                  holder=holder, keep=2000)
    ...     rows = after(s, monitor_id, seq - 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clipray.domain.stream_events import StreamEventType
from clipray.storage.orm import StreamEvent, StreamMonitor


def _lock_monitor(s: Session, monitor_id: str) -> tuple[str | None, datetime | None] | None:
    """Lock the monitor's row for this transaction; its claim (holder, expiry), or None
    when the monitor is gone."""
    q = select(StreamMonitor.claimed_by, StreamMonitor.claim_expires_at).where(
        StreamMonitor.id == monitor_id)
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = s.execute(q).first()
    return None if row is None else (row[0], row[1])


def append(s: Session, monitor_id: str, kind: StreamEventType, payload: Mapping[str, Any],
           now: datetime, *, holder: str | None = None, keep: int | None = None
           ) -> int | None:  # fmt: skip
    """Record one message of the monitor's feed; its ``seq``, or None when nothing was
    written: the monitor is gone, or ``holder`` (a worker's supervisor) no longer holds its
    claim. ``keep``: then delete all but the newest ``keep`` rows of the monitor. Commits
    nothing."""
    claim = _lock_monitor(s, monitor_id)
    if claim is None:
        return None
    if holder is not None:
        claimed_by, expires = claim
        if claimed_by != holder or (expires is not None and expires <= now):
            return None
    last = s.scalar(select(func.max(StreamEvent.seq)).where(StreamEvent.monitor_id == monitor_id))
    seq = int(last or 0) + 1
    s.add(StreamEvent(monitor_id=monitor_id, seq=seq, type=kind, payload=dict(payload),
                      created_at=now))  # fmt: skip
    s.flush()
    if keep is not None and seq > keep:
        s.execute(delete(StreamEvent).where(StreamEvent.monitor_id == monitor_id,
                                            StreamEvent.seq <= seq - keep)
                  .execution_options(synchronize_session=False))  # fmt: skip
    return seq


def after(s: Session, monitor_id: str, seq: int, limit: int = 500) -> list[StreamEvent]:
    """The monitor's messages numbered above ``seq``, oldest first, at most ``limit``."""
    return list(s.scalars(
        select(StreamEvent).where(StreamEvent.monitor_id == monitor_id, StreamEvent.seq > seq)
        .order_by(StreamEvent.seq).limit(limit)))  # fmt: skip


def feed_state(s: Session, monitor_id: str, now: datetime
               ) -> tuple[str, bool] | None:  # fmt: skip
    """The monitor's status and whether a worker may still write to its feed (a claim
    that has not expired), or None when the monitor is gone."""
    row = s.execute(select(StreamMonitor.status, StreamMonitor.claimed_by,
                           StreamMonitor.claim_expires_at)
                    .where(StreamMonitor.id == monitor_id)).first()  # fmt: skip
    if row is None:
        return None
    status, holder, expires = row
    claimed = holder is not None and (expires is None or expires > now)
    return status.value, claimed
