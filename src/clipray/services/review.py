"""Review and export of virtual clips, and the groups that share their metadata.

Approving a clip queues its export (a stream copy of its frames from the source's
all-intra proxy); the job runner does it in the background for the API, while the CLI,
which has no runner, runs it at once (:func:`export_now`). The HTTP routes
(``PATCH /api/sources/{id}/clips/{clip}``, ``.../download``, ``.../groups``) and the CLI
(``clipray review``) call these functions.

    >>> done = review(db, ws, clip_id, user_id, ClipChange(review=ReviewStatus.APPROVED),
    ...               wake=wake_runner)                                  # doctest: +SKIP
    >>> done.clip.export.status
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.domain.errors import Conflict, not_found
from clipray.pipelines.export import export_clip
from clipray.services.access import owned
from clipray.services.cuts import ClipView, clip_of, views
from clipray.storage.db import Database
from clipray.storage.objects import Buckets, download_name
from clipray.storage.orm import ClipGroup, ExportStatus, ReviewStatus, Source
from clipray.storage.vclips import CoverRepo


@dataclass(frozen=True)
class ClipChange:
    """What a review changes; None leaves a field as it is."""

    review: ReviewStatus | None = None
    title: str | None = None
    description: str | None = None
    group_id: str | None = None
    """A group of the clip's source; ``""`` takes the clip out of its group."""


@dataclass(frozen=True)
class Reviewed:
    clip: ClipView
    queued: bool
    """Whether the review queued an export that a worker has yet to make."""


@dataclass(frozen=True)
class GroupChange:
    """A group's fields to change; None leaves one as it is."""

    name: str | None = None
    title: str | None = None
    description: str | None = None
    hashtags: Sequence[str] | None = None


@dataclass(frozen=True)
class GroupView:
    group: ClipGroup
    clips: list[str]
    """Its live clips' ids, in frame order."""


# --- review --------------------------------------------------------------------------------
def review(
    db: Database,
    workspace_id: str,
    clip_id: str,
    user_id: str | None,
    change: ClipChange,
    *,
    source_id: str | None = None,
    wake: Callable[[], None] | None = None,
) -> Reviewed:
    """Review (pending_review, approved, skipped, archived), retitle or regroup a clip.

    Approving a live clip queues its export (once: a clip's frames never change). The
    change is committed before ``wake`` is called, since the runner it wakes reads the
    queued export from its own session. A replaced clip cannot be reviewed (409
    ``CLIP_REPLACED``); a group of another source is 404 ``GROUP_NOT_FOUND``.
    """
    with db.session() as s:
        source, clip = clip_of(s, workspace_id, clip_id, source_id)
        repo = CoverRepo(s, workspace_id)
        if change.group_id is not None:
            clip.group_id = _group_of(repo, source, change.group_id)
        if change.title is not None:
            clip.title = change.title
        if change.description is not None:
            clip.description = change.description
        queued = False
        if change.review is not None:
            export = repo.review(clip, change.review, user_id)
            queued = export is not None and export.status is ExportStatus.PENDING
        s.flush()
        view = views(s, source, [clip])[0]
    if queued and wake is not None:
        wake()
    return Reviewed(view, queued)


def _group_of(repo: CoverRepo, source: Source, group_id: str) -> str | None:
    if group_id == "":
        return None
    group = repo.group(group_id)
    if group is None or group.source_id != source.id:
        raise not_found("group", group_id)
    return group.id


# --- exports -------------------------------------------------------------------------------
def ready_export(session: Session, workspace_id: str, clip_id: str,
                 source_id: str | None = None) -> ClipView:  # fmt: skip
    """The clip with its finished export: 409 ``EXPORT_NOT_READY`` otherwise (not approved,
    still pending, or failed, with why)."""
    source, clip = clip_of(session, workspace_id, clip_id, source_id)
    view = views(session, source, [clip])[0]
    export = view.export
    if export is None or export.status is not ExportStatus.DONE or not export.key:
        state = export.status.value if export else "not exported (approve it first)"
        why = f": {export.error}" if export is not None and export.error else ""
        raise Conflict("EXPORT_NOT_READY", f"the clip's export is {state}{why}")
    return view


def download_url(db: Database, buckets: Buckets, workspace_id: str, source_id: str,
                 clip_id: str) -> str:  # fmt: skip
    """A short-lived presigned URL that saves the clip's exported MP4 under its title."""
    with db.session() as s:
        view = ready_export(s, workspace_id, clip_id, source_id)
    clip, key = view.row, _key(view)
    name = download_name(clip.title, f"-{clip.start_frame}-{clip.end_frame}.mp4")
    return buckets.media.scoped(workspace_id).presign_get(key, download_name=name)


def export_now(settings: Settings, db: Database, workspace_id: str, clip_id: str) -> ClipView:
    """Make the approved clip's export here and now (building the source's proxy first if
    there is none), for a caller without a job runner; a worker that holds it already
    finishes it meanwhile. Returns the clip with its finished export."""
    with db.session() as s:
        _, clip = clip_of(s, workspace_id, clip_id)
        export = CoverRepo(s, workspace_id).export_of(clip.id)
        export_id = export.id if export is not None else None
    if export_id is not None:
        export_clip(settings, export_id)  # None when done already or another worker holds it
    with db.session() as s:
        return ready_export(s, workspace_id, clip_id)


def save_export(buckets: Buckets, workspace_id: str, view: ClipView, dest: Path) -> Path:
    """Copy a finished export (see :func:`ready_export`) to the local file ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    buckets.media.scoped(workspace_id).download(_key(view), dest)
    return dest


def _key(view: ClipView) -> str:
    key = view.export.key if view.export is not None else None
    assert key, "a finished export has a key"
    return key


# --- groups --------------------------------------------------------------------------------
def groups(db: Database, workspace_id: str, source_id: str) -> list[GroupView]:
    """The source's groups, oldest first."""
    with db.session() as s:
        source = owned(s, Source, source_id, workspace_id, "source")
        repo = CoverRepo(s, workspace_id)
        return [GroupView(g, repo.members(g.id)) for g in repo.groups(source.id)]


def add_group(db: Database, workspace_id: str, source_id: str, fields: GroupChange
              ) -> GroupView:  # fmt: skip
    """A group of the source's clips with shared metadata (``fields.name`` is required)."""
    assert fields.name, "a group has a name"
    with db.session() as s:
        source = owned(s, Source, source_id, workspace_id, "source")
        group = CoverRepo(s, workspace_id).add_group(
            source.id, fields.name, fields.title or "", fields.description or "",
            fields.hashtags or ())  # fmt: skip
        return GroupView(group, [])


def patch_group(db: Database, workspace_id: str, source_id: str, group_id: str,
                change: GroupChange) -> GroupView:  # fmt: skip
    """Change a group's name, title, description or hashtags."""
    with db.session() as s:
        source = owned(s, Source, source_id, workspace_id, "source")
        group = owned(s, ClipGroup, group_id, workspace_id, "group")
        if group.source_id != source.id:
            raise not_found("group", group_id)
        for name in ("name", "title", "description"):
            value = getattr(change, name)
            if value is not None:
                setattr(group, name, value)
        if change.hashtags is not None:
            group.hashtags = list(change.hashtags)
        s.flush()
        return GroupView(group, CoverRepo(s, workspace_id).members(group.id))
