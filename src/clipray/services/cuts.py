"""Cut edits: a source's cover of virtual clips, and adding, moving, removing and undoing
its cut points, with the audit trail.

One function per operation, each one transaction; the HTTP routes
(``/api/sources/{id}/cuts``, ``/api/sources/{id}/clips``) and the CLI (``clipray cuts``)
call the same ones, so they cannot drift apart. Refusals are
:class:`~clipray.clips.cuts.CutError` (422, or 409 when the cover's state refuses),
:class:`~clipray.storage.vclips.CoverConflictError` (409 ``CUT_VERSION_CONFLICT``: send the
source's ``cut_version`` back as ``version``) and
:class:`~clipray.storage.vclips.NoCoverError` (409 ``CLIPS_NOT_READY``).

    >>> done = add(db, workspace_id, source_id, user_id, frame=120, version=3)  # doctest: +SKIP
    >>> done.edit.cuts_after, [c.row.id for c in done.clips]
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from clipray.clips.cuts import Op
from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import Conflict, not_found
from clipray.pipelines.export import grid_of
from clipray.services import audit
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.orm import ClipExport, CutEdit, ReviewStatus, Source, VirtualClip
from clipray.storage.vclips import CoverRepo, NoCoverError


@dataclass(frozen=True)
class ClipView:
    """A virtual clip with its bounds in seconds on the source's frame grid and its export."""

    row: VirtualClip
    start: float
    end: float
    export: ClipExport | None


@dataclass(frozen=True)
class Cover:
    """A source's current clips in frame order: together they cover it exactly."""

    source: Source
    clips: list[ClipView]


@dataclass(frozen=True)
class CutPoints:
    source: Source
    cuts: list[int]
    """Interior cut points: the first frame of every clip but the first."""


@dataclass(frozen=True)
class EditResult:
    """One committed operation: its audit row and the clips it created (or brought back)."""

    edit: CutEdit
    clips: list[ClipView]


# --- shared by the use cases on a source's clips -----------------------------------------
def covered(session: Session, workspace_id: str, source_id: str) -> Source:
    """The source, if it has clips: 409 ``CLIPS_NOT_READY`` before its analysis ends, 409
    ``SOURCE_AUDIO_ONLY`` for a sound file (no frames to cut on, so never any clips)."""
    source = owned(session, Source, source_id, workspace_id, "source")
    if source.audio_only:
        raise Conflict("SOURCE_AUDIO_ONLY", "this source is sound only (a podcast episode): "
                       "it has no frames, so no virtual clips; its clips are a job's "
                       "audiograms")  # fmt: skip
    if source.frame_count is None or not source.frame_rate:
        raise NoCoverError("this source has no clips yet: they are made when its analysis ends")
    return source


def clip_of(session: Session, workspace_id: str, clip_id: str, source_id: str | None = None
            ) -> tuple[Source, VirtualClip]:  # fmt: skip
    """A clip and its source. With ``source_id`` (the API's path) the source is checked
    first and a clip of another source is 404, as if it did not exist."""
    if source_id is not None:
        source = covered(session, workspace_id, source_id)
    clip = owned(session, VirtualClip, clip_id, workspace_id, "clip")
    if source_id is None:
        source = covered(session, workspace_id, clip.source_id)
    elif clip.source_id != source.id:
        raise not_found("clip", clip_id)
    return source, clip


def views(session: Session, source: Source, rows: list[VirtualClip]) -> list[ClipView]:
    """The clips with their times and exports (one query for all the exports)."""
    grid = grid_of(source)
    exports = CoverRepo(session, source.workspace_id).exports_of([r.id for r in rows])
    return [ClipView(r, grid.time_of(r.start_frame), grid.time_of(r.end_frame),
                     exports.get(r.id)) for r in rows]  # fmt: skip


# --- reading -----------------------------------------------------------------------------
def cover(db: Database, workspace_id: str, source_id: str, review: ReviewStatus | None = None
          ) -> Cover:  # fmt: skip
    """The source's current clips (one consistent snapshot); ``review`` narrows them."""
    with db.session() as s:
        source = covered(s, workspace_id, source_id)
        rows = CoverRepo(s, workspace_id).live(source.id)
        if review is not None:
            rows = [r for r in rows if r.review is review]
        return Cover(source, views(s, source, rows))


