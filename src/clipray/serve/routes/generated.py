"""Generated clips: what clipray made, on the app-owned bucket, until it expires.

They count against no storage quota and are purged ``CLIPRAY_GENERATED_CLIP_RETENTION_DAYS``
after they were made, unless kept (``POST .../keep``) or published. Watching or downloading
one redirects to a short-lived presigned URL. A purged or expired clip is gone: 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from clipray.clips.retention import expires_in_days
from clipray.serve.deps import (
    Caller,
    PageNo,
    PageSize,
    ServicesDep,
    SessionDep,
    generated_store,
    owned,
)
from clipray.serve.errors import not_found
from clipray.serve.permissions import Action
from clipray.serve.schemas import GeneratedClipOut, GeneratedOrigin, Page
from clipray.storage.generated import GeneratedRepo
from clipray.storage.objects import download_name
from clipray.storage.orm import GeneratedClip, GeneratedKind, GeneratedStatus, as_utc, utcnow

router = APIRouter(prefix="/api/generated-clips", tags=["generated clips"])
_REDIRECT = {302: {"description": "Redirect to a presigned URL of the video"}}


def generated_out(g: GeneratedClip) -> GeneratedClipOut:
    expires = as_utc(g.expires_at) if g.expires_at else None
    return GeneratedClipOut(
        id=g.id, source_id=g.source_id, candidate_id=g.candidate_id, kind=g.kind.value,
        origin=GeneratedOrigin(type="reel" if g.kind is GeneratedKind.HIGHLIGHT_REEL else "clip",
                               id=g.candidate_id),
        status=g.status.value, title=g.title, size_bytes=g.size_bytes, duration_s=g.duration_s,
        expires_at=expires, expires_in_days=expires_in_days(expires, utcnow()),
        kept_at=g.kept_at, published_at=g.published_at, created_at=g.created_at,
    )  # fmt: skip


def _live(session: SessionDep, generated_id: str, who: Caller) -> GeneratedClip:
    """The clip if it still exists: purged, or expired and waiting for the sweep, is 404."""
    row = owned(session, GeneratedClip, generated_id, who, "generated_clip")
    if GeneratedRepo.gone(row, utcnow()):
        raise not_found("generated_clip", generated_id)
    return row


@router.get("")
def list_generated(
    who: Caller,
    session: SessionDep,
    status: GeneratedStatus | None = None,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[GeneratedClipOut]:
    """The workspace's generated clips, newest first (purged ones only with ``status``)."""
    who.require(Action.READ)
    rows, total = GeneratedRepo(session, who.workspace_id).page(limit, (page - 1) * limit,
                                                                status)  # fmt: skip
    return Page[GeneratedClipOut].of([generated_out(g) for g in rows], total, page, limit)


@router.get("/{generated_id}")
def get_generated(generated_id: str, who: Caller, session: SessionDep) -> GeneratedClipOut:
    who.require(Action.READ)
    return generated_out(_live(session, generated_id, who))


def _redirect(session: SessionDep, svc: ServicesDep, who: Caller, generated_id: str,
              attachment: bool) -> RedirectResponse:  # fmt: skip
    who.require(Action.READ)
    row = _live(session, generated_id, who)
    store = generated_store(svc, who.workspace_id)
    name = download_name(row.title, ".mp4") if attachment else None
    return RedirectResponse(store.presign_get(row.storage_key, download_name=name), 302)


@router.get("/{generated_id}/watch", status_code=302, responses=_REDIRECT)
def watch_generated(generated_id: str, who: Caller, session: SessionDep, svc: ServicesDep
                    ) -> RedirectResponse:  # fmt: skip
    """302 to a short-lived presigned URL that plays the clip in a browser."""
    return _redirect(session, svc, who, generated_id, attachment=False)


@router.get("/{generated_id}/download", status_code=302, responses=_REDIRECT)
def download_generated(generated_id: str, who: Caller, session: SessionDep, svc: ServicesDep
                       ) -> RedirectResponse:  # fmt: skip
    """302 to a short-lived presigned URL that saves the clip under its title."""
    return _redirect(session, svc, who, generated_id, attachment=True)


@router.post("/{generated_id}/keep")
def keep_generated(generated_id: str, who: Caller, session: SessionDep) -> GeneratedClipOut:
    """Keep the clip: it no longer expires (it still counts against no storage quota)."""
    who.require(Action.EDIT_CLIP)
    row = GeneratedRepo.keep(_live(session, generated_id, who), utcnow())
    session.flush()
    return generated_out(row)
