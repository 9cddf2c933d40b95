"""Sources and their virtual clips: the cover, cut operations with undo and an audit trail,
review, groups, and the exported files.

A source's clips are cut points: consecutive frame ranges ``[start_frame, end_frame)`` that
cover it with no gap and no overlap. Adding, removing or moving a cut is one transaction
checked against the source's ``cut_version`` (send it back as ``version``; a stale one gets
409 ``CUT_VERSION_CONFLICT`` and changes nothing). Approving a clip exports it by stream
copy from the source's all-intra proxy, in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from clipray.clips.cuts import CutError
from clipray.pipelines import ingest
from clipray.pipelines.export import grid_of
from clipray.serve.deps import (
    Caller,
    PageNo,
    PageSize,
    Principal,
    ServicesDep,
    SessionDep,
    owned,
    wake_runner,
)
from clipray.serve.errors import ApiError, not_found
from clipray.serve.permissions import Action
from clipray.serve.schemas import (
    CoverOut,
    CutIn,
    CutMove,
    CutsOut,
    EditDone,
    EditOut,
    ExportOut,
    GroupIn,
    GroupOut,
    GroupPatch,
    Page,
    SourceOut,
    UndoIn,
    VirtualClipOut,
    VirtualClipPatch,
)
from clipray.services.search import thumbnail
from clipray.storage.objects import download_name
from clipray.storage.orm import (
    ClipExport,
    ClipGroup,
    CutEdit,
    ExportStatus,
    ReviewStatus,
    Source,
    VirtualClip,
)
from clipray.storage.repos import fetch_page
from clipray.storage.vclips import Applied, CoverConflictError, CoverRepo, NoCoverError

router = APIRouter(prefix="/api/sources", tags=["sources"])
Frame = Annotated[int, Path(ge=0, le=2**31 - 1, description="A cut point: a frame number.")]
_CONFLICTS = {"UNDO_STALE", "NOTHING_TO_UNDO", "CLIP_REPLACED"}
"""Cut errors that depend on the cover's state rather than on the request: 409, not 422."""


def source_out(s: Source) -> SourceOut:
    return SourceOut(
        id=s.id, origin=s.origin.value, origin_uri=s.origin_uri, duration_s=s.duration_s,
        width=s.width, height=s.height, fps=s.fps, frame_count=s.frame_count,
        frame_rate=s.frame_rate, cut_version=s.cut_version, proxy_status=s.proxy_status.value,
        created_at=s.created_at,
    )  # fmt: skip


def _export_out(e: ClipExport | None) -> ExportOut | None:
    if e is None:
        return None
    return ExportOut(status=e.status.value, method=e.method, frames=e.frames,
                     duration_s=e.duration_s, size_bytes=e.size_bytes, error=e.error,
                     finished_at=e.finished_at)  # fmt: skip


def _clips_out(session: Session, source: Source, rows: list[VirtualClip]) -> list[VirtualClipOut]:
    grid = grid_of(source)
    exports = CoverRepo(session, source.workspace_id).exports_of([r.id for r in rows])
    return [
        VirtualClipOut(
            id=r.id,
            source_id=r.source_id,
            start_frame=r.start_frame,
            end_frame=r.end_frame,
            start=round(grid.time_of(r.start_frame), 6),
            end=round(grid.time_of(r.end_frame), 6),
            live=r.live,
            review=r.review.value,
            group_id=r.group_id,
            title=r.title,
            description=r.description,
            reviewed_at=r.reviewed_at,
            export=_export_out(exports.get(r.id)),
        )
        for r in rows
    ]


def _edit_out(e: CutEdit) -> EditOut:
    return EditOut(
        id=e.id, op=e.op, user_id=e.user_id, frame=e.frame, to=e.to_frame,  # type: ignore[arg-type]
        cuts_before=list(e.cuts_before), cuts_after=list(e.cuts_after),
        created=list(e.created_ids), archived=list(e.archived_ids), version=e.version,
        undo_of=e.undo_of, undone=e.undone, created_at=e.created_at,
    )  # fmt: skip


