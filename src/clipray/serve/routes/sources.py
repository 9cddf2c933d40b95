"""Sources and their virtual clips: the cover, cut operations with undo and an audit trail,
review, groups, and the exported files.

A source's clips are cut points: consecutive frame ranges ``[start_frame, end_frame)`` that
cover it with no gap and no overlap. Adding, removing or moving a cut is one transaction
checked against the source's ``cut_version`` (send it back as ``version``; a stale one gets
409 ``CUT_VERSION_CONFLICT`` and changes nothing). Approving a clip exports it by stream
copy from the source's all-intra proxy, in the background.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import RedirectResponse

from clipray.serve.deps import (
    ActorDep,
    Caller,
    PageNo,
    PageSize,
    ServicesDep,
    SessionDep,
    owned,
    wake_runner,
)
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
    ProxyOut,
    SourceOut,
    UndoIn,
    VirtualClipOut,
    VirtualClipPatch,
)
from clipray.services import cuts, sources
from clipray.services import review as reviews
from clipray.services.cuts import ClipView, EditResult
from clipray.services.proxy_view import proxy_view
from clipray.services.search import thumbnail
from clipray.storage.orm import ClipExport, CutEdit, ReviewStatus, Source

router = APIRouter(prefix="/api/sources", tags=["sources"])
Frame = Annotated[int, Path(ge=0, le=2**31 - 1, description="A cut point: a frame number.")]


def source_out(s: Source) -> SourceOut:
    return SourceOut(
        id=s.id, origin=s.origin.value, origin_uri=s.origin_uri, duration_s=s.duration_s,
        width=s.width, height=s.height, fps=s.fps, frame_count=s.frame_count,
        frame_rate=s.frame_rate, cut_version=s.cut_version, proxy_status=s.proxy_status.value,
        created_at=s.created_at, audio_only=s.audio_only,
    )  # fmt: skip


def _export_out(e: ClipExport | None) -> ExportOut | None:
    if e is None:
        return None
    return ExportOut(status=e.status.value, method=e.method, frames=e.frames,
                     duration_s=e.duration_s, size_bytes=e.size_bytes, error=e.error,
                     finished_at=e.finished_at)  # fmt: skip


def _clip_out(v: ClipView) -> VirtualClipOut:
    r = v.row
    return VirtualClipOut(
        id=r.id, source_id=r.source_id, start_frame=r.start_frame, end_frame=r.end_frame,
        start=round(v.start, 6), end=round(v.end, 6), live=r.live, review=r.review.value,
        group_id=r.group_id, title=r.title, description=r.description,
        reviewed_at=r.reviewed_at, export=_export_out(v.export),
    )  # fmt: skip


def _edit_out(e: CutEdit) -> EditOut:
    return EditOut(
        id=e.id, op=e.op, user_id=e.user_id, frame=e.frame, to=e.to_frame,  # type: ignore[arg-type]
        cuts_before=list(e.cuts_before), cuts_after=list(e.cuts_after),
        created=list(e.created_ids), archived=list(e.archived_ids), version=e.version,
        undo_of=e.undo_of, undone=e.undone, created_at=e.created_at,
    )  # fmt: skip


def _done(result: EditResult) -> EditDone:
    return EditDone(edit=_edit_out(result.edit), clips=[_clip_out(v) for v in result.clips])


# --- sources -----------------------------------------------------------------------------
@router.get("")
def list_sources(
    who: Caller,
    svc: ServicesDep,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[SourceOut]:
    """The workspace's source videos, newest first."""
    who.require(Action.READ)
    rows, total = sources.page(svc.db, who.workspace_id, limit, (page - 1) * limit)
    return Page[SourceOut].of([source_out(r) for r in rows], total, page, limit)


@router.get("/{source_id}")
def get_source(source_id: str, who: Caller, svc: ServicesDep) -> SourceOut:
    who.require(Action.READ)
    return source_out(sources.get(svc.db, who.workspace_id, source_id))


@router.delete("/{source_id}", status_code=204)
def delete_source(source_id: str, who: Caller, svc: ServicesDep) -> None:
    """Delete the source, its files, its search rows and its clips. 409 ``SOURCE_BUSY``
    while a job still works on it. Generated clips stay until they expire."""
    who.require(Action.DELETE_SOURCE)
    sources.delete(svc.db, svc.buckets, svc.index, who.workspace_id, source_id)


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


