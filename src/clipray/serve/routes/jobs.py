"""Jobs: create (from an uploaded source, a URL or a bucket key), list, inspect, cancel,
retry, pause, resume, complete, and follow as server-sent events.

Routes parse, call ``services/jobs.py`` (which changes a job's state only through
``jobs.machine``) and format; the job runner actor does the work and sees the change at its
next poll (the route also wakes it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from clipray.jobs.machine import Event
from clipray.serve.deps import (
    ActorDep,
    Caller,
    PageNo,
    PageSize,
    Principal,
    ServicesDep,
    SessionDep,
    owned,
    wake_runner,
)
from clipray.serve.errors import trace_id
from clipray.serve.permissions import Action
from clipray.serve.schemas import JobCreate, JobCreated, JobOut, Page, StepOut
from clipray.serve.schemas.usage import JobUsageOut
from clipray.services import jobs, usage
from clipray.services.job_events import follow_job
from clipray.services.jobs import JobRequest
from clipray.storage.orm import Job, JobStatus, JobStep

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


def job_out(session: SessionDep, job: Job, *, steps: bool = True, workers: bool = False) -> JobOut:
    """The job as the API shows it; ``workers`` adds which process ran each attempt (for
    callers allowed to ``inspect_workers``)."""
    rows = jobs.job_steps(session, job) if steps else []
    return JobOut(
        id=job.id, status=job.status.value, paused=job.paused, progress=job.progress,
        error=job.error, source_id=job.source_id, source=job.params.get("source", {}),
        settings=job.params.get("settings", {}), created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at,
        steps=[_step_out(st, workers) for st in rows],
    )  # fmt: skip


def _step_out(st: JobStep, workers: bool) -> StepOut:
    duration = None
    if st.started_at and st.finished_at:
        duration = round((st.finished_at - st.started_at).total_seconds(), 3)
    detail, worker = jobs.split_detail(st.detail)
    return StepOut(name=st.name, status=st.status.value, attempt=st.attempt,
                   started_at=st.started_at, finished_at=st.finished_at, duration_s=duration,
                   error=st.error, detail=detail, worker=worker if workers else None)  # fmt: skip


@router.post("", status_code=201, responses={200: {"model": JobCreated}})
def create_job(
    body: JobCreate,
    http: Request,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobCreated:
    """Start a job. With an ``Idempotency-Key`` header, a retried request (same key, same
    body) returns the job the first one created; the same key with another body is 409."""
    who.require(Action.CREATE_JOB)
    request = JobRequest(body.source_id, body.source_url, body.source_key,
                         body.settings.model_dump())  # fmt: skip
    job = jobs.create_job(svc.settings, svc.buckets, session, who.workspace_id, who.user.id,
                          request, idempotency_key, actor, trace_id(http))  # fmt: skip
    wake_runner()
    return JobCreated(id=job.id, status=job.status.value)


@router.get("")
def list_jobs(
    who: Caller,
    session: SessionDep,
    page: PageNo = 1,
    limit: PageSize = 20,
    status: JobStatus | None = None,
) -> Page[JobOut]:
    """The workspace's jobs, newest first."""
    who.require(Action.READ)
    rows, total = jobs.list_jobs(session, who.workspace_id, status, page, limit)
    return Page[JobOut].of([job_out(session, j, steps=False) for j in rows], total, page, limit)


@router.get("/{job_id}")
def get_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """A job with every attempt of every step, their timings and errors."""
    who.require(Action.READ)
    job = owned(session, Job, job_id, who, "job")
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.get("/{job_id}/usage")
def job_usage(job_id: str, who: Caller, session: SessionDep, svc: ServicesDep) -> JobUsageOut:
    """Seconds per step, CPU and GPU seconds per stage, bytes stored and LLM tokens: how
    each figure is derived is in ``jobs/usage.py``."""
    who.require(Action.READ)
    job = owned(session, Job, job_id, who, "job")
    used = usage.job_usage(svc.settings, session, job)
    return JobUsageOut(job_id=job.id, status=job.status.value, **used.to_json())


def _control(job_id: str, who: Principal, session: SessionDep, event: Event) -> JobOut:
    who.require(Action.EDIT_JOB)
    job = jobs.control(session, owned(session, Job, job_id, who, "job"), event)
    wake_runner()
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.delete("/{job_id}")
def cancel_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Cancel the job; the Ray work of its running step is cancelled too."""
    return _control(job_id, who, session, Event.CANCEL)


@router.post("/{job_id}/retry")
def retry_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Run a failed job again from the step that failed (finished steps are kept)."""
    return _control(job_id, who, session, Event.RETRY)


@router.post("/{job_id}/complete")
def complete_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Close the review of a job."""
    return _control(job_id, who, session, Event.COMPLETE)


@router.post("/{job_id}/pause")
def pause_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Finish the running step, then start no other until resumed."""
    who.require(Action.EDIT_JOB)
    job = jobs.pause(owned(session, Job, job_id, who, "job"))
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.post("/{job_id}/resume")
def resume_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    who.require(Action.EDIT_JOB)
    job = jobs.resume(session, owned(session, Job, job_id, who, "job"))
    wake_runner()
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def job_events(job_id: str, request: Request, who: Caller, session: SessionDep,
               svc: ServicesDep) -> StreamingResponse:  # fmt: skip
    """Server-sent events: ``status`` (state, progress, paused) and ``step`` (an attempt
    started or ended) as they happen, then ``end`` once the job is finished or in review.
    Every replica reads the database, so any replica can serve the stream. ``WS
    /ws/jobs/{id}`` sends the same messages."""
    who.require(Action.READ)
    owned(session, Job, job_id, who, "job")
    session.commit()  # the stream polls in short sessions of its own; hold nothing open
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    stream = _events(svc, who.workspace_id, job_id, request, who.can(Action.INSPECT_WORKERS))
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def job_view(workers: bool) -> Callable[[Any, Job], dict[str, Any]]:
    """A job's snapshot as its followers see it (``view(session, job)``): the JSON of
    :func:`job_out`."""
    return lambda s, job: json.loads(job_out(s, job, workers=workers).model_dump_json())


def _sse(event: str, data: dict[str, Any], n: int) -> bytes:
    return f"id: {n}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _events(svc: ServicesDep, workspace_id: str, job_id: str, request: Request,
                  workers: bool) -> AsyncIterator[bytes]:  # fmt: skip
    async for msg in follow_job(svc.db, svc.settings, workspace_id, job_id, job_view(workers),
                                gone=request.is_disconnected):  # fmt: skip
        if msg is None:  # a comment line keeps proxies from closing a quiet stream
            yield b": keep-alive\n\n"
        else:
            n, kind, data = msg
            yield _sse(kind, data, n)