def _covered(session: Session, source_id: str, who: Principal) -> Source:
    source = owned(session, Source, source_id, who, "source")
    if source.frame_count is None or not source.frame_rate:
        message = "this source has no clips yet: they are made when its analysis ends"
        raise ApiError(409, "CLIPS_NOT_READY", message)
    return source


def _clip(session: Session, source: Source, clip_id: str, who: Principal) -> VirtualClip:
    clip = owned(session, VirtualClip, clip_id, who, "clip")
    if clip.source_id != source.id:
        raise not_found("clip", clip_id)
    return clip


def _edit(session: Session, source: Source, run: Callable[[], Applied]) -> EditDone:
    """Run one cut operation, translating the algebra's and the lock's refusals."""
    try:
        applied = run()
    except CoverConflictError as exc:
        detail = {"expected": exc.expected, "current": exc.actual}
        raise ApiError(409, "CUT_VERSION_CONFLICT", str(exc), detail=detail) from exc
    except NoCoverError as exc:
        raise ApiError(409, "CLIPS_NOT_READY", str(exc)) from exc
    except CutError as exc:
        raise ApiError(409 if exc.code in _CONFLICTS else 422, exc.code, exc.reason) from exc
    return EditDone(
        edit=_edit_out(applied.edit), clips=_clips_out(session, source, applied.created)
    )


