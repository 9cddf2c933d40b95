"""Highlight reels: moments (from search results, or by hand) joined into one MP4.

``POST /api/highlights/export`` checks the moments and queues the reel; the job runner
makes it as one Ray task (each part re-encoded to a common size, frame rate and audio
format, then joined by stream copy) and stores it as a generated clip of kind
``highlight-reel``, which expires like any generated clip unless kept. Poll
``GET /api/highlights/jobs/{id}``: once ``succeeded`` it carries a presigned URL.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from clipray.pipelines.highlights import ReelRequestError, plan_reel, record_reel
from clipray.serve.deps import (
    Caller,
    ServicesDep,
    SessionDep,
    owned,
    require_generation,
    wake_runner,
)
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action
from clipray.serve.schemas import HighlightIn, HighlightJobOut, MomentIn
from clipray.storage.generated import GeneratedRepo
from clipray.storage.orm import ExportStatus, HighlightReel, Source, utcnow

router = APIRouter(prefix="/api/highlights", tags=["highlights"])
_STATUS = {ExportStatus.PENDING: "pending", ExportStatus.RUNNING: "running",
           ExportStatus.DONE: "succeeded", ExportStatus.FAILED: "failed"}  # fmt: skip


def reel_out(row: HighlightReel, url: str | None) -> HighlightJobOut:
    return HighlightJobOut(
        id=row.id, status=_STATUS[row.status],  # type: ignore[arg-type]
        moments=[MomentIn(**m) for m in row.spec["moments"]], title=row.title,
        error=row.error, generated_clip_id=row.generated_clip_id, duration_s=row.duration_s,
        url=url, created_at=row.created_at, finished_at=row.finished_at,
    )  # fmt: skip


@router.post("/export", status_code=202)
def export_highlights(body: HighlightIn, who: Caller, session: SessionDep,
                      svc: ServicesDep) -> HighlightJobOut:  # fmt: skip
    """Queue a reel of ``moments`` in the order given. Errors: 404 ``SOURCE_NOT_FOUND``,
    422 ``MOMENT_OUT_OF_RANGE`` / ``REEL_TOO_MANY_PARTS`` / ``REEL_TOO_LONG``, 409
    ``GENERATED_CLIP_LIMIT``, 503 ``GENERATED_STORAGE_UNAVAILABLE``."""
    who.require(Action.CREATE_JOB)
    require_generation(svc, session, who.workspace_id)  # now, not after the encode
    s = svc.settings
    ids = {m.source_id for m in body.moments}
    sources = {src.id: src for src in session.scalars(
        select(Source).where(Source.id.in_(ids), Source.workspace_id == who.workspace_id)
    )}  # fmt: skip
    try:
        planned = plan_reel([(m.source_id, m.start, m.end) for m in body.moments], sources,
                            s.highlight_max_parts, s.highlight_max_duration_s)  # fmt: skip
    except ReelRequestError as exc:
        raise ApiError(404 if exc.code == "SOURCE_NOT_FOUND" else 422, exc.code, str(exc)) from exc
    row = record_reel(session, who.workspace_id, planned, body.title, body.height, who.user.id)
    out = reel_out(row, None)
    session.commit()  # before the runner is woken: it must see the reel
    wake_runner()
    return out


@router.get("/jobs/{reel_id}")
def get_highlight_job(reel_id: str, who: Caller, session: SessionDep,
                      svc: ServicesDep) -> HighlightJobOut:  # fmt: skip
    """A reel's progress; once ``succeeded``, ``url`` is a presigned URL of the MP4 (null
    again after the reel expired and was purged)."""
    who.require(Action.READ)
    row = owned(session, HighlightReel, reel_id, who, "highlight_job")
    url = None
    if row.status is ExportStatus.DONE and row.generated_clip_id:
        gen = GeneratedRepo(session, who.workspace_id).get(row.generated_clip_id)
        if gen is not None and not GeneratedRepo.gone(gen, utcnow()) and svc.buckets.generated:
            url = svc.buckets.generated.scoped(who.workspace_id).presign_get(gen.storage_key)
    return reel_out(row, url)
