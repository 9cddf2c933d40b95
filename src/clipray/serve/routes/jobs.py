"""Jobs: create (from an uploaded source, a URL or a bucket key), list, inspect, cancel,
retry, pause, resume, complete, and follow as server-sent events.

Routes change a job's state only through ``jobs.machine``; the job runner actor does the
work and sees the change at its next poll (the route also wakes it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.actors.steps import WORKER_KEYS
from clipray.jobs.machine import (
    ACTIVE,
    JOB_KIND,
    Event,
    InvalidTransitionError,
    Step,
    can_pause,
    transition,
)
from clipray.jobs.quota import Limits, Usage, check_quota, month_start
from clipray.pipelines.fetch import UrlRefusedError, check_url
from clipray.pipelines.limits import url_policy
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
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action
from clipray.serve.schemas import JobCreate, JobCreated, JobOut, Page, StepOut
from clipray.storage.keys import UnsafeKeyError, check_key
from clipray.storage.orm import Job, JobStatus, JobStep, Source, StepStatus, Workspace, utcnow
from clipray.storage.repos import JobRepo, fetch_page

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


def job_out(session: Session, job: Job, *, steps: bool = True, workers: bool = False) -> JobOut:
    """The job as the API shows it; ``workers`` adds which process ran each attempt (for
    callers allowed to ``inspect_workers``)."""
    rows = JobRepo(session, job.workspace_id).steps(job) if steps else []
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
    detail = {k: v for k, v in (st.detail or {}).items() if k not in WORKER_KEYS}
    worker = {k: (st.detail or {}).get(k) for k in WORKER_KEYS} if workers else None
    return StepOut(name=st.name, status=st.status.value, attempt=st.attempt,
                   started_at=st.started_at, finished_at=st.finished_at, duration_s=duration,
                   error=st.error, detail=detail, worker=worker)  # fmt: skip


def _source_of(body: JobCreate, who: Principal, session: Session, svc: ServicesDep
               ) -> tuple[dict[str, str], Source | None]:  # fmt: skip
    if body.source_id:
        source = owned(session, Source, body.source_id, who, "source")
        return {"kind": "id", "value": source.id}, source
    if body.source_url:
        try:
            url = check_url(body.source_url, url_policy(svc.settings))
        except UrlRefusedError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc
        return {"kind": "url", "value": url}, None
    assert body.source_key
    try:
        key = check_key(body.source_key, who.workspace_id)
    except UnsafeKeyError as exc:
        raise ApiError(400, "SOURCE_KEY_INVALID", str(exc)) from exc
    if svc.buckets.media.scoped(who.workspace_id).head(key) is None:
        raise ApiError(404, "SOURCE_KEY_NOT_FOUND", f"no object {key} in the media bucket")
    return {"kind": "key", "value": key}, None


def _enforce_quota(session: Session, who: Principal, svc: ServicesDep,
                   source: Source | None) -> None:  # fmt: skip
    ws = session.get(Workspace, who.workspace_id)
    limits = Limits(
        ws.max_concurrent_jobs if ws and ws.max_concurrent_jobs is not None
        else svc.settings.quota_concurrent_jobs,
        ws.max_minutes_per_month if ws and ws.max_minutes_per_month is not None
        else svc.settings.quota_minutes_per_month,
    )  # fmt: skip
    now = utcnow()
    running = session.scalar(
        select(func.count()).select_from(Job).where(
            Job.workspace_id == who.workspace_id, Job.kind == JOB_KIND, Job.status.in_(ACTIVE))
    ) or 0  # fmt: skip
    seconds = session.scalar(
        select(func.coalesce(func.sum(Source.duration_s), 0.0))
        .select_from(Job).join(Source, Source.id == Job.source_id)
        .where(Job.workspace_id == who.workspace_id, Job.kind == JOB_KIND,
               Job.created_at >= month_start(now))
    ) or 0.0  # fmt: skip
    usage = Usage(running, seconds / 60, (source.duration_s / 60) if source else 0.0)
    over = check_quota(usage, limits, now)
    if over is not None:
        raise ApiError(429, over.code, over.message,
                       headers={"Retry-After": str(over.retry_after_s)})  # fmt: skip


@router.post("", status_code=201, responses={200: {"model": JobCreated}})
def create_job(
    body: JobCreate,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobCreated:
    """Start a job. With an ``Idempotency-Key`` header, a retried request (same key, same
    body) returns the job the first one created; the same key with another body is 409."""
    who.require(Action.CREATE_JOB)
    digest = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()
    if idempotency_key:
        earlier = _by_idempotency_key(session, who.workspace_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, digest)
    source, row = _source_of(body, who, session, svc)
    _enforce_quota(session, who, svc, row)
    job = Job(workspace_id=who.workspace_id, kind=JOB_KIND, created_by=who.user.id,
              source_id=row.id if row else None, status=JobStatus.CREATED,
              params={"source": source, "settings": body.settings.model_dump()},
              idempotency_key=idempotency_key, request_hash=digest)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # a concurrent request with the same key won
        earlier = _by_idempotency_key(session, who.workspace_id, idempotency_key or "")
        if earlier is None:
            raise
        return _replay(earlier, digest)
    session.commit()
    wake_runner()
    return JobCreated(id=job.id, status=job.status.value)


def _by_idempotency_key(session: Session, workspace_id: str, key: str) -> Job | None:
    return session.scalar(
        select(Job).where(Job.workspace_id == workspace_id, Job.idempotency_key == key)
    )


def _replay(job: Job, digest: str) -> JobCreated:
    if job.request_hash != digest:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED",
                       "this Idempotency-Key was used with a different request")  # fmt: skip
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
    q = select(Job).where(Job.workspace_id == who.workspace_id, Job.kind == JOB_KIND)
    if status is not None:
        q = q.where(Job.status == status)
    rows, total = fetch_page(session, q, limit, (page - 1) * limit, Job.created_at.desc(), Job.id)
    return Page[JobOut].of([job_out(session, j, steps=False) for j in rows], total, page, limit)


@router.get("/{job_id}")
def get_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """A job with every attempt of every step, their timings and errors."""
    who.require(Action.READ)
    job = owned(session, Job, job_id, who, "job")
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


def _act(session: Session, job: Job, event: Event, code: str) -> None:
    failed_step = None
    if event is Event.RETRY:
        last = session.scalar(
            select(JobStep.name)
            .where(JobStep.job_id == job.id, JobStep.status == StepStatus.FAILED)
            .order_by(JobStep.created_at.desc(), JobStep.attempt.desc())
            .limit(1)
        )
        failed_step = Step(last) if last in {s.value for s in Step} else Step.INGEST
    try:
        new = transition(job.status, event, failed_step=failed_step)
    except InvalidTransitionError as exc:
        raise ApiError(409, code, str(exc)) from exc
    repo = JobRepo(session, job.workspace_id)
    if event is Event.RETRY:
        job.finished_at = None
        job.not_before = None
    repo.set_status(job, new, error="cancelled by the user" if event is Event.CANCEL else None)


def _control(job_id: str, who: Principal, session: Session, event: Event, code: str) -> JobOut:
    who.require(Action.EDIT_JOB)
    job = owned(session, Job, job_id, who, "job")
    _act(session, job, event, code)
    session.commit()
    wake_runner()
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.delete("/{job_id}")
def cancel_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Cancel the job; the Ray work of its running step is cancelled too."""
    return _control(job_id, who, session, Event.CANCEL, "JOB_NOT_CANCELLABLE")


