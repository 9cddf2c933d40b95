"""Workspace quotas: jobs in progress at once, source minutes per calendar month (UTC).

Pure: the route counts, this module decides, and says when to come back (``Retry-After``).

    >>> check_quota(Usage(running=3, minutes=10.0), Limits(3, 600), now).code
    'QUOTA_CONCURRENT_JOBS'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Limits:
    concurrent_jobs: int
    minutes_per_month: int


@dataclass(frozen=True)
class Usage:
    running: int
    """Jobs of the workspace that are neither finished nor waiting for review."""
    minutes: float
    """Source minutes of the workspace's jobs created this month."""
    incoming_minutes: float = 0.0
    """Minutes of the source the new job would process, when known (an upload)."""


@dataclass(frozen=True)
class QuotaExceeded:
    code: str
    message: str
    retry_after_s: int


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1)  # fmt: skip


def check_storage(used_bytes: int, incoming_bytes: int, limit_bytes: int,
                  reserved_bytes: int = 0) -> QuotaExceeded | None:  # fmt: skip
    """None when a new source of ``incoming_bytes`` fits the workspace's storage quota. Only
    the workspace's own sources count, and the declared sizes of its presigned uploads not
    yet confirmed or expired (``reserved_bytes``): the bucket holds them without the API
    seeing a byte. Generated clips never count: they live on the app-owned bucket."""
    if used_bytes + reserved_bytes + incoming_bytes <= limit_bytes:
        return None
    pending = f" and {reserved_bytes} reserved by uploads in progress" if reserved_bytes else ""
    return QuotaExceeded(
        "QUOTA_STORAGE",
        f"this video ({incoming_bytes} bytes) would bring the workspace's sources{pending} to "
        f"{used_bytes + reserved_bytes + incoming_bytes} of {limit_bytes} bytes; delete some "
        f"sources first",
        retry_after_s=0,
    )


def check_quota(usage: Usage, limits: Limits, now: datetime) -> QuotaExceeded | None:
    """None when a new job fits, else which limit it hits and when to retry."""
    if usage.running >= limits.concurrent_jobs:
        return QuotaExceeded(
            "QUOTA_CONCURRENT_JOBS",
            f"{usage.running} jobs are in progress; the workspace allows "
            f"{limits.concurrent_jobs} at once",
            retry_after_s=60,
        )
    if usage.minutes + usage.incoming_minutes > limits.minutes_per_month:
        wait = int((next_month(now) - now).total_seconds()) + 1
        return QuotaExceeded(
            "QUOTA_MINUTES",
            f"this job would bring the month's processed minutes to "
            f"{usage.minutes + usage.incoming_minutes:.1f} of {limits.minutes_per_month}",
            retry_after_s=wait,
        )
    return None
