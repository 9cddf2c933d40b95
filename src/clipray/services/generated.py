"""Generated clips: what clipray made, on the app-owned bucket, until it expires.

List, get, keep, and the presigned URLs that play or save one. A purged clip, or an
expired one that the sweep has not reached yet, no longer exists to its users: 404
``GENERATED_CLIP_NOT_FOUND``. The HTTP routes (``/api/generated-clips``) and the CLI
(``clipray clips keep``) call these functions.

    >>> row = keep(db, workspace_id, generated_id)                     # doctest: +SKIP
    >>> row.status, row.expires_at
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clipray.domain.audit import SYSTEM, Actor, AuditAction
from clipray.domain.errors import Unavailable, not_found
from clipray.services import audit
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.generated import GeneratedRepo
from clipray.storage.objects import Buckets, ObjectStore, download_name
from clipray.storage.orm import GeneratedClip, GeneratedStatus, utcnow


def store(buckets: Buckets, workspace_id: str) -> ObjectStore:
    """The workspace's view of the app-owned bucket: 503 ``GENERATED_STORAGE_UNAVAILABLE``
    when none is configured (not retryable: it takes a configuration change)."""
    if buckets.generated is None:
        raise Unavailable("GENERATED_STORAGE_UNAVAILABLE",
                          "no app-owned bucket is configured for generated clips",
                          retryable=False)  # fmt: skip
    return buckets.generated.scoped(workspace_id)


def live(session: Session, workspace_id: str, generated_id: str) -> GeneratedClip:
    """The clip if it still exists: purged, or expired and waiting for the sweep, is 404."""
    row = owned(session, GeneratedClip, generated_id, workspace_id, "generated_clip")
    if GeneratedRepo.gone(row, utcnow()):
        raise not_found("generated_clip", generated_id)
    return row


def page(db: Database, workspace_id: str, limit: int, offset: int = 0,
         status: GeneratedStatus | None = None) -> tuple[list[GeneratedClip], int]:  # fmt: skip
    """The workspace's generated clips, newest first (purged ones only with ``status``)."""
    with db.session() as s:
        return GeneratedRepo(s, workspace_id).page(limit, offset, status)


def get(db: Database, workspace_id: str, generated_id: str) -> GeneratedClip:
    with db.session() as s:
        return live(s, workspace_id, generated_id)


def keep(db: Database, workspace_id: str, generated_id: str, actor: Actor = SYSTEM
         ) -> GeneratedClip:  # fmt: skip
    """Keep the clip: it no longer expires (it still counts against no storage quota).
    Keeping a kept clip changes nothing and records nothing."""
    with db.session() as s:
        row = live(s, workspace_id, generated_id)
        first = row.kept_at is None
        row = GeneratedRepo.keep(row, utcnow())
        if first:
            audit.record(s, actor, workspace_id, AuditAction.CLIP_KEPT, "generated_clip", row.id)
        s.flush()
        return row


def url(db: Database, buckets: Buckets, workspace_id: str, generated_id: str, *,
        attachment: bool) -> str:  # fmt: skip
    """A short-lived presigned URL of the clip's video: one a browser plays, or with
    ``attachment`` one that saves it under its title."""
    with db.session() as s:
        row = live(s, workspace_id, generated_id)
        key, title = row.storage_key, row.title
    name = download_name(title, ".mp4") if attachment else None
    return store(buckets, workspace_id).presign_get(key, download_name=name)