@router.post("/{job_id}/retry")
def retry_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Run a failed job again from the step that failed (finished steps are kept)."""
    return _control(job_id, who, session, Event.RETRY, "JOB_NOT_RETRYABLE")


@router.post("/{job_id}/complete")
def complete_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Close the review of a job."""
    return _control(job_id, who, session, Event.COMPLETE, "JOB_NOT_IN_REVIEW")


@router.post("/{job_id}/pause")
def pause_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    """Finish the running step, then start no other until resumed."""
    who.require(Action.EDIT_JOB)
    job = owned(session, Job, job_id, who, "job")
    if not can_pause(job.status):
        raise ApiError(409, "JOB_NOT_PAUSABLE", f"a job that is {job.status.value} cannot pause")
    job.paused = True
    return job_out(session, job, workers=who.can(Action.INSPECT_WORKERS))


@router.post("/{job_id}/resume")
def resume_job(job_id: str, who: Caller, session: SessionDep) -> JobOut:
    who.require(Action.EDIT_JOB)
    job = owned(session, Job, job_id, who, "job")
    if not job.paused:
        raise ApiError(409, "JOB_NOT_PAUSED", "the job is not paused")
    job.paused = False
    session.commit()
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
    Every replica reads the database, so any replica can serve the stream."""
    who.require(Action.READ)
    owned(session, Job, job_id, who, "job")
    session.commit()  # the stream polls in short sessions of its own; hold nothing open
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    stream = _events(svc, who.workspace_id, job_id, request, who.can(Action.INSPECT_WORKERS))
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _snapshot(svc: ServicesDep, workspace_id: str, job_id: str, workers: bool
              ) -> dict[str, Any] | None:  # fmt: skip
    with svc.db.session() as s:
        job = JobRepo(s, workspace_id).get(job_id)
        if job is None:
            return None
        return json.loads(job_out(s, job, workers=workers).model_dump_json())


def _sse(event: str, data: dict[str, Any], n: int) -> bytes:
    return f"id: {n}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _events(svc: ServicesDep, workspace_id: str, job_id: str, request: Request,
                  workers: bool) -> AsyncIterator[bytes]:  # fmt: skip
    last_status: tuple[Any, ...] | None = None
    seen_steps: dict[tuple[str, int], str] = {}
    n, idle = 0, 0.0
    poll = max(svc.settings.job_poll_interval_s, 0.2)
    while not await request.is_disconnected():
        snap = await asyncio.to_thread(_snapshot, svc, workspace_id, job_id, workers)
        if snap is None:
            n += 1
            yield _sse("end", {"status": "deleted"}, n)
            return
        for st in snap["steps"]:
            key = (st["name"], st["attempt"])
            if seen_steps.get(key) != st["status"]:
                seen_steps[key] = st["status"]
                n += 1
                yield _sse("step", st, n)
        status = (snap["status"], round(snap["progress"], 3), snap["paused"], snap["error"])
        if status != last_status:
            last_status = status
            n += 1
            yield _sse("status", {k: snap[k] for k in ("id", "status", "progress", "paused",
                                                       "error")}, n)  # fmt: skip
            idle = 0.0
        if JobStatus(snap["status"]) not in ACTIVE:  # only a person moves it on now
            n += 1
            yield _sse("end", {"status": snap["status"]}, n)
            return
        await asyncio.sleep(poll)
        idle += poll
        if idle >= 15:  # a comment line keeps proxies from closing a quiet stream
            idle = 0.0
            yield b": keep-alive\n\n"
