"""The rate-limit rows on SQLite and PostgreSQL: a sliding window with an injected clock, and
concurrent replicas that cannot both take the last slot."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from clipray.serve.security import sliding_window_wait
from clipray.storage.accounts import RateLimitRepo
from clipray.storage.orm import RateLimitHit
from tests.conftest import at_once

T0 = datetime(2026, 12, 6, 8, 0, 58, tzinfo=UTC)


def attempt(db, key: str, limit: int, window_s: float, now: datetime) -> int | None:
    """What the login route does: one transaction that reads, decides and records."""
    with db.session() as s:
        repo = RateLimitRepo(s)
        wait = sliding_window_wait(repo.recent(key, window_s, now), limit, window_s, now)
        if wait is None:
            repo.admit(key, now)
    return wait


def test_the_window_slides_across_the_minute(migrated_db):
    key = f"login:{uuid.uuid4().hex}"
    waits = [attempt(migrated_db, key, 5, 60, T0 + timedelta(seconds=n / 2)) for n in range(10)]
    assert [w is None for w in waits] == [True] * 5 + [False] * 5
    assert waits[5] == 58
    # a minute after the first, one slot is free again, and only one
    later = T0 + timedelta(seconds=60)
    assert attempt(migrated_db, key, 5, 60, later) is None
    assert attempt(migrated_db, key, 5, 60, later) is not None


def test_old_hits_are_dropped_and_refusals_are_not_stored(migrated_db):
    key = f"register:{uuid.uuid4().hex}"
    for n in range(3):
        assert attempt(migrated_db, key, 3, 3600, T0 + timedelta(minutes=n)) is None
    for _ in range(20):  # hammering while refused adds nothing
        assert attempt(migrated_db, key, 3, 3600, T0 + timedelta(minutes=5)) is not None
    with migrated_db.session() as s:
        assert s.scalar(select(func.count()).where(RateLimitHit.key == key)) == 3
    assert attempt(migrated_db, key, 3, 3600, T0 + timedelta(hours=1, minutes=2)) is None
    with migrated_db.session() as s:  # the three old ones went as the key was hit
        assert s.scalar(select(func.count()).where(RateLimitHit.key == key)) == 1


def test_concurrent_replicas_admit_exactly_the_limit(migrated_db):
    key = f"login:{uuid.uuid4().hex}"
    waits = at_once(*[lambda: attempt(migrated_db, key, 5, 60, T0)] * 12)
    assert len(waits) == 12
    assert sum(w is None for w in waits) == 5


def take(db, key: str, limit: int, window_s: float, now: datetime) -> datetime | None:
    """What the per-user limit does: one transaction that decides in the database."""
    with db.session() as s:
        return RateLimitRepo(s).take(key, limit, window_s, now)


def test_take_decides_as_the_sliding_window_does(migrated_db):
    """The same hits through both ways of deciding: the same admissions, and the moment a
    refused one could pass is the wait that sliding_window_wait gives."""
    by_rows, by_take = f"login:{uuid.uuid4().hex}", f"user:{uuid.uuid4().hex}"
    offsets = [0, 0.5, 3, 3, 7, 20, 30, 59.5, 60, 60.2, 63, 66.9, 90, 125, 125.5]
    for s in offsets:
        now = T0 + timedelta(seconds=s)
        wait = attempt(migrated_db, by_rows, 4, 60, now)
        frees_at = take(migrated_db, by_take, 4, 60, now)
        assert (wait is None) == (frees_at is None), s
        if frees_at is not None:
            assert wait == max(1, math.ceil((frees_at - now).total_seconds())), s
    with migrated_db.session() as s:
        counts = [s.scalar(select(func.count()).where(RateLimitHit.key == k))
                  for k in (by_rows, by_take)]  # fmt: skip
    assert counts[0] == counts[1] <= 4


def test_take_admits_exactly_the_limit_under_concurrency(migrated_db):
    key = f"user:{uuid.uuid4().hex}"
    answers = at_once(*[lambda: take(migrated_db, key, 4, 60, T0)] * 10)
    assert sum(a is None for a in answers) == 4
    assert {a for a in answers if a is not None} == {T0 + timedelta(seconds=60)}
