"""Search: text queries over the frames and the transcript of the workspace's videos.

The query is encoded by the encoder deployment (a handle; batched across requests), then
the index answers each list with the workspace filter inside the query itself, so hits of
another workspace never reach this code. Hits close in time merge into moments.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from clipray.serve.deps import Caller, Principal, Services, ServicesDep, owned
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action
from clipray.serve.schemas import SearchHit, SearchIn, SearchOut
from clipray.storage.orm import Job, Source
from clipray.storage.search import (
    Query,
    QueryVectors,
    Results,
    SearchError,
    latest_jobs,
    restrict,
    result_dict,
    run_search,
)

router = APIRouter(prefix="/api/search", tags=["search"])


def _scope(svc: Services, who: Principal, body: SearchIn) -> tuple[str, ...] | None:
    with svc.db.session() as s:
        job_source = None
        if body.source_id:
            owned(s, Source, body.source_id, who, "source")
        if body.job_id:
            job = owned(s, Job, body.job_id, who, "job")
            if job.source_id is None:
                raise ApiError(409, "JOB_HAS_NO_SOURCE", "the job has not stored its video yet")
            job_source = job.source_id
    return restrict(body.source_id, job_source)


def _jobs_of(svc: Services, workspace_id: str, source_ids: set[str]) -> dict[str, str]:
    with svc.db.session() as s:
        return latest_jobs(s, workspace_id, source_ids)


def search_out(res: Results, jobs: dict[str, str], visual: bool) -> SearchOut:
    hits = [SearchHit.model_validate(result_dict(m, jobs.get(m.source_id))) for m in res.moments]
    return SearchOut(results=hits, total=res.total, page=res.page, pages=res.pages,
                     visual="available" if visual else "unavailable")  # fmt: skip


@router.post("")
async def search(body: SearchIn, who: Caller, svc: ServicesDep) -> SearchOut:
    """Moments of the workspace's videos that match ``query``, best first.

    Errors: 422 ``QUERY_EMPTY``; 409 ``VISUAL_SEARCH_UNAVAILABLE`` in visual mode without
    CLIP weights (hybrid mode then searches the transcript and says ``visual:
    unavailable``); 409 ``SEARCH_SCOPE_CONFLICT`` for a job about another source.
    """
    who.require(Action.READ)
    sources = await run_in_threadpool(_scope, svc, who, body)
    enc = svc.encoders
    available = await enc.visual_available()
    asked = bool(body.query.strip())  # a blank query is refused below, without encoding it
    sentence = await enc.sentence(body.query) if asked and body.mode != "visual" else None
    visual = None
    if asked and available and body.mode != "transcript":
        visual = await enc.clip_text(body.query)
    q = Query(body.query, body.mode, sources, body.limit, body.page)
    try:
        res = await run_in_threadpool(run_search, svc.index, who.workspace_id, q,
                                      QueryVectors(sentence, visual),
                                      svc.settings.search_moment_gap_s)  # fmt: skip
    except SearchError as exc:
        status = 422 if exc.code == "QUERY_EMPTY" else 409
        raise ApiError(status, exc.code, str(exc)) from exc
    jobs = await run_in_threadpool(_jobs_of, svc, who.workspace_id,
                                   {m.source_id for m in res.moments})  # fmt: skip
    return search_out(res, jobs, available)
