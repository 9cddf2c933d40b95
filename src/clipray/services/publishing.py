"""Executing publications: claim one, upload it, record the outcome, retry; pull analytics.

The publisher actor (``actors/publisher.py``) asks :func:`due` every poll and runs
:func:`run` for each id as one Ray task. :func:`run` claims the row (``pending`` or
``scheduled`` -> ``publishing``, attempt + 1, only once ``not_before`` has passed: two
publishers, or a restarted one, never both win), copies the clip to a temp file, posts it
through the platform's adapter with fresh tokens, and records what happened in one
transaction, only if its attempt still holds the row:

- posted: ``published`` with the platform's post id and URL; the generated clip (the one
  posted, or the one holding a rendered clip's files) becomes ``published`` too, so
  retention never purges it; ``publication.published`` is emitted.
- a refusal that may pass (rate limit, the platform unavailable, a timeout, storage briefly
  away): ``pending`` again with ``not_before = now + retry_delay(attempt, retry time)``
  (exponential from ``publish_backoff_s``, never sooner than the platform's retry time),
  until :data:`~clipray.domain.publications.MAX_ATTEMPTS` attempts were made.
- the platform's feature flag switched off for the workspace (``services/flags.py``): not
  claimed, no attempt spent; ``not_before`` moves ``publish_backoff_s`` on with
  ``PLATFORM_SWITCHED_OFF``, so the post waits until the integration is on again.
- a 401 from the platform: the tokens are refreshed by force and the post tried once more
  within the attempt; a second 401 (or a refused refresh) fails it.
- a final refusal (rejected media, a clip that is gone, an account to reconnect), or the
  last attempt: ``failed`` with ``error_code`` and ``error``; ``publication.failed`` is
  emitted.

``PendingReview`` (the platform holds the post or is still processing it after the
adapter's polling) is final here: ``failed`` with ``PLATFORM_PENDING_REVIEW``. Trying again
would upload the clip again, and where the post was already submitted (TikTok) the platform
may publish both: a publication is never posted twice, so the user decides.

Never twice, and its limit: an attempt that dies after the platform accepted the post but
before its outcome was recorded (the publisher's node lost, the call timeout hit during the
final request) leaves the row ``publishing``; :func:`recover` (and the timeout) send it back
to ``pending`` and a later attempt uploads again. The adapters bound that window: every
protocol uploads and processes first and creates the post in one last short request (X's
``POST /2/tweets``, LinkedIn's ``/rest/posts``, Instagram's ``media_publish``, TikTok's and
YouTube's finished upload), so only a failure inside that one request can post twice.

    >>> ids = due(db, limit=4)                                        # doctest: +SKIP
    >>> run(settings, ids[0])                                         # doctest: +SKIP
    <PublicationStatus.PUBLISHED: 'published'>
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from clipray.cluster.services import open_storage, own_database
from clipray.config import Settings
from clipray.domain.errors import CodedError, Conflict, not_found
from clipray.domain.publications import (
    MAX_ATTEMPTS,
    ClipKind,
    PublicationStatus,
    retry_delay,
)
from clipray.domain.time import rfc3339, utcnow
from clipray.domain.webhooks import WebhookEvent
from clipray.publish.base import (
    ClipUpload,
    PendingReview,
    PostMetadata,
    PostResult,
    PublishError,
    TokenExpired,
    UnknownPlatform,
)
from clipray.services import connections, flags, webhooks
from clipray.services.generated import store as generated_store
from clipray.storage import publishing as q
from clipray.storage.db import Database
from clipray.storage.generated import GeneratedRepo
from clipray.storage.orm import Clip, ClipStatus, GeneratedClip, Publication

log = logging.getLogger("clipray.publishing")

TIMEOUT = "PUBLISH_TIMEOUT"
INTERRUPTED = "PUBLISH_INTERRUPTED"
CRASHED = "PUBLISH_CRASHED"
SWITCHED_OFF = "PLATFORM_SWITCHED_OFF"
"""Recorded on a publication deferred while its platform's feature flag is off."""


@dataclass(frozen=True)
class _Work:
    """What one attempt needs from the row, read in the claim's transaction."""

    id: str
    workspace_id: str
    clip_id: str
    clip_kind: ClipKind
    account_id: str | None
    platform: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class _Media:
    key: str
    title: str
    description: str
    hashtags: tuple[str, ...]
    duration_s: float | None


def due(db: Database, limit: int, now: datetime | None = None) -> list[str]:
    """Ids of pending or scheduled publications whose ``not_before`` has passed, oldest first."""
    with db.session() as s:
        return q.due(s, now or utcnow(), limit)


