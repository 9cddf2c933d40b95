"""Highlight reels: moments (from search results, or by hand) joined into one MP4.

``POST /api/highlights/export`` checks the moments and queues the reel; the job runner
makes it as one Ray task (each part re-encoded to a common size, frame rate and audio
format, then joined by stream copy) and stores it as a generated clip of kind
``highlight-reel``, which expires like any generated clip unless kept. Poll
``GET /api/highlights/jobs/{id}``: once ``succeeded`` it carries a presigned URL.
``GET /api/highlights`` lists the workspace's reels. The flow is
:mod:`clipray.services.reels`, the one ``clipray reel`` runs too.
"""

from __future__ import annotations

from fastapi import APIRouter

from clipray.serve.deps import Caller, PageNo, PageSize, ServicesDep, SessionDep, wake_runner
from clipray.serve.permissions import Action
from clipray.serve.schemas import HighlightIn, HighlightJobOut, MomentIn, Page
from clipray.services import reels
from clipray.storage.orm import ExportStatus

router = APIRouter(prefix="/api/highlights", tags=["highlights"])
_STATUS = {ExportStatus.PENDING: "pending", ExportStatus.RUNNING: "running",
           ExportStatus.DONE: "succeeded", ExportStatus.FAILED: "failed"}  # fmt: skip


def reel_out(state: reels.ReelState) -> HighlightJobOut:
    row = state.row
    return HighlightJobOut(
        id=row.id, status=_STATUS[row.status],  # type: ignore[arg-type]
        moments=[MomentIn(**m) for m in row.spec["moments"]], title=row.title,
        error=row.error, generated_clip_id=row.generated_clip_id, duration_s=row.duration_s,
        url=state.url, created_at=row.created_at, finished_at=row.finished_at,
    )  # fmt: skip


@router.get("")
def list_highlights(who: Caller, session: SessionDep, svc: ServicesDep, page: PageNo = 1,
                    limit: PageSize = 20) -> Page[HighlightJobOut]:  # fmt: skip
    """The workspace's highlight reels, newest first, each as ``GET /jobs/{id}`` shows it."""
    who.require(Action.READ)
    states, total = reels.list_reels(session, svc.buckets, who.workspace_id, page, limit)
    return Page[HighlightJobOut].of([reel_out(x) for x in states], total, page, limit)


@router.post("/export", status_code=202)
def export_highlights(body: HighlightIn, who: Caller, session: SessionDep,
                      svc: ServicesDep) -> HighlightJobOut:  # fmt: skip
    """Queue a reel of ``moments`` in the order given. Errors: 422 ``REEL_TOO_MANY_PARTS``
    (checked first, before anything is read), 503 ``GENERATED_STORAGE_UNAVAILABLE``, 409
    ``GENERATED_CLIP_LIMIT``, 404 ``SOURCE_NOT_FOUND``, 422 ``MOMENT_OUT_OF_RANGE`` /
    ``REEL_TOO_LONG``; a list longer than 500 is refused while the body is read (422
    ``VALIDATION_ERROR``)."""
    who.require(Action.CREATE_JOB)
    req = reels.ReelRequest([(m.source_id, m.start, m.end) for m in body.moments], body.title,
                            body.height)  # fmt: skip
    row = reels.queue_reel(session, svc.buckets, svc.settings, who.workspace_id, req,
                           who.user.id)  # fmt: skip
    out = reel_out(reels.ReelState(row, None, None))
    session.commit()  # before the runner is woken: it must see the reel
    wake_runner()
    return out


@router.get("/jobs/{reel_id}")
def get_highlight_job(reel_id: str, who: Caller, session: SessionDep,
                      svc: ServicesDep) -> HighlightJobOut:  # fmt: skip
    """A reel's progress; once ``succeeded``, ``url`` is a presigned URL of the MP4 (null
    again after the reel expired and was purged)."""
    who.require(Action.READ)
    return reel_out(reels.reel_state(session, svc.buckets, who.workspace_id, reel_id))
