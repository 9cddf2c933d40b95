"""Column types shared by the ORM models.

`UtcDateTime` is the one timestamp column: every time clipray stores is UTC and every time
it reads back is an aware UTC ``datetime``, on SQLite and PostgreSQL alike.

    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

Without it the two backends disagree: SQLite drops the offset and returns naive
datetimes (callers had to remember ``as_utc``), PostgreSQL returns aware ones in the
connection's time zone, and an aware non-UTC value written to SQLite is stored as its
wall-clock time, silently shifted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from clipray.domain.time import as_utc


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that converts to UTC on the way in and returns aware UTC
    on the way out. The DDL is that of ``DateTime(timezone=True)``, so swapping it in
    needs no migration.

    A naive value is taken as UTC, as `clipray.domain.time.as_utc` does: clipray writes
    only UTC, and rows written before this type (naive on SQLite) were UTC too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a timestamp column takes a datetime, not {type(value).__name__}")
        utc = as_utc(value)
        # SQLite's DATETIME keeps no offset: store the UTC wall time itself.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)