# --- sources -----------------------------------------------------------------------------
@router.get("")
def list_sources(
    who: Caller,
    session: SessionDep,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[SourceOut]:
    """The workspace's source videos, newest first."""
    who.require(Action.READ)
    q = select(Source).where(Source.workspace_id == who.workspace_id)
    rows, total = fetch_page(session, q, limit, (page - 1) * limit, Source.created_at.desc(),
                             Source.id)  # fmt: skip
    return Page[SourceOut].of([source_out(s) for s in rows], total, page, limit)


@router.get("/{source_id}")
def get_source(source_id: str, who: Caller, session: SessionDep) -> SourceOut:
    who.require(Action.READ)
    return source_out(owned(session, Source, source_id, who, "source"))


@router.delete("/{source_id}", status_code=204)
def delete_source(source_id: str, who: Caller, svc: ServicesDep) -> None:
    """Delete the source, its files, its search rows and its clips. 409 ``SOURCE_BUSY``
    while a job still works on it. Generated clips stay until they expire."""
    who.require(Action.DELETE_SOURCE)
    with svc.db.session() as s:
        owned(s, Source, source_id, who, "source")
    try:
        ingest.delete_source(svc.db, svc.buckets, svc.index, who.workspace_id, source_id)
    except ingest.SourceBusyError as exc:
        raise ApiError(409, exc.code, str(exc)) from exc


@router.get("/{source_id}/thumbnail", status_code=302,
            responses={302: {"description": "Redirect to a presigned URL of a JPEG"}})  # fmt: skip
def source_thumbnail(
    source_id: str,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    t: Annotated[float, Query(ge=0, le=86_400, description="Seconds into the source.")] = 0.0,
) -> RedirectResponse:
    """A frame of the source at ``t``, made on first request and kept on the bucket beside
    the source (search results link to the same frame by a signed URL that needs no
    credentials: ``/api/search/thumbnails/{source_id}``)."""
    who.require(Action.READ)
    source = owned(session, Source, source_id, who, "source")
    return RedirectResponse(thumbnail(svc.settings, svc.buckets, source, t), status_code=302)


# --- the cover and review ---------------------------------------------------------------
@router.get("/{source_id}/clips")
def list_virtual_clips(
    source_id: str, who: Caller, session: SessionDep, review: ReviewStatus | None = None
) -> CoverOut:
    """The source's current clips in frame order: together they cover it exactly (one
    consistent snapshot with its ``version``, so not paginated). ``review`` narrows it."""
    who.require(Action.READ)
    source = _covered(session, source_id, who)
    rows = CoverRepo(session, who.workspace_id).live(source.id)
    if review is not None:
        rows = [r for r in rows if r.review is review]
    return CoverOut(source_id=source.id, version=source.cut_version,
                    frame_count=source.frame_count or 0, frame_rate=source.frame_rate or "",
                    clips=_clips_out(session, source, rows))  # fmt: skip


@router.get("/{source_id}/clips/{clip_id}")
def get_virtual_clip(source_id: str, clip_id: str, who: Caller, session: SessionDep
                     ) -> VirtualClipOut:  # fmt: skip
    """One clip, also one that a cut operation replaced (``live`` false)."""
    who.require(Action.READ)
    source = _covered(session, source_id, who)
    return _clips_out(session, source, [_clip(session, source, clip_id, who)])[0]


@router.patch("/{source_id}/clips/{clip_id}")
def review_virtual_clip(source_id: str, clip_id: str, body: VirtualClipPatch, who: Caller,
                        session: SessionDep) -> VirtualClipOut:  # fmt: skip
    """Review (pending_review, approved, skipped, archived), retitle or regroup a clip.
    Approving exports it in the background; ``export`` in the answer follows it."""
    who.require(Action.EDIT_CLIP)
    source = _covered(session, source_id, who)
    clip = _clip(session, source, clip_id, who)
    repo = CoverRepo(session, who.workspace_id)
    if body.group_id is not None:
        if body.group_id == "":
            clip.group_id = None
        else:
            group = repo.group(body.group_id)
            if group is None or group.source_id != source.id:
                raise not_found("group", body.group_id)
            clip.group_id = group.id
    if body.title is not None:
        clip.title = body.title
    if body.description is not None:
        clip.description = body.description
    queued = False
    if body.review is not None:
        try:
            export = repo.review(clip, ReviewStatus(body.review), who.user.id)
        except CutError as exc:
            raise ApiError(409, exc.code, exc.reason) from exc
        queued = export is not None and export.status is ExportStatus.PENDING
    session.flush()
    out = _clips_out(session, source, [clip])[0]
    if queued:
        session.commit()  # the runner reads the queued export from its own session
        wake_runner()
    return out


_REDIRECT = {302: {"description": "Redirect to a presigned URL of the exported file"}}


@router.get("/{source_id}/clips/{clip_id}/download", status_code=302, responses=_REDIRECT)
def download_virtual_clip(source_id: str, clip_id: str, who: Caller, session: SessionDep,
                          svc: ServicesDep) -> RedirectResponse:  # fmt: skip
    """302 to a short-lived presigned URL of the approved clip's exported MP4."""
    who.require(Action.READ)
    source = _covered(session, source_id, who)
    clip = _clip(session, source, clip_id, who)
    export = CoverRepo(session, who.workspace_id).export_of(clip.id)
    if export is None or export.status is not ExportStatus.DONE or not export.key:
        state = export.status.value if export else "not exported (approve it first)"
        raise ApiError(409, "EXPORT_NOT_READY", f"the clip's export is {state}")
    name = download_name(clip.title, f"-{clip.start_frame}-{clip.end_frame}.mp4")
    url = svc.buckets.media.scoped(who.workspace_id).presign_get(export.key, download_name=name)
    return RedirectResponse(url, status_code=302)


# --- cut operations ----------------------------------------------------------------------
@router.get("/{source_id}/cuts")
def list_cuts(source_id: str, who: Caller, session: SessionDep) -> CutsOut:
    """The source's cut points and the ``version`` to send back with an edit."""
    who.require(Action.READ)
    source = _covered(session, source_id, who)
    rows = CoverRepo(session, who.workspace_id).live(source.id)
    return CutsOut(source_id=source.id, version=source.cut_version,
                   frame_count=source.frame_count or 0, frame_rate=source.frame_rate or "",
                   cuts=[r.start_frame for r in rows[1:]])  # fmt: skip


@router.post("/{source_id}/cuts", status_code=201)
def add_cut(source_id: str, body: CutIn, who: Caller, session: SessionDep) -> EditDone:
    """Cut at ``frame``: the clip holding it splits in two (``frame`` starts the second)."""
    who.require(Action.EDIT_CLIP)
    source = _covered(session, source_id, who)
    repo = CoverRepo(session, who.workspace_id)
    return _edit(session, source, lambda: repo.apply(
        source, "add", who.user.id, frame=body.frame, expected_version=body.version))  # fmt: skip


@router.patch("/{source_id}/cuts/{frame}")
def move_cut(source_id: str, frame: Frame, body: CutMove, who: Caller, session: SessionDep
             ) -> EditDone:  # fmt: skip
    """Move the cut at ``frame`` to ``to``; it may not reach or cross a neighbouring cut."""
    who.require(Action.EDIT_CLIP)
    source = _covered(session, source_id, who)
    repo = CoverRepo(session, who.workspace_id)
    return _edit(session, source, lambda: repo.apply(
        source, "move", who.user.id, frame=frame, to=body.to,
        expected_version=body.version))  # fmt: skip


@router.delete("/{source_id}/cuts/{frame}")
def remove_cut(
    source_id: str,
    frame: Frame,
    who: Caller,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> EditDone:
    """Remove the cut at ``frame``: the two clips that meet there merge into one."""
    who.require(Action.EDIT_CLIP)
    source = _covered(session, source_id, who)
    repo = CoverRepo(session, who.workspace_id)
    return _edit(session, source, lambda: repo.apply(
        source, "remove", who.user.id, frame=frame, expected_version=version))  # fmt: skip


@router.post("/{source_id}/cuts/undo")
def undo_cut(source_id: str, body: UndoIn, who: Caller, session: SessionDep) -> EditDone:
    """Revert your last cut operation on this source that is not undone yet; the clips it
    replaced come back as they were (same ids, same review). 409 ``UNDO_STALE`` when
    someone else has since edited those clips."""
    who.require(Action.EDIT_CLIP)
    source = _covered(session, source_id, who)
    repo = CoverRepo(session, who.workspace_id)
    return _edit(session, source,
                 lambda: repo.undo(source, who.user.id, expected_version=body.version))  # fmt: skip


@router.get("/{source_id}/cuts/history")
def cut_history(
    source_id: str,
    who: Caller,
    session: SessionDep,
    page: PageNo = 1,
    limit: PageSize = 50,
) -> Page[EditOut]:
    """The audit trail: who did which operation, the cut points before and after, when."""
    who.require(Action.READ)
    source = owned(session, Source, source_id, who, "source")
    rows, total = CoverRepo(session, who.workspace_id).history(source.id, limit, (page - 1) * limit)
    return Page[EditOut].of([_edit_out(e) for e in rows], total, page, limit)


# --- groups ------------------------------------------------------------------------------
def _group_out(session: Session, g: ClipGroup) -> GroupOut:
    members = session.scalars(
        select(VirtualClip.id)
        .where(VirtualClip.group_id == g.id, VirtualClip.live.is_(True))
        .order_by(VirtualClip.start_frame)
    ).all()
    return GroupOut(id=g.id, source_id=g.source_id, name=g.name, title=g.title,
                    description=g.description, hashtags=list(g.hashtags), clips=list(members),
                    created_at=g.created_at)  # fmt: skip


@router.get("/{source_id}/groups")
def list_groups(source_id: str, who: Caller, session: SessionDep) -> list[GroupOut]:
    who.require(Action.READ)
    source = owned(session, Source, source_id, who, "source")
    return [_group_out(session, g) for g in CoverRepo(session, who.workspace_id).groups(source.id)]


@router.post("/{source_id}/groups", status_code=201)
def add_group(source_id: str, body: GroupIn, who: Caller, session: SessionDep) -> GroupOut:
    """A group of this source's clips with shared metadata; put clips in it with
    ``PATCH .../clips/{id}`` and ``group_id``."""
    who.require(Action.EDIT_CLIP)
    source = owned(session, Source, source_id, who, "source")
    group = CoverRepo(session, who.workspace_id).add_group(
        source.id, body.name, body.title, body.description, body.hashtags
    )
    return _group_out(session, group)


@router.patch("/{source_id}/groups/{group_id}")
def patch_group(source_id: str, group_id: str, body: GroupPatch, who: Caller,
                session: SessionDep) -> GroupOut:  # fmt: skip
    who.require(Action.EDIT_CLIP)
    source = owned(session, Source, source_id, who, "source")
    group = owned(session, ClipGroup, group_id, who, "group")
    if group.source_id != source.id:
        raise not_found("group", group_id)
    for field in ("name", "title", "description", "hashtags"):
        value = getattr(body, field)
        if value is not None:
            setattr(group, field, list(value) if field == "hashtags" else value)
    session.flush()
    return _group_out(session, group)