# --- one attempt ---------------------------------------------------------------------------
@own_database
def run(settings: Settings, publication_id: str, now: datetime | None = None,
        db: Database | None = None) -> PublicationStatus | None:  # fmt: skip
    """One attempt of a publication (a Ray task of the publisher; tests call it with ``now``
    to drive the backoff without waiting). Returns the status it left, or None when the
    publication was not due or another attempt holds it."""
    assert db is not None  # given by @own_database
    at = now or utcnow()
    if _switched_off(settings, db, publication_id, at):
        return None
    with db.session() as s:
        attempt = q.claim(s, publication_id, at)
        if attempt is None:
            return None
        row = s.get(Publication, publication_id)
        assert row is not None  # just claimed
        work = _Work(row.id, row.workspace_id, row.clip_id, row.clip_kind, row.account_id,
                     row.platform, dict(row.meta or {}))  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="clipray-publish-") as tmp:
            upload = _upload_of(settings, db, work, Path(tmp))
            post = _post(settings, db, work, upload)
    except Exception as exc:  # every refusal and every bug is recorded on the row
        code, message, retryable, after = _refusal(exc)
        log.warning("publication %s attempt %d: %s: %s", work.id, attempt, code, message)
        return _record_refusal(settings, db, work.id, attempt, code, message, retryable, after,
                               now)  # fmt: skip
    return _record_published(db, work, attempt, post, now)


def _switched_off(settings: Settings, db: Database, publication_id: str, at: datetime) -> bool:
    """Whether the platform's feature flag is off for the publication's workspace; if so the
    publication waits, unclaimed (no attempt spent), and is looked at again after
    ``publish_backoff_s``: switching a broken integration off defers its posts, it does not
    fail them."""
    with db.session() as s:
        row = s.get(Publication, publication_id)
        if row is None:
            return False
        platform, workspace_id = row.platform, row.workspace_id
    try:
        if flags.platform_enabled(db, platform, workspace_id):
            return False
    except UnknownPlatform:
        return False  # the attempt fails it with PLATFORM_UNKNOWN
    until = at + timedelta(seconds=settings.publish_backoff_s)
    with db.session() as s:
        q.defer(s, publication_id, at, until, SWITCHED_OFF,
                f"publishing to {platform} is switched off; waiting until it is on again")
    return True


def _upload_of(settings: Settings, db: Database, work: _Work, tmp: Path) -> ClipUpload:
    """The clip's video in a temp file, with the post's metadata (what the request asked,
    else the clip's own title, description and hashtags) and a presigned URL of the same
    object for the platforms that pull it."""
    with db.session() as s:
        media = _media(s, work)
    buckets = open_storage(settings)
    store = generated_store(buckets, work.workspace_id)
    path = store.download(media.key, tmp / "clip.mp4")
    meta = work.meta
    tags = meta.get("hashtags")
    metadata = PostMetadata(
        title=str(meta.get("title") or media.title),
        description=str(meta.get("description") or media.description),
        hashtags=tuple(str(t) for t in tags) if tags is not None else media.hashtags,
        privacy=meta.get("privacy"),
    )  # fmt: skip
    return ClipUpload(path=path, size=path.stat().st_size, content_type="video/mp4",
                      metadata=metadata, media_url=store.presign_get(media.key),
                      duration_s=media.duration_s)  # fmt: skip


def _media(s: Session, work: _Work) -> _Media:
    """Where the clip's video is: a rendered clip's object, or a generated clip's.

    Raises:
        NotFound: ``CLIP_NOT_FOUND`` / ``GENERATED_CLIP_NOT_FOUND``.
        Conflict: ``CLIP_NOT_READY`` (not rendered), ``CLIP_PURGED`` (retention took it).
    """
    if work.clip_kind is ClipKind.CLIP:
        clip = s.get(Clip, work.clip_id)
        if clip is None or clip.workspace_id != work.workspace_id:
            raise not_found("clip", work.clip_id)
        if clip.status is not ClipStatus.RENDERED or not clip.video_key:
            raise Conflict("CLIP_NOT_READY", f"clip {clip.id} is {clip.status.value}, "
                           "not rendered")  # fmt: skip
        return _Media(clip.video_key, clip.title, clip.description,
                      tuple(clip.hashtags or ()), clip.end_s - clip.start_s)  # fmt: skip
    gen = s.get(GeneratedClip, work.clip_id)
    if gen is None or gen.workspace_id != work.workspace_id:
        raise not_found("generated_clip", work.clip_id)
    if GeneratedRepo.gone(gen, utcnow()):
        raise Conflict("CLIP_PURGED", f"generated clip {gen.id} expired and was purged")
    return _Media(gen.storage_key, gen.title, "", (), gen.duration_s or None)


