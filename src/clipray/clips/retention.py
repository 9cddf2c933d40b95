"""Retention of generated clips: which are due, which objects are orphans. Pure.

Generated clips are product output on the app-owned bucket, not the user's archive: each
expires ``retention_days`` after it was made unless it was kept or published. The retention
actor (``actors/retention.py``) asks this module what to delete and does the deleting; the
rules live here so that they are tested without a bucket, a database or a clock.

    >>> now = datetime(2026, 11, 22, tzinfo=UTC)
    >>> is_due("available", now - timedelta(seconds=1), now)
    True
    >>> is_due("kept", None, now)
    False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

_GENERATED = re.compile(r"^(?P<prefix>[0-9a-f]{32}/clips/(?P<owner>[0-9a-f]{32})/)[^/]+$")
"""Keys of generated files: ``{workspace}/clips/{candidate}/{name}``."""


def expiry(now: datetime, retention_days: float) -> datetime:
    """When a clip generated ``now`` expires."""
    return now + timedelta(days=retention_days)


def is_due(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """Only an available clip expires; kept and published clips stay, purged ones are gone."""
    return status == "available" and expires_at is not None and expires_at <= now


def expires_in_days(expires_at: datetime | None, now: datetime) -> float | None:
    """Days left (negative once overdue, until the next sweep), None when it never expires."""
    if expires_at is None:
        return None
    return round((expires_at - now).total_seconds() / 86400, 3)


def generated_prefix(key: str) -> str | None:
    """The prefix a generated file shares with its siblings (the video, thumbnail and NLE
    files of one candidate), or None for a key that is not a generated file."""
    m = _GENERATED.match(key)
    return m.group("prefix") if m else None


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime | None


def orphans(objects: Iterable[StoredObject], live_prefixes: set[str], now: datetime,
            grace: timedelta) -> list[StoredObject]:  # fmt: skip
    """Generated files that no live row owns and that are older than ``grace``.

    A live row is any row not purged; a younger object may belong to a render that has
    uploaded its files but not yet recorded its row, so it is left for a later sweep. Keys
    outside the generated layout are never touched.
    """
    found = []
    for obj in objects:
        prefix = generated_prefix(obj.key)
        if prefix is None or prefix in live_prefixes:
            continue
        if obj.last_modified is not None and now - obj.last_modified < grace:
            continue
        found.append(obj)
    return found
