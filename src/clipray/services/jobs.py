"""Jobs of the main job, as clients drive them: create, list, read, and control.

A job is a row the job runner picks up (``actors/job_runner.py``); these functions only
write what a client asked for, checked first: where the source comes from (a stored
source, a URL the policy allows, an object in the workspace's part of the media bucket),
the workspace's quotas (``jobs/quota.py`` decides), the warm model services' queues
(``services/admission.py``: no new job while they are swamped), an ``Idempotency-Key``
replay, and the state machine (``jobs/machine.py``) for cancel, retry, complete, pause and
resume. The HTTP routes call them and only format the job; the caller wakes the runner.

    >>> job = create_job(settings, buckets, session, ws_id, user_id, request)   # doctest: +SKIP
    >>> control(session, job, Event.CANCEL)                                      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.clips.effects.plan import check_beat_sync
from clipray.config import Settings
from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import CodedError, Conflict, NotFound, RateLimited
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
from clipray.services import admission, audit, brand
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.keys import UnsafeKeyError, check_key
from clipray.storage.objects import Buckets
from clipray.storage.orm import Job, JobStatus, JobStep, Source, StepStatus, Workspace, utcnow
from clipray.storage.repos import JobRepo, fetch_page

__all__ = [
    "REFUSED",
    "WORKER_KEYS",
    "JobRequest",
    "control",
    "create_job",
    "job_steps",
    "list_jobs",
    "pause",
    "read_job",
    "resume",
    "running_jobs",
    "source_seconds",
    "split_detail",
    "workspace_limits",
]
T = TypeVar("T")

REFUSED = {
    Event.CANCEL: "JOB_NOT_CANCELLABLE",
    Event.RETRY: "JOB_NOT_RETRYABLE",
    Event.COMPLETE: "JOB_NOT_IN_REVIEW",
}
"""The code of each control a job's state refuses (409), as the API has always named it."""
WORKER_KEYS = ("worker_pid", "node_id")
"""Keys of a step's detail that name the process that ran it: for operators, not clients."""


@dataclass(frozen=True)
class JobRequest:
    """A job as a client asks for it: exactly one source, and the clip settings."""

    source_id: str | None = None
    source_url: str | None = None
    source_key: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """What an ``Idempotency-Key`` is bound to: the same key must come with this body."""
        body = {"source_id": self.source_id, "source_url": self.source_url,
                "source_key": self.source_key, "settings": self.settings}  # fmt: skip
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def create_job(settings: Settings, buckets: Buckets, session: Session, workspace_id: str,
               user_id: str, request: JobRequest, idempotency_key: str | None = None,
               actor: Actor | None = None, trace_id: str | None = None,
               depths: admission.DepthReader | None = None) -> Job:  # fmt: skip
    """Record a new job (committed), or the one an earlier request with the same
    ``idempotency_key`` and body created. ``trace_id``: the API's id of the creating
    request, which becomes the id of the job's trace; ``depths``: the model services'
    queues (by default read from the deployed services).

    Raises:
        CodedError: the source is refused (400 URL and key codes, 404, 403), the key was
            used with another body (409 ``IDEMPOTENCY_KEY_REUSED``), a quota is spent (429
            with ``Retry-After``), the model services are swamped (429
            ``MODEL_SERVICES_BUSY`` with ``Retry-After``), 422 ``BEAT_SYNC_NEEDS_MUSIC``.
        NotFound: ``BRAND_KIT_NOT_FOUND``, a ``brand_kit_id`` not of the workspace.
    """
    check_beat_sync(request.settings.get("beat_sync"), request.settings.get("music"))
    digest = request.digest()
    if idempotency_key:
        earlier = _by_idempotency_key(session, workspace_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, digest)
    source, row = _source_of(settings, buckets, session, workspace_id, request)
    if request.settings.get("brand_kit_id"):
        brand.check_kit(session, workspace_id, request.settings["brand_kit_id"])
    _enforce_quota(settings, session, workspace_id, row)
    admission.admit(settings, depths)
    job = Job(workspace_id=workspace_id, kind=JOB_KIND, created_by=user_id,
              source_id=row.id if row else None, status=JobStatus.CREATED,
              params={"source": source, "settings": request.settings},
              idempotency_key=idempotency_key, request_hash=digest,
              trace_id=trace_id)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # a concurrent request with the same key won
        earlier = _by_idempotency_key(session, workspace_id, idempotency_key or "")
        if earlier is None:
            raise
        return _replay(earlier, digest)
    audit.record(session, actor or Actor(user_id), workspace_id, AuditAction.JOB_CREATED,
                 "job", job.id, {"source": source})  # fmt: skip
    session.commit()
    return job


def _source_of(settings: Settings, buckets: Buckets, session: Session, workspace_id: str,
               request: JobRequest) -> tuple[dict[str, str], Source | None]:  # fmt: skip
    if request.source_id:
        source = owned(session, Source, request.source_id, workspace_id, "source")
        return {"kind": "id", "value": source.id}, source
    if request.source_url:
        try:
            url = check_url(request.source_url, url_policy(settings))
        except UrlRefusedError as exc:  # at request time a bad URL is the client's: 400
            raise CodedError(exc.code, str(exc), status=400) from exc
        return {"kind": "url", "value": url}, None
    assert request.source_key
    try:
        key = check_key(request.source_key, workspace_id)
    except UnsafeKeyError as exc:
        raise CodedError("SOURCE_KEY_INVALID", str(exc), status=400) from exc
    if buckets.media.scoped(workspace_id).head(key) is None:
        raise NotFound("SOURCE_KEY_NOT_FOUND", f"no object {key} in the media bucket")
    return {"kind": "key", "value": key}, None