_NOT_YET = {202: {"model": ProxyOut,
                  "description": "Not ready: queued or building; ask again after Retry-After"}}


@router.get("/{source_id}/proxy", responses=_NOT_YET)  # type: ignore[arg-type]
def source_proxy(source_id: str, who: Caller, svc: ServicesDep, response: Response) -> ProxyOut:
    """The source's all-intra proxy for frame-exact viewing (the studio's cut editor): 200
    with a presigned ``url`` when it is ready; else 202 with its ``status``, having queued
    its build (once per source; a failed build is tried again). 409 ``NO_FRAME_GRID`` for a
    source without frames to edit (analysis pending, or sound only)."""
    who.require(Action.READ)
    view = proxy_view(svc.db, svc.buckets, who.workspace_id, source_id, wake=wake_runner)
    if view.url is None:
        response.status_code = 202
        response.headers["Retry-After"] = "2"
    return ProxyOut(status=view.status, url=view.url, frame_count=view.frame_count,  # type: ignore[arg-type]
                    frame_rate=view.frame_rate, error=view.error)  # fmt: skip


# --- the cover and review ---------------------------------------------------------------
@router.get("/{source_id}/clips")
def list_virtual_clips(
    source_id: str, who: Caller, svc: ServicesDep, review: ReviewStatus | None = None
) -> CoverOut:
    """The source's current clips in frame order: together they cover it exactly (one
    consistent snapshot with its ``version``, so not paginated). ``review`` narrows it."""
    who.require(Action.READ)
    cover = cuts.cover(svc.db, who.workspace_id, source_id, review)
    src = cover.source
    return CoverOut(source_id=src.id, version=src.cut_version, frame_count=src.frame_count or 0,
                    frame_rate=src.frame_rate or "",
                    clips=[_clip_out(v) for v in cover.clips])  # fmt: skip


@router.get("/{source_id}/clips/{clip_id}")
def get_virtual_clip(source_id: str, clip_id: str, who: Caller, svc: ServicesDep
                     ) -> VirtualClipOut:  # fmt: skip
    """One clip, also one that a cut operation replaced (``live`` false)."""
    who.require(Action.READ)
    return _clip_out(cuts.clip(svc.db, who.workspace_id, source_id, clip_id))


@router.patch("/{source_id}/clips/{clip_id}")
def review_virtual_clip(source_id: str, clip_id: str, body: VirtualClipPatch, who: Caller,
                        svc: ServicesDep) -> VirtualClipOut:  # fmt: skip
    """Review (pending_review, approved, skipped, archived), retitle or regroup a clip.
    Approving exports it in the background; ``export`` in the answer follows it."""
    who.require(Action.EDIT_CLIP)
    change = reviews.ClipChange(
        review=ReviewStatus(body.review) if body.review is not None else None,
        title=body.title, description=body.description, group_id=body.group_id,
    )  # fmt: skip
    done = reviews.review(svc.db, who.workspace_id, clip_id, who.user.id, change,
                         source_id=source_id, wake=wake_runner)  # fmt: skip
    return _clip_out(done.clip)


_REDIRECT = {302: {"description": "Redirect to a presigned URL of the exported file"}}


@router.get("/{source_id}/clips/{clip_id}/download", status_code=302, responses=_REDIRECT)
def download_virtual_clip(source_id: str, clip_id: str, who: Caller, svc: ServicesDep
                          ) -> RedirectResponse:  # fmt: skip
    """302 to a short-lived presigned URL of the approved clip's exported MP4."""
    who.require(Action.READ)
    url = reviews.download_url(svc.db, svc.buckets, who.workspace_id, source_id, clip_id)
    return RedirectResponse(url, status_code=302)


# --- cut operations ----------------------------------------------------------------------
@router.get("/{source_id}/cuts")
def list_cuts(source_id: str, who: Caller, svc: ServicesDep) -> CutsOut:
    """The source's cut points and the ``version`` to send back with an edit."""
    who.require(Action.READ)
    points = cuts.cut_points(svc.db, who.workspace_id, source_id)
    src = points.source
    return CutsOut(source_id=src.id, version=src.cut_version, frame_count=src.frame_count or 0,
                   frame_rate=src.frame_rate or "", cuts=points.cuts)  # fmt: skip


