"""A stream's event feed in the database, on SQLite and PostgreSQL: numbered 1, 2, 3 per
monitor even when writers race (each append waits for the one before it, so no number is
visible before a lower one); written by a worker only while its supervisor's claim holds;
pruned to the newest ``keep``; gone with its monitor; and a feed is complete only once
its monitor is stopped and unclaimed."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, update

from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import MonitorStatus
from clipray.storage import stream_events as feed
from clipray.storage import streams as store
from clipray.storage.orm import StreamEvent, StreamMonitor, Workspace, utcnow
from tests.conftest import at_once

# Unmarked: integration (real SQLite and PostgreSQL).
EVENT = StreamEventType.EVENT


def monitor(db) -> str:
    with db.session() as s:
        ws = Workspace(slug=f"ws-{uuid.uuid4().hex[:10]}", name="feed")
        s.add(ws)
        s.flush()
        row = StreamMonitor(workspace_id=ws.id, url="https://live.example.com/x.m3u8",
                            settings={}, status=MonitorStatus.IDLE, clips_generated=0)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def seqs(db, monitor_id: str) -> list[int]:
    with db.session() as s:
        return [r.seq for r in feed.after(s, monitor_id, 0)]


def test_racing_writers_get_consecutive_numbers(migrated_db):
    mid, other = monitor(migrated_db), monitor(migrated_db)

    def write(i: int):
        def call() -> int | None:
            with migrated_db.session() as s:
                return feed.append(s, mid, EVENT, {"n": i}, utcnow())
        return call

    got = at_once(*(write(i) for i in range(8)))
    assert sorted(got) == list(range(1, 9))
    assert seqs(migrated_db, mid) == list(range(1, 9))
    with migrated_db.session() as s:  # another monitor counts from 1
        assert feed.append(s, other, StreamEventType.STATUS, {"status": "active"}, utcnow()) == 1
        rows = feed.after(s, mid, 5)
        assert [r.seq for r in rows] == [6, 7, 8]
        assert {r.payload["n"] for r in feed.after(s, mid, 0)} == set(range(8))
        assert feed.after(s, mid, 0, limit=2)[-1].seq == 2


def test_a_worker_writes_only_while_its_supervisor_holds_the_monitor(migrated_db):
    mid, now = monitor(migrated_db), utcnow()
    with migrated_db.session() as s:
        assert feed.append(s, mid, EVENT, {}, now, holder="sup-a") is None  # unclaimed
        s.execute(update(StreamMonitor).where(StreamMonitor.id == mid).values(
            claimed_by="sup-a", claim_expires_at=now + timedelta(seconds=30)))  # fmt: skip
    with migrated_db.session() as s:
        assert feed.append(s, mid, EVENT, {}, now, holder="sup-a") == 1
        assert feed.append(s, mid, EVENT, {}, now, holder="sup-b") is None
        # the claim expired: the worker is cut off although the row still names it
        assert feed.append(s, mid, EVENT, {}, now + timedelta(seconds=31), holder="sup-a") is None
        assert feed.feed_state(s, mid, now) == ("idle", True)
        assert feed.feed_state(s, mid, now + timedelta(seconds=31)) == ("idle", False)
    with migrated_db.session() as s:
        store.release_claims(s, "sup-a", [mid])
        assert feed.append(s, "f" * 32, EVENT, {}, now) is None  # no such monitor
    assert seqs(migrated_db, mid) == [1]


def test_the_feed_keeps_the_newest_and_goes_with_its_monitor(migrated_db):
    mid = monitor(migrated_db)
    for i in range(7):
        with migrated_db.session() as s:
            feed.append(s, mid, EVENT, {"n": i}, utcnow(), keep=3)
    assert seqs(migrated_db, mid) == [5, 6, 7]
    with migrated_db.session() as s:  # numbering goes on after pruning
        assert feed.append(s, mid, EVENT, {}, utcnow(), keep=3) == 8
        s.execute(delete(StreamMonitor).where(StreamMonitor.id == mid))
    with migrated_db.session() as s:
        assert s.query(StreamEvent).filter_by(monitor_id=mid).count() == 0
        assert feed.feed_state(s, mid, utcnow()) is None
