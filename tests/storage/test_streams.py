"""The stream control plane's rows on SQLite and PostgreSQL: the supervisor's lease is taken
only from its holder or once expired; a monitor is claimed by exactly one of two racing
claimants (on PostgreSQL through ``FOR UPDATE SKIP LOCKED``: the loser skips the locked row
instead of waiting for it); a worker writes only while its supervisor's claim holds."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from clipray.domain.streams import MonitorStatus
from clipray.storage import streams as store
from clipray.storage.orm import StreamMonitor, Workspace, utcnow
from tests.conftest import at_once

# Unmarked: integration (real SQLite and PostgreSQL).
LEASE = f"test-{uuid.uuid4().hex[:8]}"


def quiet(db) -> None:
    """Stop what earlier tests left runnable: claims look at every monitor of the database."""
    with db.session() as s:
        s.execute(update(StreamMonitor).values(status=MonitorStatus.STOPPED, claimed_by=None))


def monitors(db, n: int) -> list[str]:
    """``n`` idle monitors of a workspace of their own, oldest first."""
    with db.session() as s:
        ws = Workspace(slug=f"ws-{uuid.uuid4().hex[:10]}", name="streams")
        s.add(ws)
        s.flush()
        rows = []
        for i in range(n):
            row = StreamMonitor(workspace_id=ws.id, url=f"https://live.example.com/{i}.m3u8",
                                settings={}, status=MonitorStatus.IDLE, clips_generated=0,
                                created_at=utcnow() + timedelta(milliseconds=i))  # fmt: skip
            s.add(row)
            rows.append(row)
        s.flush()
        return [r.id for r in rows]


def test_the_lease_is_taken_from_its_holder_only_or_once_expired(migrated_db):
    now, name = utcnow(), f"{LEASE}-a"
    with migrated_db.session() as s:
        assert store.take_lease(s, name, "one", now, 30)
    with migrated_db.session() as s:
        assert not store.take_lease(s, name, "two", now + timedelta(seconds=29), 30)
        assert store.take_lease(s, name, "one", now + timedelta(seconds=29), 30)  # renewed
    with migrated_db.session() as s:
        assert not store.take_lease(s, name, "two", now + timedelta(seconds=58), 30)
        assert store.take_lease(s, name, "two", now + timedelta(seconds=59), 30)
        assert store.lease_holder(s, name).holder == "two"
    with migrated_db.session() as s:  # a clean release spares the successor the wait
        store.release_lease(s, name, "two", now + timedelta(seconds=60))
        assert store.take_lease(s, name, "one", now + timedelta(seconds=60), 30)


def test_two_instances_racing_for_a_new_lease_one_wins(migrated_db):
    name, now = f"{LEASE}-race", utcnow()

    def take(holder: str):
        def call() -> bool:
            with migrated_db.session() as s:
                return store.take_lease(s, name, holder, now, 30)
        return call

    assert sorted(at_once(take("one"), take("two"))) == [False, True]


def test_two_claimants_racing_for_one_monitor_one_wins(migrated_db):
    quiet(migrated_db)
    (mid,) = monitors(migrated_db, 1)
    now = utcnow()

    def claim(holder: str):
        def call() -> list[str]:
            with migrated_db.session() as s:
                return store.claim_runnable(s, holder, now, 30, 10)
        return call

    won = at_once(claim("one"), claim("two"))
    assert sorted(won, key=len) == [[], [mid]]
    with migrated_db.session() as s:
        assert s.get(StreamMonitor, mid).claimed_by == ("one" if won[0] else "two")


@pytest.mark.postgres
def test_postgres_claims_skip_locked_rows(postgres_db):
    """While one claimant's transaction holds the first monitor, a second one is not made
    to wait for it (a 2 s lock timeout would fail it): it takes the next monitor."""
    quiet(postgres_db)
    first, second = monitors(postgres_db, 2)
    now = utcnow()
    with Session(postgres_db.engine) as a, Session(postgres_db.engine) as b:
        assert store.claim_runnable(a, "one", now, 30, 1) == [first]  # not committed yet
        b.execute(text("SET LOCAL lock_timeout = '2s'"))
        started = time.monotonic()
        assert store.claim_runnable(b, "two", now, 30, 2) == [second]
        assert time.monotonic() - started < 2
        b.commit()
        a.commit()
    with postgres_db.session() as s:
        assert s.get(StreamMonitor, first).claimed_by == "one"
        assert s.get(StreamMonitor, second).claimed_by == "two"
    # two sessions racing for the same monitor: the one that skipped it gets nothing
    (only,) = monitors(postgres_db, 1)
    with Session(postgres_db.engine) as a, Session(postgres_db.engine) as b:
        assert store.claim_runnable(a, "three", now, 30, 10) == [only]
        b.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert store.claim_runnable(b, "four", now, 30, 10) == []
        b.commit()
        a.commit()
    with postgres_db.session() as s:
        assert s.get(StreamMonitor, only).claimed_by == "three"
    sql = str(select(StreamMonitor.id).with_for_update(skip_locked=True).compile(
        dialect=postgres_db.engine.dialect))  # fmt: skip
    assert "FOR UPDATE SKIP LOCKED" in sql


def test_an_expired_claim_is_taken_over_and_others_are_cleared(migrated_db):
    quiet(migrated_db)
    a, b = monitors(migrated_db, 2)
    now = utcnow()
    with migrated_db.session() as s:
        assert store.claim_runnable(s, "old", now, 30, 10) == [a, b]
        assert store.claim_runnable(s, "new", now + timedelta(seconds=10), 30, 10) == []
        store.renew_claims(s, "old", [a], now + timedelta(seconds=20), 30)
        assert store.claim_runnable(s, "new", now + timedelta(seconds=31), 30, 10) == [b]
        assert store.release_others(s, "new") == 1  # "old"'s renewed claim on a
        assert store.claim_runnable(s, "new", now + timedelta(seconds=31), 30, 10) == [a]
        assert {m.id for m in store.held(s, "new")} == {a, b}


def test_a_worker_writes_only_while_its_claim_holds(migrated_db):
    quiet(migrated_db)
    (mid,) = monitors(migrated_db, 1)
    now = utcnow()
    with migrated_db.session() as s:
        store.claim_runnable(s, "sup", now, 30, 10)
    with migrated_db.session() as s:
        assert store.beat(s, mid, "sup", now) is MonitorStatus.IDLE
        assert store.beat(s, mid, "other", now) is None
        assert store.report(s, mid, "sup", MonitorStatus.ACTIVE, now)
        assert not store.report(s, mid, "other", MonitorStatus.CONNECTING, now)
        assert store.add_clips(s, mid, "sup", 2)
        with pytest.raises(ValueError, match="cannot report paused"):
            store.report(s, mid, "sup", MonitorStatus.PAUSED, now)
    with migrated_db.session() as s:  # a client's pause wins over a worker's report
        s.execute(update(StreamMonitor).where(StreamMonitor.id == mid)
                  .values(status=MonitorStatus.PAUSED))  # fmt: skip
    with migrated_db.session() as s:
        assert not store.report(s, mid, "sup", MonitorStatus.ACTIVE, now)
        assert store.beat(s, mid, "sup", now) is MonitorStatus.PAUSED
        row = s.get(StreamMonitor, mid)
        assert (row.status, row.clips_generated, row.last_seen_at) == (
            MonitorStatus.PAUSED, 2, now)
