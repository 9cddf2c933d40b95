"""The rate-limit rows on SQLite and PostgreSQL: a sliding window with an injected clock, and
concurrent replicas that cannot both take the last slot."""

from __future__ import annotations

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
