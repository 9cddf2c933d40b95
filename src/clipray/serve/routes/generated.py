"""Generated clips: what clipray made, on the app-owned bucket, until it expires.

They count against no storage quota and are purged ``CLIPRAY_GENERATED_CLIP_RETENTION_DAYS``
after they were made, unless kept (``POST .../keep``) or published. Watching or downloading
one redirects to a short-lived presigned URL (``.../watch-url`` gives the one to play as
JSON, for a ``<video>``, which cannot send a bearer token). A purged or expired clip is
gone: 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from clipray.clips.retention import expires_in_days
from clipray.serve.deps import ActorDep, Caller, PageNo, PageSize, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas import GeneratedClipOut, GeneratedOrigin, Page
from clipray.serve.schemas.clips import DownloadUrl
from clipray.services import generated
from clipray.storage.orm import GeneratedClip, GeneratedKind, GeneratedStatus, utcnow

router = APIRouter(prefix="/api/generated-clips", tags=["generated clips"])
_REDIRECT = {302: {"description": "Redirect to a presigned URL of the video"}}


def _origin(g: GeneratedClip) -> GeneratedOrigin:
    if g.kind is GeneratedKind.STREAM:  # the candidate is the window key: "{monitor}:{hash}"
        return GeneratedOrigin(type="stream", id=g.candidate_id.split(":", 1)[0])
    kind = "reel" if g.kind is GeneratedKind.HIGHLIGHT_REEL else "clip"
    return GeneratedOrigin(type=kind, id=g.candidate_id)


def generated_out(g: GeneratedClip) -> GeneratedClipOut:
    expires = g.expires_at  # UtcDateTime: aware UTC already
    return GeneratedClipOut(
        id=g.id, source_id=g.source_id, candidate_id=g.candidate_id, kind=g.kind.value,
        origin=_origin(g),
        status=g.status.value, title=g.title, size_bytes=g.size_bytes, duration_s=g.duration_s,
        expires_at=expires, expires_in_days=expires_in_days(expires, utcnow()),
        kept_at=g.kept_at, published_at=g.published_at, created_at=g.created_at,
    )  # fmt: skip


@router.get("")
def list_generated(
    who: Caller,
    svc: ServicesDep,
    status: GeneratedStatus | None = None,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[GeneratedClipOut]:
    """The workspace's generated clips, newest first (purged ones only with ``status``)."""
    who.require(Action.READ)
    rows, total = generated.page(svc.db, who.workspace_id, limit, (page - 1) * limit, status)
    return Page[GeneratedClipOut].of([generated_out(g) for g in rows], total, page, limit)


@router.get("/{generated_id}")
def get_generated(generated_id: str, who: Caller, svc: ServicesDep) -> GeneratedClipOut:
    who.require(Action.READ)
    return generated_out(generated.get(svc.db, who.workspace_id, generated_id))


@router.get("/{generated_id}/watch", status_code=302, responses=_REDIRECT)
def watch_generated(generated_id: str, who: Caller, svc: ServicesDep) -> RedirectResponse:
    """302 to a short-lived presigned URL that plays the clip in a browser."""
    who.require(Action.READ)
    url = generated.url(svc.db, svc.buckets, who.workspace_id, generated_id, attachment=False)
    return RedirectResponse(url, 302)


@router.get("/{generated_id}/watch-url")
def watch_generated_url(generated_id: str, who: Caller, svc: ServicesDep) -> DownloadUrl:
    """The presigned URL ``/watch`` redirects to, as JSON: a browser page cannot send its
    bearer token with a ``<video>`` source, so the studio asks for the URL (a stream's
    clips play in its page)."""
    who.require(Action.READ)
    url = generated.url(svc.db, svc.buckets, who.workspace_id, generated_id, attachment=False)
    return DownloadUrl(file="video", url=url)


@router.get("/{generated_id}/download", status_code=302, responses=_REDIRECT)
def download_generated(generated_id: str, who: Caller, svc: ServicesDep) -> RedirectResponse:
    """302 to a short-lived presigned URL that saves the clip under its title."""
    who.require(Action.READ)
    url = generated.url(svc.db, svc.buckets, who.workspace_id, generated_id, attachment=True)
    return RedirectResponse(url, 302)


@router.post("/{generated_id}/keep")
def keep_generated(generated_id: str, who: Caller, svc: ServicesDep, actor: ActorDep
                   ) -> GeneratedClipOut:  # fmt: skip
    """Keep the clip: it no longer expires (it still counts against no storage quota)."""
    who.require(Action.EDIT_CLIP)
    return generated_out(generated.keep(svc.db, who.workspace_id, generated_id, actor))