@router.post("/{source_id}/cuts", status_code=201)
def add_cut(source_id: str, body: CutIn, who: Caller, svc: ServicesDep, actor: ActorDep
            ) -> EditDone:  # fmt: skip
    """Cut at ``frame``: the clip holding it splits in two (``frame`` starts the second)."""
    who.require(Action.EDIT_CLIP)
    return _done(cuts.add(svc.db, who.workspace_id, source_id, who.user.id, body.frame,
                          body.version, ip=actor.ip))  # fmt: skip


@router.patch("/{source_id}/cuts/{frame}")
def move_cut(source_id: str, frame: Frame, body: CutMove, who: Caller, svc: ServicesDep,
             actor: ActorDep) -> EditDone:  # fmt: skip
    """Move the cut at ``frame`` to ``to``; it may not reach or cross a neighbouring cut."""
    who.require(Action.EDIT_CLIP)
    return _done(cuts.move(svc.db, who.workspace_id, source_id, who.user.id, frame, body.to,
                           body.version, ip=actor.ip))  # fmt: skip


@router.delete("/{source_id}/cuts/{frame}")
def remove_cut(
    source_id: str,
    frame: Frame,
    who: Caller,
    svc: ServicesDep,
    actor: ActorDep,
    version: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> EditDone:
    """Remove the cut at ``frame``: the two clips that meet there merge into one."""
    who.require(Action.EDIT_CLIP)
    return _done(cuts.remove(svc.db, who.workspace_id, source_id, who.user.id, frame, version,
                             ip=actor.ip))  # fmt: skip


@router.post("/{source_id}/cuts/undo")
def undo_cut(source_id: str, body: UndoIn, who: Caller, svc: ServicesDep, actor: ActorDep
             ) -> EditDone:  # fmt: skip
    """Revert your last cut operation on this source that is not undone yet; the clips it
    replaced come back as they were (same ids, same review). 409 ``UNDO_STALE`` when
    someone else has since edited those clips."""
    who.require(Action.EDIT_CLIP)
    return _done(cuts.undo(svc.db, who.workspace_id, source_id, who.user.id, body.version,
                           ip=actor.ip))  # fmt: skip


@router.get("/{source_id}/cuts/history")
def cut_history(
    source_id: str,
    who: Caller,
    svc: ServicesDep,
    page: PageNo = 1,
    limit: PageSize = 50,
) -> Page[EditOut]:
    """The audit trail: who did which operation, the cuts before and after, when."""
    who.require(Action.READ)
    rows, total = cuts.history(svc.db, who.workspace_id, source_id, limit, (page - 1) * limit)
    return Page[EditOut].of([_edit_out(e) for e in rows], total, page, limit)


# --- groups ------------------------------------------------------------------------------
def _group_out(v: reviews.GroupView) -> GroupOut:
    g = v.group
    return GroupOut(id=g.id, source_id=g.source_id, name=g.name, title=g.title,
                    description=g.description, hashtags=list(g.hashtags), clips=v.clips,
                    created_at=g.created_at)  # fmt: skip


@router.get("/{source_id}/groups")
def list_groups(source_id: str, who: Caller, svc: ServicesDep) -> list[GroupOut]:
    who.require(Action.READ)
    return [_group_out(g) for g in reviews.groups(svc.db, who.workspace_id, source_id)]


@router.post("/{source_id}/groups", status_code=201)
def add_group(source_id: str, body: GroupIn, who: Caller, svc: ServicesDep) -> GroupOut:
    """A group of this source's clips with shared metadata; put clips in it with
    ``PATCH .../clips/{id}`` and ``group_id``."""
    who.require(Action.EDIT_CLIP)
    fields = reviews.GroupChange(body.name, body.title, body.description, body.hashtags)
    return _group_out(reviews.add_group(svc.db, who.workspace_id, source_id, fields))


@router.patch("/{source_id}/groups/{group_id}")
def patch_group(source_id: str, group_id: str, body: GroupPatch, who: Caller,
                svc: ServicesDep) -> GroupOut:  # fmt: skip
    who.require(Action.EDIT_CLIP)
    change = reviews.GroupChange(body.name, body.title, body.description, body.hashtags)
    return _group_out(reviews.patch_group(svc.db, who.workspace_id, source_id, group_id, change))
