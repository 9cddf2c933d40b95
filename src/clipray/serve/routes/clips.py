"""Clips: list (by job, by status), get, edit title and description, download, re-render
with other settings (a new version), list versions, delete several at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from clipray.serve.deps import (
    Caller,
    PageNo,
    PageSize,
    ServicesDep,
    SessionDep,
    owned,
)
from clipray.serve.permissions import Action
from clipray.serve.schemas import ClipIds, ClipOut, ClipPatch, Deleted, Page, RerenderIn
from clipray.serve.schemas.clips import ClipSettings, DownloadUrl
from clipray.services import clips
from clipray.services.rerender import EffectsChange, rerender, settings_of
from clipray.storage.orm import Clip, ClipStatus, Job, ReviewStatus, Source

router = APIRouter(prefix="/api/clips", tags=["clips"])


def clip_out(c: Clip) -> ClipOut:
    return ClipOut(
        id=c.id, job_id=c.job_id, source_id=c.source_id, moment_id=c.moment_id, start=c.start_s,
        end=c.end_s, score=c.score, title=c.title, description=c.description,
        hashtags=list(c.hashtags), reasons=list(c.reasons), status=c.status.value,
        version=c.version, error=c.error, review=c.review.value, reviewed_at=c.reviewed_at,
        generated_clip_id=c.generated_clip_id, created_at=c.created_at,
        aspect=(c.render_spec or {}).get("aspect"), captions=(c.render_spec or {}).get("captions"),
        settings=ClipSettings.model_validate(own) if (own := settings_of(c.render_spec)) else None,
    )  # fmt: skip


@router.get("")
def list_clips(
    who: Caller,
    session: SessionDep,
    job_id: str | None = None,
    status: ClipStatus | None = None,
    review: ReviewStatus | None = None,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[ClipOut]:
    """The workspace's clips, best first; ``job_id``, ``status`` and ``review`` narrow
    the list."""
    who.require(Action.READ)
    if job_id is not None:
        owned(session, Job, job_id, who, "job")
    rows, total = clips.list_clips(session, who.workspace_id, job_id, status, page, limit,
                                   review)  # fmt: skip
    return Page[ClipOut].of([clip_out(c) for c in rows], total, page, limit)


@router.get("/{clip_id}")
def get_clip(clip_id: str, who: Caller, session: SessionDep) -> ClipOut:
    who.require(Action.READ)
    return clip_out(owned(session, Clip, clip_id, who, "clip"))


@router.patch("/{clip_id}")
def patch_clip(clip_id: str, body: ClipPatch, who: Caller, session: SessionDep) -> ClipOut:
    """Change the title, the description or the review state (``pending_review``,
    ``approved``, ``skipped``, ``archived``); the video is not touched."""
    who.require(Action.EDIT_CLIP)
    clip = owned(session, Clip, clip_id, who, "clip")
    review = ReviewStatus(body.review) if body.review is not None else None
    return clip_out(clips.edit_clip(session, clip, body.title, body.description, review))


@router.get("/{clip_id}/versions")
def clip_versions(clip_id: str, who: Caller, session: SessionDep) -> list[ClipOut]:
    """Every rendered version of the clip's moment, oldest first."""
    who.require(Action.READ)
    clip = owned(session, Clip, clip_id, who, "clip")
    return [clip_out(c) for c in clips.versions(session, clip)]


_REDIRECT = {302: {"description": "Redirect to a presigned URL of the file"}}
ThumbnailN = Annotated[int | None, Query(
    ge=0, le=clips.THUMBNAIL_CANDIDATES - 1,
    description="With file=thumbnail: which of the clip's titled thumbnail candidates, 0 "
                "(the best, the default) to 2; a clip rendered before there were three has "
                "only 0 (404 THUMBNAIL_NOT_FOUND).")]  # fmt: skip


@router.get("/{clip_id}/download", status_code=302, responses=_REDIRECT)
def download_clip(
    clip_id: str,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    file: Annotated[str, Query(pattern="^(video|thumbnail|fcpxml|edl)$")] = "video",
    n: ThumbnailN = None,
) -> RedirectResponse:
    """302 to a short-lived presigned URL of the clip's video (or thumbnail, FCPXML, EDL;
    ``n`` picks one of the thumbnails)."""
    who.require(Action.READ)
    clip = owned(session, Clip, clip_id, who, "clip")
    return RedirectResponse(clips.download_url(svc.buckets, clip, file, n), status_code=302)


@router.get("/{clip_id}/download-url")
def download_clip_url(
    clip_id: str,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    file: Annotated[str, Query(pattern="^(video|thumbnail|fcpxml|edl)$")] = "video",
    n: ThumbnailN = None,
) -> DownloadUrl:
    """The presigned URL ``/download`` redirects to, as JSON: a browser page cannot send its
    bearer token with an ``<img>`` or ``<video>`` source, so the studio asks for the URL."""
    who.require(Action.READ)
    clip = owned(session, Clip, clip_id, who, "clip")
    return DownloadUrl(file=file, url=clips.download_url(svc.buckets, clip, file, n))


@router.post("/{clip_id}/rerender", status_code=202)
def rerender_clip(clip_id: str, body: RerenderIn, who: Caller, session: SessionDep,
                  svc: ServicesDep) -> ClipOut:  # fmt: skip
    """Render the clip's moment again with another aspect, caption style or effects, as a
    new version (the old one stays). The same settings again return the existing version.
    A ``brand_kit_id`` not of the workspace is 404 ``BRAND_KIT_NOT_FOUND``."""
    who.require(Action.EDIT_CLIP)
    clip = owned(session, Clip, clip_id, who, "clip")
    source = owned(session, Source, clip.source_id, who, "source")
    change = EffectsChange(body.zooms, body.hook, body.remove_fillers,
                           body.censor.model_dump() if body.censor else None, body.denoise,
                           body.music, transition=body.transition, broll=body.broll,
                           sfx=body.sfx, brand_kit_id=body.brand_kit_id, emoji=body.emoji,
                           safe_area=body.safe_area, beat_sync=body.beat_sync)  # fmt: skip
    new = rerender(svc.settings, svc.buckets, svc.db, session, clip, source, body.aspect,
                   body.captions, body.layout, change)  # fmt: skip
    return clip_out(new)


@router.post("/delete")
def delete_clips(body: ClipIds, who: Caller, session: SessionDep, svc: ServicesDep) -> Deleted:
    """Delete clips and their files, all or nothing: one id that is missing (404) or of
    another workspace (403) deletes none."""
    who.require(Action.DELETE_CLIP)
    rows = [owned(session, Clip, i, who, "clip") for i in dict.fromkeys(body.ids)]
    return Deleted(deleted=clips.delete_clips(session, svc.buckets, who.workspace_id, rows))
