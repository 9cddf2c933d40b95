"""Retention of generated clips and of unconfirmed uploads: what is due, what is an
orphan, when the next sweep runs. Pure.

Generated clips are product output on the app-owned bucket, not the user's archive: each
expires ``retention_days`` after it was made unless it was kept or published. A presigned
upload never confirmed is abandoned once its presign expired and a grace period passed.
The retention actor (``actors/retention.py``) asks this module what to delete and does the
deleting; the rules live here so that they are tested without a bucket, a database or a
clock.

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
_UPLOAD = re.compile(r"^[0-9a-f]{32}/uploads/[0-9a-f]{32}/[^/]+$")
"""Keys of presigned uploads: ``{workspace}/uploads/{id}/upload.{ext}``."""


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


def is_upload_key(key: str) -> bool:
    """Whether ``key`` is where a presigned upload lands (and so the keeper's to clear)."""
    return _UPLOAD.match(key) is not None


def abandoned_cutoff(now: datetime, grace: timedelta) -> datetime:
    """Reservations whose presign expired at or before this are abandoned. The grace covers
    an upload begun just before the expiry (S3 checks the policy when the POST starts) and
    a confirm that is still validating."""
    return now - grace


def stray_uploads(objects: Iterable[StoredObject], reserved_keys: set[str], now: datetime,
                  max_age: timedelta) -> list[StoredObject]:  # fmt: skip
    """Upload objects that no reservation holds and that are older than ``max_age`` (the
    presign lifetime plus the grace): what a crash between a confirm's release of the
    reservation and its delete left, or an upload presigned before reservations existed.
    A younger one may be an upload whose confirm is running now, so it waits."""
    found = []
    for obj in objects:
        if not is_upload_key(obj.key) or obj.key in reserved_keys:
            continue
        if obj.last_modified is not None and now - obj.last_modified < max_age:
            continue
        found.append(obj)
    return found


def seconds_until_sweep(last: datetime | None, now: datetime, interval_s: float) -> float:
    """How long a starting keeper waits before its first sweep: none when it never swept or
    the last sweep is at least an interval old (a restart must not add an interval to a
    backlog), else the rest of the interval. A last sweep in the future (a clock stepped
    back) waits one interval, never longer."""
    if last is None:
        return 0.0
    age = (now - last).total_seconds()
    if age < 0:
        return interval_s
    return max(0.0, interval_s - age)