def clip(db: Database, workspace_id: str, source_id: str, clip_id: str) -> ClipView:
    """One clip of the source, also one that a cut operation replaced (``live`` false)."""
    with db.session() as s:
        source, row = clip_of(s, workspace_id, clip_id, source_id)
        return views(s, source, [row])[0]


def cut_points(db: Database, workspace_id: str, source_id: str) -> CutPoints:
    """The source's cut points, with the source (its ``cut_version`` goes with an edit)."""
    with db.session() as s:
        source = covered(s, workspace_id, source_id)
        rows = CoverRepo(s, workspace_id).live(source.id)
        return CutPoints(source, [r.start_frame for r in rows[1:]])


def history(db: Database, workspace_id: str, source_id: str, limit: int, offset: int = 0
            ) -> tuple[list[CutEdit], int]:  # fmt: skip
    """The audit trail, newest first: who did which operation, the cuts before and after."""
    with db.session() as s:
        source = owned(s, Source, source_id, workspace_id, "source")
        return CoverRepo(s, workspace_id).history(source.id, limit, offset)


# --- editing -----------------------------------------------------------------------------
def add(db: Database, workspace_id: str, source_id: str, user_id: str | None, frame: int,
        version: int | None = None, *, ip: str | None = None) -> EditResult:  # fmt: skip
    """Cut at ``frame``: the clip holding it splits in two (``frame`` starts the second)."""
    return _apply(db, workspace_id, source_id, Actor(user_id, ip), "add", frame, None, version)


def move(db: Database, workspace_id: str, source_id: str, user_id: str | None, frame: int,
         to: int, version: int | None = None, *, ip: str | None = None) -> EditResult:  # fmt: skip
    """Move the cut at ``frame`` to ``to``; it may not reach or cross a neighbouring cut."""
    return _apply(db, workspace_id, source_id, Actor(user_id, ip), "move", frame, to, version)


def remove(db: Database, workspace_id: str, source_id: str, user_id: str | None, frame: int,
           version: int | None = None, *, ip: str | None = None) -> EditResult:  # fmt: skip
    """Remove the cut at ``frame``: the two clips that meet there merge into one."""
    return _apply(db, workspace_id, source_id, Actor(user_id, ip), "remove", frame, None,
                  version)  # fmt: skip


def _apply(db: Database, workspace_id: str, source_id: str, actor: Actor, op: Op,
           frame: int, to: int | None, version: int | None) -> EditResult:  # fmt: skip
    with db.session() as s:
        source = covered(s, workspace_id, source_id)
        applied = CoverRepo(s, workspace_id).apply(source, op, actor.user_id, frame=frame,
                                                   to=to, expected_version=version)  # fmt: skip
        _audit(s, actor, workspace_id, source.id, applied.edit)
        return EditResult(applied.edit, views(s, source, applied.created))


def _audit(session: Session, actor: Actor, workspace_id: str, source_id: str,
           edit: CutEdit) -> None:  # fmt: skip
    audit.record(session, actor, workspace_id, AuditAction.CUT_EDITED, "source", source_id,
                 {"op": edit.op, "frame": edit.frame, "to": edit.to_frame,
                  "version": edit.version})  # fmt: skip


def undo(db: Database, workspace_id: str, source_id: str, user_id: str | None,
         version: int | None = None, *, ip: str | None = None) -> EditResult:  # fmt: skip
    """Revert the user's last operation on the source that is not undone yet; the clips it
    replaced come back as they were (same ids, same review)."""
    with db.session() as s:
        source = covered(s, workspace_id, source_id)
        applied = CoverRepo(s, workspace_id).undo(source, user_id, expected_version=version)
        _audit(s, Actor(user_id, ip), workspace_id, source.id, applied.edit)
        return EditResult(applied.edit, views(s, source, applied.created))
