"""The timestamp column: UTC in, aware UTC out, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, select
from sqlalchemy.exc import StatementError

from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm import Base, User, Workspace

PARIS_WINTER = timezone(timedelta(hours=1))
INSTANT = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC)


def _user(session, created_at: datetime) -> str:
    user = User(email=f"t-{created_at.timestamp()}@example.com", password_hash="x",
                created_at=created_at)  # fmt: skip
    session.add(user)
    session.flush()
    session.expire_all()  # the next read goes to the database, not the identity map
    return user.id


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(INSTANT, id="aware-utc"),
        pytest.param(INSTANT.astimezone(PARIS_WINTER), id="aware-plus-one"),
        pytest.param(INSTANT.replace(tzinfo=None), id="naive-taken-as-utc"),
    ],
)
def test_a_timestamp_reads_back_as_the_same_instant_in_aware_utc(session, written):
    read = session.get(User, _user(session, written)).created_at
    assert read == INSTANT
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)


def test_comparisons_in_queries_convert_the_bound_value_to_utc(session):
    """A filter with a non-UTC bound finds the row by instant, not by wall-clock time (an
    offset dropped on the way in would shift it by an hour)."""
    uid = _user(session, INSTANT)
    just_after = (INSTANT + timedelta(seconds=1)).astimezone(PARIS_WINTER)
    just_before = (INSTANT - timedelta(seconds=1)).astimezone(PARIS_WINTER)
    found = select(User.id).where(User.id == uid)
    assert session.scalar(found.where(User.created_at < just_after)) == uid
    assert session.scalar(found.where(User.created_at < just_before)) is None


def test_a_non_datetime_is_refused_before_it_reaches_the_database(session):
    session.add(Workspace(slug="w-bad-time", name="w", created_at="2026-12-06"))
    with pytest.raises(StatementError, match="takes a datetime"):
        session.flush()
    session.rollback()


def test_every_timestamp_column_of_the_schema_uses_the_utc_type():
    """A column added later with a plain DateTime would serve naive times again."""
    plain = [
        f"{table.name}.{col.name}"
        for table in Base.metadata.tables.values()
        for col in table.columns
        if isinstance(col.type, DateTime) and not isinstance(col.type, UtcDateTime)
    ]
    timestamps = [
        col for table in Base.metadata.tables.values() for col in table.columns
        if isinstance(col.type, UtcDateTime)
    ]  # fmt: skip
    assert plain == []
    assert len(timestamps) >= 30
