"""Time as clipray keeps it: aware UTC datetimes, served as RFC 3339 with an offset.

    >>> rfc3339(datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
    '2026-12-01T08:30:00Z'
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """An aware UTC datetime. A naive one is taken as UTC (SQLite returns stored times
    naive, and clipray writes only UTC); an aware one is converted."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def rfc3339(dt: datetime) -> str:
    """``dt`` in UTC as RFC 3339 with a ``Z`` offset, microseconds kept when present,
    identical for the same instant whichever backend stored it."""
    text = as_utc(dt).isoformat()
    return text.removesuffix("+00:00") + "Z"
