"""Highlight reels: the one flow behind ``POST /api/highlights/export``, ``GET
/api/highlights`` and ``clipray reel``.

Queueing checks, in this order, what can be checked cheapest first: the number of parts
(no query at all, so a request of 260,000 moments is refused at once), room for one more
generated clip (the app-owned bucket and the workspace's cap), then each moment against
its source. The job runner makes a queued reel; the CLI makes it at once with
:func:`make_now`, as one Ray task, and both record the result on the same row.

    >>> req = ReelRequest([(source_id, 12.5, 20.0)], title="best of")   # doctest: +SKIP
    >>> row = queue_reel(session, buckets, settings, ws, req, user_id)  # doctest: +SKIP
    >>> reel_state(session, buckets, ws, row.id).url                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.pipelines.highlights import (
    check_parts,
    make_highlight,
    plan_reel,
    record_reel,
    reels_query,
    workspace_sources,
)
from clipray.services.access import owned
from clipray.services.generation import require_generation
from clipray.storage.generated import GeneratedRepo
from clipray.storage.objects import download_name
from clipray.storage.orm import ExportStatus, HighlightReel, utcnow
from clipray.storage.repos import fetch_page

if TYPE_CHECKING:
    from clipray.storage.db import Database
    from clipray.storage.objects import Buckets

Moment = tuple[str, float, float]
"""``(source_id, start, end)``, seconds."""


@dataclass(frozen=True)
class ReelRequest:
    moments: Sequence[Moment]
    """In reel order."""
    title: str = ""
    height: int | None = None
    """Height of the reel; None: the tallest part's (at most 1080)."""


@dataclass(frozen=True)
class ReelState:
    """A reel's row and, once it succeeded and until its generated clip is purged, where
    its MP4 is."""

    row: HighlightReel
    key: str | None
    """Key of the MP4 in the workspace's view of the app-owned bucket."""
    url: str | None
    """A presigned URL of it."""


def queue_reel(session: Session, buckets: Buckets, settings: Settings, workspace_id: str,
               req: ReelRequest, user_id: str | None) -> HighlightReel:  # fmt: skip
    """Check ``req`` and queue it (visible to the job runner once the session commits).

    Raises:
        ReelRequestError: 422 ``REEL_EMPTY`` / ``REEL_TOO_MANY_PARTS`` (before any query),
            404 ``SOURCE_NOT_FOUND``, 422 ``MOMENT_OUT_OF_RANGE`` / ``REEL_TOO_LONG``.
        CodedError: 503 ``GENERATED_STORAGE_UNAVAILABLE``, 409 ``GENERATED_CLIP_LIMIT``.
    """
    check_parts(req.moments, settings.highlight_max_parts)
    require_generation(settings, buckets, session, workspace_id)
    sources = workspace_sources(session, workspace_id, {sid for sid, _, _ in req.moments})
    planned = plan_reel(req.moments, sources, settings.highlight_max_parts,
                        settings.highlight_max_duration_s)  # fmt: skip
    return record_reel(session, workspace_id, planned, req.title, req.height, user_id)


def _state(session: Session, buckets: Buckets, workspace_id: str,
           row: HighlightReel) -> ReelState:  # fmt: skip
    if row.status is not ExportStatus.DONE or not row.generated_clip_id:
        return ReelState(row, None, None)
    gen = GeneratedRepo(session, workspace_id).get(row.generated_clip_id)
    if gen is None or GeneratedRepo.gone(gen, utcnow()) or buckets.generated is None:
        return ReelState(row, None, None)
    # A link that saves the file under the reel's title: a browser follows an <a download>
    # to another origin (the bucket) as a navigation, and would play the MP4 instead.
    name = download_name(row.title or "highlight-reel", ".mp4")
    url = buckets.generated.scoped(workspace_id).presign_get(gen.storage_key, download_name=name)
    return ReelState(row, gen.storage_key, url)


def reel_state(session: Session, buckets: Buckets, workspace_id: str, reel_id: str) -> ReelState:
    """One reel of the workspace. Raises NotFound ``HIGHLIGHT_JOB_NOT_FOUND`` /
    Forbidden ``FORBIDDEN`` (another workspace's)."""
    row = owned(session, HighlightReel, reel_id, workspace_id, "highlight_job")
    return _state(session, buckets, workspace_id, row)


def list_reels(session: Session, buckets: Buckets, workspace_id: str, page: int,
               limit: int) -> tuple[list[ReelState], int]:  # fmt: skip
    """One page (from 1) of the workspace's reels, newest first, and how many there are."""
    rows, total = fetch_page(session, reels_query(workspace_id), limit, (page - 1) * limit,
                             HighlightReel.created_at.desc(), HighlightReel.id)  # fmt: skip
    return [_state(session, buckets, workspace_id, r) for r in rows], total


def make_now(settings: Settings, db: Database, reel_id: str, poll_s: float = 0.5,
             timeout_s: float = 3600.0) -> ExportStatus:  # fmt: skip
    """Make a queued reel at once, as one Ray task on the cluster, and wait for its outcome
    (``skipped``: a running job runner claimed it first, so wait for that one instead).
    Returns the reel's final status."""
    import ray

    from clipray.cluster.resources import actor_options
    from clipray.cluster.services import connect_ray

    connect_ray(settings, log_to_driver=False)
    task = ray.remote(make_highlight).options(**actor_options(settings.stage("reel")))
    ray.get(task.remote(settings, reel_id))
    deadline = time.monotonic() + timeout_s
    while True:
        with db.session() as s:
            row = s.get(HighlightReel, reel_id)
            status = row.status if row is not None else ExportStatus.FAILED
        if status not in (ExportStatus.PENDING, ExportStatus.RUNNING):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"reel {reel_id} is still {status.value} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def make_reel(settings: Settings, db: Database, buckets: Buckets, workspace_id: str,
              req: ReelRequest, user_id: str | None) -> ReelState:  # fmt: skip
    """Queue ``req`` and make it at once (``clipray reel``): :func:`queue_reel`'s refusals,
    then :func:`make_now`; returns the reel's final state (``row.error`` says why a failed
    one failed)."""
    with db.session() as s:
        reel_id = queue_reel(s, buckets, settings, workspace_id, req, user_id).id
    make_now(settings, db, reel_id)
    with db.session() as s:
        return reel_state(s, buckets, workspace_id, reel_id)


def save(buckets: Buckets, workspace_id: str, state: ReelState, path: Path) -> Path | None:
    """Download a made reel's MP4 to ``path``; None when it has none (failed, or purged)."""
    if state.key is None or buckets.generated is None:
        return None
    return buckets.generated.scoped(workspace_id).download(state.key, path)