def _post(settings: Settings, db: Database, work: _Work, upload: ClipUpload) -> PostResult:
    """Post with the account's fresh tokens; after a 401, once more with tokens refreshed
    by force (the platform may have revoked the access token before its expiry)."""
    if work.account_id is None:
        raise Conflict("ACCOUNT_REVOKED", "the account was disconnected")
    adapter = connections.adapter(settings, work.platform)
    tokens = connections.usable_tokens(settings, db, work.workspace_id, work.account_id)
    try:
        return adapter.publish(tokens, upload)
    except TokenExpired:
        tokens = connections.usable_tokens(settings, db, work.workspace_id, work.account_id,
                                           force_refresh=True)  # fmt: skip
        return adapter.publish(tokens, upload)


def _refusal(exc: BaseException) -> tuple[str, str, bool, float | None]:
    """``(code, message, retryable, platform's retry time)`` of what an attempt raised."""
    if isinstance(exc, PendingReview):
        return exc.code, (f"{exc.message} (not retried: an upload again could post it "
                          "twice; check the platform)"), False, None  # fmt: skip
    if isinstance(exc, CodedError):
        after = exc.retry_after_s if isinstance(exc, PublishError) else None
        return exc.code, exc.message, bool(exc.retryable), after
    if isinstance(exc, (OSError, TimeoutError)):  # the bucket or the network briefly away
        return "PUBLISH_IO_ERROR", f"{type(exc).__name__}: {exc}", True, None
    return "PUBLISH_ERROR", f"{type(exc).__name__}: {exc}", True, None


def _record_published(db: Database, work: _Work, attempt: int, post: PostResult,
                      now: datetime | None) -> PublicationStatus | None:  # fmt: skip
    at = now or utcnow()
    with db.session() as s:
        if not q.settle(s, work.id, attempt, status=PublicationStatus.PUBLISHED,
                        platform_post_id=post.platform_post_id, url=post.url,
                        published_at=at, finished_at=at, error_code=None, error=None):
            log.warning("publication %s was posted (%s) but attempt %d no longer holds it",
                        work.id, post.platform_post_id, attempt)  # fmt: skip
            return None
        if work.clip_kind is ClipKind.GENERATED:
            q.mark_generated_published(s, work.clip_id, at)
        elif (clip := s.get(Clip, work.clip_id)) is not None and clip.generated_clip_id:
            # a rendered clip's files are its generated clip's: keep them too
            q.mark_generated_published(s, clip.generated_clip_id, at)
        row = s.get(Publication, work.id)
        assert row is not None
        webhooks.emit(s, work.workspace_id, WebhookEvent.PUBLICATION_PUBLISHED, _payload(row))
    return PublicationStatus.PUBLISHED


def _record_refusal(settings: Settings, db: Database, publication_id: str, attempt: int,
                    code: str, message: str, retryable: bool, retry_after_s: float | None,
                    now: datetime | None) -> PublicationStatus | None:  # fmt: skip
    """Back to ``pending`` after the backoff, or ``failed`` (with its webhook) once the
    refusal is final or the attempts ran out; only while ``attempt`` holds the row."""
    at = now or utcnow()
    error = message[:2000]
    with db.session() as s:
        if retryable and attempt < MAX_ATTEMPTS:
            wait = retry_delay(attempt, retry_after_s, base_s=settings.publish_backoff_s)
            done = q.settle(s, publication_id, attempt, status=PublicationStatus.PENDING,
                            not_before=at + timedelta(seconds=wait), finished_at=at,
                            error_code=code, error=error)  # fmt: skip
            return PublicationStatus.PENDING if done else None
        if not q.settle(s, publication_id, attempt, status=PublicationStatus.FAILED,
                        finished_at=at, error_code=code, error=error):
            return None
        row = s.get(Publication, publication_id)
        assert row is not None
        webhooks.emit(s, row.workspace_id, WebhookEvent.PUBLICATION_FAILED, _payload(row))
    return PublicationStatus.FAILED


def _payload(row: Publication) -> dict[str, Any]:
    """A publication's webhook data (what ``GET /api/publish/{id}`` shows, in short)."""
    s = row.status
    return {
        "publication_id": row.id, "clip_id": row.clip_id, "clip_kind": row.clip_kind.value,
        "account_id": row.account_id, "platform": row.platform,
        "status": s.value if isinstance(s, PublicationStatus) else str(s),
        "platform_post_id": row.platform_post_id, "url": row.url,
        "published_at": rfc3339(row.published_at) if row.published_at else None,
        "attempts": row.attempt, "error_code": row.error_code, "error": row.error,
    }  # fmt: skip


