"""Whether clipray may generate a clip now: the one check before any rendering work.

Every door that asks for a render (a re-render, a highlight reel) refuses up front what
could not be stored as a generated clip, rather than after minutes of work.

    >>> require_generation(settings, buckets, session, workspace_id)   # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.domain.errors import Conflict, Unavailable
from clipray.storage.generated import GeneratedLimitError, GeneratedRepo
from clipray.storage.objects import Buckets

__all__ = ["require_generation"]


def require_generation(settings: Settings, buckets: Buckets, session: Session,
                       workspace_id: str) -> None:  # fmt: skip
    """Refuse what could not be stored as a generated clip.

    Raises:
        Unavailable: 503 ``GENERATED_STORAGE_UNAVAILABLE``, no reachable app-owned bucket.
        Conflict: 409 ``GENERATED_CLIP_LIMIT``, the workspace is at its live cap.
    """
    problem = buckets.generation_problem()
    if problem is not None:
        # Not retryable: the bucket is missing from the configuration, or was removed.
        raise Unavailable("GENERATED_STORAGE_UNAVAILABLE", problem, retryable=False)
    try:
        GeneratedRepo(session, workspace_id).require_room(settings.generated_clips_max_live)
    except GeneratedLimitError as exc:
        raise Conflict(exc.code, str(exc)) from exc