def _enforce_quota(settings: Settings, session: Session, workspace_id: str,
                   source: Source | None) -> None:  # fmt: skip
    limits = workspace_limits(settings, session, workspace_id)
    now = utcnow()
    seconds = source_seconds(session, workspace_id, month_start(now))
    usage = Usage(running_jobs(session, workspace_id), seconds / 60,
                  (source.duration_s / 60) if source else 0.0)  # fmt: skip
    over = check_quota(usage, limits, now)
    if over is not None:
        raise RateLimited(over.code, over.message, retry_after=over.retry_after_s)


def workspace_limits(settings: Settings, session: Session, workspace_id: str) -> Limits:
    """The workspace's job quotas: its own where set, else the configured defaults."""
    ws = session.get(Workspace, workspace_id)
    return Limits(
        ws.max_concurrent_jobs if ws and ws.max_concurrent_jobs is not None
        else settings.quota_concurrent_jobs,
        ws.max_minutes_per_month if ws and ws.max_minutes_per_month is not None
        else settings.quota_minutes_per_month,
    )  # fmt: skip


def running_jobs(session: Session, workspace_id: str) -> int:
    """Jobs of the workspace in progress: what the concurrency quota counts."""
    return session.scalar(
        select(func.count()).select_from(Job).where(
            Job.workspace_id == workspace_id, Job.kind == JOB_KIND, Job.status.in_(ACTIVE))
    ) or 0  # fmt: skip


def source_seconds(session: Session, workspace_id: str, start: datetime,
                   end: datetime | None = None) -> float:  # fmt: skip
    """Seconds of source of the workspace's jobs created from ``start`` (until ``end``):
    what the minutes quota counts, each job its source's whole length."""
    q = (select(func.coalesce(func.sum(Source.duration_s), 0.0))
         .select_from(Job).join(Source, Source.id == Job.source_id)
         .where(Job.workspace_id == workspace_id, Job.kind == JOB_KIND,
                Job.created_at >= start))  # fmt: skip
    if end is not None:
        q = q.where(Job.created_at < end)
    return float(session.scalar(q) or 0.0)


def _by_idempotency_key(session: Session, workspace_id: str, key: str) -> Job | None:
    return session.scalar(
        select(Job).where(Job.workspace_id == workspace_id, Job.idempotency_key == key)
    )


def _replay(job: Job, digest: str) -> Job:
    if job.request_hash != digest:
        raise Conflict("IDEMPOTENCY_KEY_REUSED",
                       "this Idempotency-Key was used with a different request")  # fmt: skip
    return job


def list_jobs(session: Session, workspace_id: str, status: JobStatus | None, page: int,
              limit: int) -> tuple[Sequence[Job], int]:  # fmt: skip
    """One page of the workspace's jobs, newest first, and how many there are."""
    q = select(Job).where(Job.workspace_id == workspace_id, Job.kind == JOB_KIND)
    if status is not None:
        q = q.where(Job.status == status)
    return fetch_page(session, q, limit, (page - 1) * limit, Job.created_at.desc(), Job.id)


def job_steps(session: Session, job: Job) -> Sequence[JobStep]:
    """Every attempt of every step of the job, in order."""
    return JobRepo(session, job.workspace_id).steps(job)


def read_job(db: Database, workspace_id: str, job_id: str,
             view: Callable[[Session, Job], T]) -> T | None:  # fmt: skip
    """``view(session, job)`` in a short session of its own, None when the job is gone: a
    stream that polls a job holds no transaction between two looks."""
    with db.session() as s:
        job = JobRepo(s, workspace_id).get(job_id)
        return None if job is None else view(s, job)


def split_detail(detail: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A step's detail as everyone may see it, and which worker ran it (admins only)."""
    detail = detail or {}
    public = {k: v for k, v in detail.items() if k not in WORKER_KEYS}
    return public, {k: detail.get(k) for k in WORKER_KEYS}


def control(session: Session, job: Job, event: Event) -> Job:
    """Cancel, retry (from the step that failed) or complete the job; committed.

    Raises:
        Conflict: the job's state does not allow ``event`` (:data:`REFUSED` names the code).
    """
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
        raise Conflict(REFUSED.get(event, "INVALID_TRANSITION"), str(exc)) from exc
    if event is Event.RETRY:
        job.finished_at = None
        job.not_before = None
    JobRepo(session, job.workspace_id).set_status(
        job, new, error="cancelled by the user" if event is Event.CANCEL else None)  # fmt: skip
    session.commit()
    return job


def pause(job: Job) -> Job:
    """Let the running step finish, then start no other until resumed."""
    if not can_pause(job.status):
        raise Conflict("JOB_NOT_PAUSABLE", f"a job that is {job.status.value} cannot pause")
    job.paused = True
    return job


def resume(session: Session, job: Job) -> Job:
    """Let the runner start the job's next step again; committed."""
    if not job.paused:
        raise Conflict("JOB_NOT_PAUSED", "the job is not paused")
    job.paused = False
    session.commit()
    return job