# --- attempts the publisher gives up on ----------------------------------------------------
def abandon(settings: Settings, db: Database, publication_id: str, code: str, message: str,
            now: datetime | None = None) -> PublicationStatus | None:  # fmt: skip
    """Record an attempt the publisher stopped (past the call timeout, or its worker died) as
    a retryable refusal: ``pending`` after the backoff, ``failed`` when it was the last.
    Nothing happens unless the publication is still ``publishing``."""
    with db.session() as s:
        row = s.get(Publication, publication_id)
        if row is None or row.status is not PublicationStatus.PUBLISHING:
            return None
        attempt = row.attempt
    return _record_refusal(settings, db, publication_id, attempt, code, message, True, None, now)


def overdue(db: Database, publication_ids: list[str], limit_s: float,
            now: datetime | None = None) -> list[str]:  # fmt: skip
    """Of ``publication_ids``, those whose current attempt was claimed more than ``limit_s``
    ago and is still publishing."""
    cutoff = (now or utcnow()) - timedelta(seconds=limit_s)
    with db.session() as s:
        return q.started_before(s, publication_ids, cutoff)


def recover(settings: Settings, db: Database, now: datetime | None = None) -> list[str]:
    """After a publisher restart: publications a dead attempt left ``publishing`` go back to
    ``pending`` with backoff (or fail, if it was their last attempt). The attempt may have
    posted before it died: see the module's note on never twice."""
    with db.session() as s:
        stuck = q.publishing(s)
    for publication_id, _ in stuck:
        abandon(settings, db, publication_id, INTERRUPTED,
                "the publisher stopped while this attempt ran", now)  # fmt: skip
    if stuck:
        log.warning("%d publications interrupted by a publisher restart are due again",
                    len(stuck))  # fmt: skip
    return [p for p, _ in stuck]


# --- analytics -----------------------------------------------------------------------------
@own_database
def pull_analytics(settings: Settings, db: Database | None = None, now: datetime | None = None,
                   limit: int = 500) -> int:  # fmt: skip
    """Pull views, likes and comments of the publications published within
    ``publish_analytics_days`` into ``stats``; returns how many were updated. One post's
    failure (the platform away, an account to reconnect) skips that post until next time."""
    assert db is not None  # given by @own_database
    at = now or utcnow()
    since = at - timedelta(days=settings.publish_analytics_days)
    with db.session() as s:
        posts = [(p.id, p.workspace_id, p.account_id, p.platform, p.platform_post_id)
                 for p in q.recent_posts(s, since, limit)]  # fmt: skip
    updated = 0
    for pub_id, ws, account_id, platform, post_id in posts:
        if account_id is None or post_id is None:  # the query excludes them
            continue
        try:
            tokens = connections.usable_tokens(settings, db, ws, account_id)
            got = connections.adapter(settings, platform).analytics(tokens, post_id)
        except Exception as exc:  # next interval
            log.warning("analytics of publication %s: %s", pub_id, exc)
            continue
        stats = {k: int(got.get(k, 0)) for k in ("views", "likes", "comments")}
        with db.session() as s:
            q.record_stats(s, pub_id, stats, utcnow())
        updated += 1
    return updated


@dataclass(frozen=True)
class PostStats:
    publication_id: str
    clip_id: str
    platform: str
    account_id: str | None
    url: str | None
    published_at: datetime | None
    views: int
    likes: int
    comments: int
    stats_at: datetime | None


@dataclass(frozen=True)
class PlatformTotals:
    platform: str
    publications: int
    views: int
    likes: int
    comments: int


def analytics(db: Database, workspace_id: str, limit: int, offset: int = 0,
              platform: str | None = None
              ) -> tuple[list[PostStats], int, list[PlatformTotals]]:  # fmt: skip
    """One page of the workspace's published publications with their last pulled stats,
    newest first, the count, and the totals per platform (over all of them, not the page)."""
    with db.session() as s:
        rows, total = q.published_page(s, workspace_id, platform, limit, offset)
        page = [PostStats(r.id, r.clip_id, r.platform, r.account_id, r.url, r.published_at,
                          int((r.stats or {}).get("views", 0)),
                          int((r.stats or {}).get("likes", 0)),
                          int((r.stats or {}).get("comments", 0)), r.stats_at)
                for r in rows]  # fmt: skip
        sums: dict[str, list[int]] = {}
        for name, stats in q.published_stats(s, workspace_id, platform):
            acc = sums.setdefault(name, [0, 0, 0, 0])
            acc[0] += 1
            for i, key in enumerate(("views", "likes", "comments"), start=1):
                acc[i] += int(stats.get(key, 0))
    totals = [PlatformTotals(name, *acc) for name, acc in sorted(sums.items())]
    return page, total, totals


__all__ = ["CRASHED", "INTERRUPTED", "SWITCHED_OFF", "TIMEOUT", "PlatformTotals", "PostStats",
           "abandon", "analytics", "due", "overdue", "pull_analytics", "recover",
           "run"]  # fmt: skip
