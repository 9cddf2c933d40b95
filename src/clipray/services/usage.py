"""Usage: what a job used, and what a workspace used in a month with what its quotas leave.

Reads the records (step attempts with their seconds and details, the job's source and its
clips on the app-owned bucket, the quotas' counts) and hands them to ``jobs/usage.py``,
which adds them up; the HTTP routes only format the result.

    >>> job_usage(settings, session, job).to_json()["cpu_seconds"]          # doctest: +SKIP
    >>> month_usage(settings, session, ws_id, "2026-01").quotas              # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.jobs import usage as figures
from clipray.jobs.machine import JOB_KIND
from clipray.jobs.quota import next_month
from clipray.jobs.usage import ANALYZE, Allowance, Attempt, JobUsage, MonthUsage, Quotas, Stored
from clipray.services.jobs import running_jobs, source_seconds, workspace_limits
from clipray.storage.orm import (
    Clip,
    GeneratedClip,
    Job,
    JobStep,
    Source,
    Workspace,
    as_utc,
    utcnow,
)
from clipray.storage.repos import AnalysisRepo, SourceRepo
from clipray.storage.uploads import UploadRepo

__all__ = ["attempt_seconds", "job_usage", "month_usage"]


def attempt_seconds(step: JobStep, now: datetime) -> float:
    """An attempt's seconds as the job records them: the runner's measure, else its
    timestamps, else (still running) its time so far; 0 for one not started."""
    measured = (step.detail or {}).get("seconds")
    if isinstance(measured, int | float) and not isinstance(measured, bool):
        return float(measured)
    if step.started_at is None:
        return 0.0
    end = as_utc(step.finished_at) if step.finished_at is not None else now
    return max((end - as_utc(step.started_at)).total_seconds(), 0.0)


def job_usage(settings: Settings, session: Session, job: Job,
              now: datetime | None = None) -> JobUsage:  # fmt: skip
    """What ``job`` used (``jobs/usage.py`` says how each figure is derived)."""
    return _usages(settings, session, job.workspace_id, [job], now or utcnow())[job.id]


def month_usage(settings: Settings, session: Session, workspace_id: str, month: str | None,
                now: datetime | None = None) -> MonthUsage:  # fmt: skip
    """The workspace's totals over the jobs created in ``month`` (``YYYY-MM``, UTC; None:
    this month), with its quotas: the month's source minutes, and the storage and jobs in
    progress as they are now.

    Raises:
        CodedError: 422 ``MONTH_INVALID``, ``month`` is not a month.
    """
    now = now or utcnow()
    start = figures.month_of(month, now)
    end = next_month(start)
    jobs = session.scalars(
        select(Job).where(Job.workspace_id == workspace_id, Job.kind == JOB_KIND,
                          Job.created_at >= start, Job.created_at < end)
        .order_by(Job.created_at, Job.id)
    ).all()  # fmt: skip
    usages = _usages(settings, session, workspace_id, jobs, now)
    minutes = source_seconds(session, workspace_id, start, end) / 60
    limits = workspace_limits(settings, session, workspace_id)
    ws = session.get(Workspace, workspace_id)
    storage_limit = (ws.max_storage_bytes if ws is not None and ws.max_storage_bytes is not None
                     else settings.quota_storage_bytes)  # fmt: skip
    stored = (SourceRepo(session, workspace_id).stored_bytes()
              + UploadRepo(session, workspace_id).reserved_bytes(now))  # fmt: skip
    quotas = Quotas(
        minutes_per_month=Allowance(limits.minutes_per_month, round(minutes, 3)),
        storage_bytes=Allowance(storage_limit, stored),
        concurrent_jobs=Allowance(limits.concurrent_jobs, running_jobs(session, workspace_id)),
    )
    return figures.month_usage(start, usages.values(), minutes, quotas)


def _usages(settings: Settings, session: Session, workspace_id: str, jobs: Sequence[Job],
            now: datetime) -> dict[str, JobUsage]:  # fmt: skip
    """Each job's usage, read in a few queries whatever the number of jobs."""
    if not jobs:
        return {}
    ids = [j.id for j in jobs]
    attempts: dict[str, list[Attempt]] = defaultdict(list)
    for st in session.scalars(
        select(JobStep).where(JobStep.job_id.in_(ids))
        .order_by(JobStep.created_at, JobStep.name, JobStep.attempt)
    ):  # fmt: skip
        attempts[st.job_id].append(Attempt(st.name, attempt_seconds(st, now), st.detail or {}))
    clip_bytes: dict[str | None, int] = {job_id: int(n or 0) for job_id, n in session.execute(
        select(Clip.job_id, func.sum(GeneratedClip.size_bytes))
        .join(GeneratedClip, GeneratedClip.id == Clip.generated_clip_id)
        .where(Clip.job_id.in_(ids), Clip.workspace_id == workspace_id,
               GeneratedClip.purged_at.is_(None))
        .group_by(Clip.job_id)
    )}  # fmt: skip
    source_ids = {j.source_id for j in jobs if j.source_id}
    source_bytes: dict[str, int] = {sid: int(n) for sid, n in session.execute(
        select(Source.id, Source.size_bytes)
        .where(Source.id.in_(source_ids), Source.workspace_id == workspace_id)
    )} if source_ids else {}  # fmt: skip
    out = {}
    for job in jobs:
        steps = attempts[job.id]
        sid = job.source_id if job.source_id in source_bytes else None
        stored = Stored(source_bytes[sid] if sid else 0, clip_bytes.get(job.id, 0), sid)
        out[job.id] = figures.job_usage(steps, settings.stage, stored,
                               _older_timings(session, workspace_id, sid, steps))  # fmt: skip
    return out


def _older_timings(session: Session, workspace_id: str, source_id: str | None,
                   attempts: Sequence[Attempt]) -> dict[str, float] | None:  # fmt: skip
    """The stage timings of a job whose analyze step computed its analysis before steps
    kept them in their detail: the source's latest analysis' (its summary holds them)."""
    computed = [a.detail for a in attempts if a.name == ANALYZE and a.detail.get("cached") is False]
    if not computed or "timings" in computed[-1] or source_id is None:
        return None
    row = AnalysisRepo(session, workspace_id).latest(source_id)
    timings = (row.summary or {}).get("timings") if row is not None else None
    return {str(k): float(v) for k, v in timings.items()} if isinstance(timings, dict) else None
