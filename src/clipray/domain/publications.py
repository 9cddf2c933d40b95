"""Publications' vocabulary and the pure rules behind them: the states a publication moves
through, which of them hold a clip-and-account pair, and the retry policy.

A publication is one clip posted to one connected account. Its life::

    requested --approve--> pending | scheduled        (an editor's request; an admin decides)
    requested --reject---> rejected
    pending | scheduled --claim--> publishing --> published
                                              \\-> pending (retry after backoff) --> ... failed
    pending | scheduled | requested --cancel--> cancelled

Only one publication of a clip to an account may be *open* (requested, pending, scheduled or
publishing) at a time; the database holds that rule with a partial unique index.
"""

from __future__ import annotations

import enum
from typing import Final


class PublicationStatus(enum.StrEnum):
    REQUESTED = "requested"
    """An editor asked for it; waits for an admin or owner to approve or reject it."""
    PENDING = "pending"
    """Due now (or after its retry backoff, ``not_before``); the publisher claims it."""
    SCHEDULED = "scheduled"
    """Due at ``scheduled_at``; the publisher claims it then."""
    PUBLISHING = "publishing"
    """Claimed: an attempt is uploading it."""
    PUBLISHED = "published"
    FAILED = "failed"
    """Given up: the attempts ran out or the platform refused it for good."""
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    """An admin turned the editor's request down."""


OPEN: Final = frozenset({PublicationStatus.REQUESTED, PublicationStatus.PENDING,
                         PublicationStatus.SCHEDULED, PublicationStatus.PUBLISHING})  # fmt: skip
"""States that hold the clip-and-account pair: a second open publication of it is refused."""

CANCELLABLE: Final = frozenset({PublicationStatus.REQUESTED, PublicationStatus.PENDING,
                                PublicationStatus.SCHEDULED})  # fmt: skip
"""States a publication can still be cancelled in (one being uploaded cannot)."""

FINAL: Final = frozenset({PublicationStatus.PUBLISHED, PublicationStatus.FAILED,
                          PublicationStatus.CANCELLED, PublicationStatus.REJECTED})  # fmt: skip


class ClipKind(enum.StrEnum):
    """What a publication's ``clip_id`` names."""

    CLIP = "clip"
    """A rendered clip of a job (``/api/clips``)."""
    GENERATED = "generated"
    """A generated clip on the app-owned bucket (reels, stream clips, ...)."""


MAX_ATTEMPTS: Final = 3
"""Attempts per publication before it fails for good."""
BACKOFF_S: Final = 60.0
"""The first retry's wait; each later one doubles it (60 s, 120 s, ...)."""
CALL_TIMEOUT_S: Final = 120.0
"""The most one attempt (one call to the platform's adapter) may take."""


def retry_delay(attempt: int, retry_after_s: float | None = None, *,
                base_s: float = BACKOFF_S) -> float:  # fmt: skip
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential from
    ``base_s``, but never sooner than the platform's own retry time when it gave one.

    >>> retry_delay(1), retry_delay(2), retry_delay(1, retry_after_s=300.0)
    (60.0, 120.0, 300.0)
    """
    wait = base_s * 2 ** max(attempt - 1, 0)
    return max(wait, retry_after_s or 0.0)
