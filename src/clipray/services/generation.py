"""Room for one more generated clip: checked before any work that would make one.

A re-render or a highlight reel ends as a generated clip on the app-owned bucket; without
that bucket, or at the workspace's cap of live generated clips, the work would be done and
then thrown away. Both doors of both use cases ask here first.

    >>> require_generation(buckets, session, ws, cap=500)  # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clipray.domain.errors import Conflict, Unavailable
from clipray.storage.generated import GeneratedLimitError, GeneratedRepo
from clipray.storage.objects import Buckets


def require_generation(buckets: Buckets, session: Session, workspace_id: str, cap: int) -> None:
    """Raises Unavailable: 503 ``GENERATED_STORAGE_UNAVAILABLE`` without the app-owned
    bucket; Conflict: 409 ``GENERATED_CLIP_LIMIT`` at the workspace's cap."""
    problem = buckets.generation_problem()
    if problem is not None:
        raise Unavailable("GENERATED_STORAGE_UNAVAILABLE", problem)
    try:
        GeneratedRepo(session, workspace_id).require_room(cap)
    except GeneratedLimitError as exc:
        raise Conflict(exc.code, str(exc)) from exc
