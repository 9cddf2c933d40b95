"""Virtual clips in the database: a source's cover, cut operations, review, groups, exports.

:mod:`clipray.clips.cuts` decides what an operation does; this module makes it one
transaction. Every operation first bumps the source's ``cut_version`` with a conditional
``UPDATE ... WHERE cut_version = :seen``: of two concurrent edits, the second finds the
version moved and gets :class:`CoverConflictError` (HTTP 409), never a broken cover. On
PostgreSQL the second ``UPDATE`` waits for the first transaction's row lock and then matches
no row; on SQLite writers are serialised (``BEGIN IMMEDIATE``) and the second one reads the
new version, so a caller's ``expected_version`` is what tells a stale edit apart.

    >>> with db.session() as s:                                              # doctest: +SKIP
    ...     repo = CoverRepo(s, workspace_id)
    ...     done = repo.apply(source_id, "add", user_id, frame=120, expected_version=3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from clipray.clips import cuts
from clipray.clips.cuts import CutError, Edit, VClip
from clipray.domain.errors import Conflict
from clipray.storage import claims
from clipray.storage.orm import (
    ClipExport,
    ClipGroup,
    CutEdit,
    ExportStatus,
    ProxyStatus,
    ReviewStatus,
    Source,
    VirtualClip,
    new_id,
    utcnow,
)
from clipray.storage.repos import fetch_page


class CoverConflictError(Conflict):
    """The cover changed since the caller looked (another edit landed first): 409
    ``CUT_VERSION_CONFLICT``, with both versions in ``detail``."""

    def __init__(self, expected: int, actual: int | None) -> None:
        super().__init__(
            "CUT_VERSION_CONFLICT",
            f"the source's cut points changed (version {actual}, you edited version {expected}); "
            "reload them and try again",
            detail={"expected": expected, "current": actual},
        )
        self.expected, self.actual = expected, actual


class NoCoverError(Conflict):
    """The source has no virtual clips yet (its analysis has not finished): 409
    ``CLIPS_NOT_READY``."""

    def __init__(self, message: str) -> None:
        super().__init__("CLIPS_NOT_READY", message)


@dataclass(frozen=True)
class Applied:
    """One committed operation: its audit row and the rows it touched."""

    edit: CutEdit
    created: list[VirtualClip]
    archived: list[VirtualClip]


def _vclip(row: VirtualClip) -> VClip:
    return VClip(row.id, row.start_frame, row.end_frame)


class CoverRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    # --- reading -----------------------------------------------------------------------
    def live(self, source_id: str) -> list[VirtualClip]:
        """The source's current cover, in frame order."""
        return list(
            self.session.scalars(
                select(VirtualClip)
                .where(
                    VirtualClip.workspace_id == self.workspace_id,
                    VirtualClip.source_id == source_id,
                    VirtualClip.live.is_(True),
                )
                .order_by(VirtualClip.start_frame)
            )
        )

    def get(self, clip_id: str) -> VirtualClip | None:
        row = self.session.get(VirtualClip, clip_id)
        return row if row is not None and row.workspace_id == self.workspace_id else None

    def history(
        self, source_id: str, limit: int = 50, offset: int = 0
    ) -> tuple[list[CutEdit], int]:
        """The source's audit trail, newest first, and its length."""
        q = select(CutEdit).where(
            CutEdit.workspace_id == self.workspace_id, CutEdit.source_id == source_id
        )
        return fetch_page(self.session, q, limit, offset, CutEdit.version.desc())

    # --- creating ----------------------------------------------------------------------
    def create_cover(
        self, source: Source, frame_count: int, frame_rate: str, scene_starts: Sequence[int]
    ) -> bool:
        """The first cover of an analysed source, one clip per scene. Idempotent: a source
        that has a cover keeps it (its edits are the user's). Returns whether it created one.
        No proxy yet: it is built when the first clip is approved (:meth:`review`), so a
        source nobody reviews costs no all-intra encode and no bucket space."""
        exists = self.session.scalar(select(func.count()).where(VirtualClip.source_id == source.id))
        if exists:
            return False
        cover = cuts.initial_cover(frame_count, scene_starts, ids=new_id)
        source.frame_count, source.frame_rate = frame_count, frame_rate
        self.session.add_all(self._rows(source, cover))
        self.session.flush()
        return True

    def _rows(self, source: Source, clips: Sequence[VClip], group_id: str | None = None
              ) -> list[VirtualClip]:  # fmt: skip
        return [VirtualClip(id=c.id, workspace_id=self.workspace_id, source_id=source.id,
                            start_frame=c.start, end_frame=c.end, live=True, group_id=group_id,
                            review=ReviewStatus.PENDING_REVIEW)
                for c in clips]  # fmt: skip

    # --- editing -----------------------------------------------------------------------
    def _check_version(self, source: Source, expected: int | None) -> None:
        """Lock the source's row for this edit and read its version: a stale edit is a
        conflict before anything else (the cut it names may be gone). Without the lock, on
        PostgreSQL a loser could read the old version and then the winner's clips, and be
        refused for a missing cut instead of the conflict (SQLite serialises writers and
        reads one snapshot, and ignores the lock)."""
        current = self.session.scalar(
            select(Source.cut_version).where(Source.id == source.id).with_for_update()
        )
        if current is not None:  # what the row holds now, without marking the row changed
            set_committed_value(source, "cut_version", current)
        if expected is not None and expected != source.cut_version:
            raise CoverConflictError(expected, source.cut_version)

    def _bump(self, source: Source) -> int:
        """Take the next version, if nobody took it since this transaction read the source
        (on PostgreSQL the loser of a race waits here for the winner's row lock)."""
        seen = source.cut_version
        done = self.session.execute(
            update(Source)
            .where(Source.id == source.id, Source.cut_version == seen)
            .values(cut_version=seen + 1)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise CoverConflictError(seen, None)
        source.cut_version = seen + 1
        return seen + 1

    def apply(
        self,
        source: Source,
        op: cuts.Op,
        user_id: str | None,
        *,
        frame: int,
        to: int | None = None,
        expected_version: int | None = None,
    ) -> Applied:
        """Add, remove or move one cut. Raises :class:`CutError` (nothing changed) for an
        operation the cover does not allow, :class:`CoverConflictError` for a stale edit."""
        self._check_version(source, expected_version)
        rows = self.live(source.id)
        if not rows:
            raise NoCoverError(f"source {source.id} has no clips yet")
        cover = [_vclip(r) for r in rows]
        if op == "add":
            edit = cuts.add_cut(cover, frame, ids=new_id)
        elif op == "remove":
            edit = cuts.remove_cut(cover, frame, ids=new_id)
        else:
            if to is None:
                raise CutError("CUT_TARGET_MISSING", "a move needs the frame to move the cut to")
            edit = cuts.move_cut(cover, frame, to, ids=new_id)
        return self._commit(source, rows, edit, user_id, frame=frame, to=to)

    def undo(self, source: Source, user_id: str | None, expected_version: int | None = None
             ) -> Applied:  # fmt: skip
        """Revert this user's last operation on the source that is not undone yet."""
        self._check_version(source, expected_version)
        last = self.session.scalar(
            select(CutEdit)
            .where(
                CutEdit.workspace_id == self.workspace_id,
                CutEdit.source_id == source.id,
                CutEdit.user_id.is_(None) if user_id is None else CutEdit.user_id == user_id,
                CutEdit.op != "undo",
                CutEdit.undone.is_(False),
            )
            .order_by(CutEdit.version.desc())
            .limit(1)
        )
        if last is None:
            raise CutError("NOTHING_TO_UNDO", "you have no operation on this source to undo")
        rows = self.live(source.id)
        by_id = {r.id: r for r in self.session.scalars(
            select(VirtualClip).where(VirtualClip.id.in_([*last.created_ids, *last.archived_ids]))
        )}  # fmt: skip
        before = Edit(last.op, (), tuple(_vclip(by_id[i]) for i in last.created_ids),  # type: ignore[arg-type]
                      tuple(_vclip(by_id[i]) for i in last.archived_ids), (), ())  # fmt: skip
        edit = cuts.undo([_vclip(r) for r in rows], before)
        revived = [by_id[i] for i in last.archived_ids]
        applied = self._commit(source, rows, edit, user_id, undo_of=last, revived=revived)
        last.undone = True
        return applied

    def _commit(
        self,
        source: Source,
        rows: list[VirtualClip],
        edit: Edit,
        user_id: str | None,
        *,
        frame: int | None = None,
        to: int | None = None,
        undo_of: CutEdit | None = None,
        revived: list[VirtualClip] | None = None,
    ) -> Applied:
        version = self._bump(source)
        archived_ids = {c.id for c in edit.archived}
        archived = [r for r in rows if r.id in archived_ids]
        for r in archived:
            r.live = False
        if revived is None:
            groups = {r.group_id for r in archived}
            group = groups.pop() if len(groups) == 1 else None
            created = self._rows(source, edit.created, group)
            self.session.add_all(created)
        else:  # the clips the undone operation replaced come back as they were
            created = revived
            for r in created:
                r.live = True
        audit = CutEdit(
            workspace_id=self.workspace_id, source_id=source.id, user_id=user_id,
            op="undo" if undo_of is not None else edit.op, frame=frame, to_frame=to,
            cuts_before=list(edit.frames_before), cuts_after=list(edit.frames_after),
            created_ids=[c.id for c in edit.created], archived_ids=sorted(archived_ids),
            version=version, undo_of=undo_of.id if undo_of is not None else None,
        )  # fmt: skip
        self.session.add(audit)
        self.session.flush()
        created.sort(key=lambda r: r.start_frame)
        return Applied(audit, created, archived)

    # --- review and groups ----------------------------------------------------------------
    def review(self, clip: VirtualClip, status: ReviewStatus, user_id: str | None
               ) -> ClipExport | None:  # fmt: skip
        """Set a clip's review status; approving a live clip queues its export (once: a
        clip's frames never change, so an existing export is reused). Returns the export."""
        if not clip.live:
            raise CutError("CLIP_REPLACED", "this clip was replaced by a cut operation; review "
                           "the clips that replaced it")  # fmt: skip
        clip.review, clip.reviewed_by, clip.reviewed_at = status, user_id, utcnow()
        export = self.export_of(clip.id)
        if status is ReviewStatus.APPROVED:
            if export is None:
                export = ClipExport(
                    workspace_id=self.workspace_id, source_id=clip.source_id, clip_id=clip.id,
                    status=ExportStatus.PENDING, attempt=0,
                )  # fmt: skip
                self.session.add(export)
            elif export.status is ExportStatus.FAILED:
                export.status, export.error = ExportStatus.PENDING, None
            source = self.session.get(Source, clip.source_id)
            if source is not None and source.proxy_status in (ProxyStatus.NONE,
                                                              ProxyStatus.FAILED):  # fmt: skip
                source.proxy_status = ProxyStatus.PENDING  # a failed build is tried again
        self.session.flush()
        return export

    def export_of(self, clip_id: str) -> ClipExport | None:
        return self.exports_of([clip_id]).get(clip_id)

    def exports_of(self, clip_ids: Sequence[str]) -> dict[str, ClipExport]:
        """The exports of these clips, by clip id, in one query."""
        if not clip_ids:
            return {}
        rows = self.session.scalars(select(ClipExport).where(ClipExport.clip_id.in_(clip_ids)))
        return {e.clip_id: e for e in rows}

    def groups(self, source_id: str) -> list[ClipGroup]:
        return list(self.session.scalars(
            select(ClipGroup)
            .where(ClipGroup.workspace_id == self.workspace_id, ClipGroup.source_id == source_id)
            .order_by(ClipGroup.created_at, ClipGroup.id)
        ))  # fmt: skip

    def add_group(self, source_id: str, name: str, title: str = "", description: str = "",
                  hashtags: Sequence[str] = ()) -> ClipGroup:  # fmt: skip
        group = ClipGroup(
            workspace_id=self.workspace_id, source_id=source_id, name=name, title=title,
            description=description, hashtags=list(hashtags),
        )  # fmt: skip
        self.session.add(group)
        self.session.flush()
        return group

    def group(self, group_id: str) -> ClipGroup | None:
        row = self.session.get(ClipGroup, group_id)
        return row if row is not None and row.workspace_id == self.workspace_id else None

    def members(self, group_id: str) -> list[str]:
        """The ids of a group's live clips, in frame order (replaced clips leave it)."""
        return list(self.session.scalars(
            select(VirtualClip.id)
            .where(VirtualClip.group_id == group_id, VirtualClip.live.is_(True))
            .order_by(VirtualClip.start_frame)
        ))  # fmt: skip

    def clip_ids(self, source_id: str) -> list[str]:
        """Every clip of the source, replaced ones included (their exports are its files)."""
        return list(self.session.scalars(
            select(VirtualClip.id).where(VirtualClip.source_id == source_id)
        ))  # fmt: skip


# --- the export queue, workspace-independent: the job runner serves every workspace -------
def claim_export(session: Session, export_id: str) -> int | None:
    """Take a pending export (see :func:`clipray.storage.claims.claim`)."""
    return claims.claim(session, ClipExport, export_id)


def finish_export(session: Session, export_id: str, attempt: int, **values: object) -> bool:
    """Record an outcome (``status``, ``method``, ``key`` ...) if ``attempt`` still holds the
    export; False when a later claim took it over."""
    return claims.finish(session, ClipExport, export_id, attempt, **values)


def pending_exports(session: Session, limit: int) -> list[ClipExport]:
    """Exports waiting for a worker, oldest first."""
    return claims.pending(session, ClipExport, limit)


def fail_exports_without_proxy(session: Session) -> int:
    """Pending exports of sources whose proxy build failed fail too, with its reason (they
    would wait forever); approving the clip again retries the build and the export."""
    failed = select(Source.id).where(Source.proxy_status == ProxyStatus.FAILED)
    reason = select(Source.proxy_error).where(Source.id == ClipExport.source_id).scalar_subquery()
    done = session.execute(
        update(ClipExport)
        .where(ClipExport.status == ExportStatus.PENDING, ClipExport.source_id.in_(failed))
        .values(status=ExportStatus.FAILED, finished_at=utcnow(),
                error=func.coalesce("the source's proxy could not be built: " + reason,
                                    "the source's proxy could not be built"))
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(done.rowcount)  # type: ignore[attr-defined]


def requeue_running_exports(session: Session) -> int:
    """After a runner restart: exports left running go back to pending (exporting again is
    safe: same key, same bytes; the newer claim wins)."""
    return claims.requeue_running(session, ClipExport)


def _proxy_wanted(stale_before: datetime) -> ColumnElement[bool]:
    """A build is due: wanted (pending), or its builder's claim is older than
    ``stale_before`` (that worker died)."""
    return (Source.proxy_status == ProxyStatus.PENDING) | (
        (Source.proxy_status == ProxyStatus.BUILDING) & (Source.proxy_claimed_at < stale_before)
    )


def claim_proxy(session: Session, source_id: str, stale_before: datetime) -> bool:
    """Take a source's proxy build if it is due; False when another worker holds it."""
    done = session.execute(
        update(Source)
        .where(Source.id == source_id, _proxy_wanted(stale_before))
        .values(proxy_status=ProxyStatus.BUILDING, proxy_claimed_at=utcnow(), proxy_error=None)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def wanted_proxies(session: Session, stale_before: datetime, limit: int) -> list[str]:
    """Sources whose proxy should be built now."""
    return list(session.scalars(select(Source.id).where(_proxy_wanted(stale_before)).limit(limit)))
