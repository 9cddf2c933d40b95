"""The pure rules of a publication request, checked before anything is written: the
``Idempotency-Key``, the schedule, the metadata each platform accepts (fitted with
``publish/metadata.py``), and the content calendar's range. No I/O: every door's request goes
through ``services/publications.py``, which calls these.

    >>> prepare_metadata("x", PostMetadata(title="Launch", hashtags=("#ai", "AI")))["hashtags"]
    ['#ai']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from clipray.domain.errors import CodedError
from clipray.domain.time import as_utc
from clipray.publish import metadata as fitting
from clipray.publish.base import PostMetadata

MAX_CLIPS = 100
"""Clips one request may name (each is checked on the bucket before anything is written)."""
MAX_ACCOUNTS = 20
MAX_AHEAD = timedelta(days=366)
"""How far ahead a publication may be scheduled: a year, so a typo in the year is caught."""
CALENDAR_DEFAULT_DAYS = 28
"""The calendar without ``to``: four weeks from ``from`` (today, UTC, without it)."""
CALENDAR_MAX_DAYS = 92
"""The longest range one calendar answers: a quarter."""
CALENDAR_DATES = (date(1970, 1, 1), date(9000, 12, 31))
"""The dates a calendar may name: far from the ends of the calendar, so that the range and
its end (the next midnight) always exist."""
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

PRIVACY: dict[str, frozenset[str]] = {
    # videos.insert status.privacyStatus
    "youtube": frozenset({"private", "unlisted", "public"}),
    # Content Posting API post_info.privacy_level
    "tiktok": frozenset({"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR",
                         "SELF_ONLY"}),
    # Posts API visibility
    "linkedin": frozenset({"PUBLIC", "CONNECTIONS", "LOGGED_IN"}),
    # Instagram Reels and X posts have no visibility of their own.
    "instagram": frozenset(),
    "x": frozenset(),
}  # fmt: skip
"""Each platform's own visibility values (``metadata.privacy``); unset: the adapter's safe
default (private where the platform requires it of unaudited apps)."""
TITLE_REQUIRED = frozenset({"youtube"})
"""Platforms that refuse a post without a title."""


def check_key(key: str | None) -> str | None:
    """The ``Idempotency-Key``: 1 to 200 printable ASCII characters, no spaces."""
    if key is None:
        return None
    if not _KEY.match(key):
        raise CodedError("IDEMPOTENCY_KEY_INVALID", "an Idempotency-Key is 1 to 200 printable "
                         "ASCII characters without spaces (a UUID is a good one)")  # fmt: skip
    return key


def check_schedule(scheduled_at: datetime | None, now: datetime) -> datetime | None:
    """``scheduled_at`` in UTC, if it is a time with an offset, after ``now`` and within a
    year; None stays None (publish now)."""
    if scheduled_at is None:
        return None
    if scheduled_at.tzinfo is None or scheduled_at.utcoffset() is None:
        raise CodedError("SCHEDULED_AT_NAIVE", "scheduled_at needs a UTC offset, e.g. "
                         "2026-12-24T18:00:00+01:00 or 2026-12-24T17:00:00Z")  # fmt: skip
    try:
        at = as_utc(scheduled_at)
    except OverflowError as exc:  # the first or last day of year 1 or 9999, off UTC
        raise CodedError("SCHEDULED_AT_PAST" if scheduled_at.year < now.year else
                         "SCHEDULED_AT_TOO_FAR", "scheduled_at has no UTC time") from exc
    if at <= now:
        raise CodedError("SCHEDULED_AT_PAST",
                         f"scheduled_at {at.isoformat()} is not in the future (now: "
                         f"{now.isoformat()}); leave it out to publish now")  # fmt: skip
    if at - now > MAX_AHEAD:
        raise CodedError("SCHEDULED_AT_TOO_FAR", f"scheduled_at may be at most "
                         f"{MAX_AHEAD.days} days ahead")  # fmt: skip
    return at


def unique_ids(values: Sequence[str], what: str, most: int) -> list[str]:
    """``values`` without repeats, in order; 1 to ``most`` of them."""
    unique = list(dict.fromkeys(values))
    if not 1 <= len(unique) <= most:
        raise CodedError("PUBLISH_REQUEST_INVALID", f"{what}: name 1 to {most} ids")
    return unique


def prepare_metadata(platform: str, meta: PostMetadata, clip_title: str = "") -> dict[str, Any]:
    """``meta`` cleaned and trimmed to ``platform``'s limits (``publish/metadata.py``): the
    title falls back to the clip's, text too long is cut at a character boundary, hashtags
    are normalised (``#tag``) and the surplus dropped. Stored as the publication's metadata;
    the adapter fits it once more on upload (a no-op for text that already fits).

    Raises:
        CodedError: 422 for what cannot be fixed: ``PUBLISH_PRIVACY_INVALID`` (not one of
            the platform's values), ``PUBLISH_HASHTAG_INVALID`` (no letter in it),
            ``PUBLISH_TITLE_REQUIRED`` (YouTube, and neither the request nor the clip has one).
    """
    limits = fitting.LIMITS[platform]
    if meta.privacy is not None and meta.privacy not in PRIVACY[platform]:
        allowed = ", ".join(sorted(PRIVACY[platform])) or "none (leave privacy out)"
        raise CodedError("PUBLISH_PRIVACY_INVALID",
                         f"{platform} has no privacy {meta.privacy!r}; its values: {allowed}",
                         detail={"platform": platform,
                                 "allowed": sorted(PRIVACY[platform])})  # fmt: skip
    tags: list[str] = []
    for raw in meta.hashtags:
        tag = fitting.hashtag(raw)
        if tag is None:
            raise CodedError("PUBLISH_HASHTAG_INVALID",
                             f"hashtag {raw!r} has no letter: no platform links it")  # fmt: skip
        if tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    if limits.max_hashtags is not None:
        tags = tags[: limits.max_hashtags]
    title = fitting.clean(meta.title or clip_title, limits)
    title = fitting.truncate(title, limits.title_max or limits.text_max, limits.unit)
    description = fitting.truncate(fitting.clean(meta.description, limits), limits.text_max,
                                   limits.unit)  # fmt: skip
    if platform in TITLE_REQUIRED and not title:
        raise CodedError("PUBLISH_TITLE_REQUIRED", f"{platform} needs a title, and the clip "
                         "has none: give metadata.title")  # fmt: skip
    return {"title": title, "description": description, "hashtags": tags,
            "privacy": meta.privacy}  # fmt: skip


def calendar_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days a calendar covers, both inclusive: from ``start`` (today) to ``end``
    (:data:`CALENDAR_DEFAULT_DAYS` on), at most :data:`CALENDAR_MAX_DAYS` of them."""
    if any(d is not None and not CALENDAR_DATES[0] <= d <= CALENDAR_DATES[1]
           for d in (start, end)):
        raise CodedError("CALENDAR_RANGE_INVALID", f"a calendar's dates lie between "
                         f"{CALENDAR_DATES[0]} and {CALENDAR_DATES[1]}")  # fmt: skip
    first = start or today
    last = end or first + timedelta(days=CALENDAR_DEFAULT_DAYS - 1)
    if last < first:
        raise CodedError("CALENDAR_RANGE_INVALID", f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > CALENDAR_MAX_DAYS:
        raise CodedError("CALENDAR_RANGE_TOO_LONG", f"a calendar covers at most "
                         f"{CALENDAR_MAX_DAYS} days; ask for shorter ranges")  # fmt: skip
    return first, last


