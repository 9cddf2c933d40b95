"""Counts over every workspace's jobs, for the operator's gauges (not for any user).

    >>> with db.session() as s:                       # doctest: +SKIP
    ...     jobs_by_status(s, "clips"), oldest_running_steps(s, "clips")
    ({'review': 3, 'analyzing': 1}, {'analyze': datetime(...)})
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.storage.orm import Job, JobStep, StepStatus, as_utc

__all__ = ["jobs_by_status", "oldest_running_steps"]


def jobs_by_status(s: Session, kind: str) -> dict[str, int]:
    """How many jobs of ``kind`` are in each status (statuses with none are absent)."""
    rows = s.execute(
        select(Job.status, func.count()).where(Job.kind == kind).group_by(Job.status)
    ).all()
    return {status.value: int(n) for status, n in rows}


def oldest_running_steps(s: Session, kind: str) -> dict[str, datetime]:
    """Per step name, when its oldest attempt still running started."""
    rows = s.execute(
        select(JobStep.name, func.min(JobStep.started_at))
        .join(Job, Job.id == JobStep.job_id)
        .where(Job.kind == kind, JobStep.status == StepStatus.RUNNING,
               JobStep.started_at.is_not(None))
        .group_by(JobStep.name)
    ).all()  # fmt: skip
    return {name: as_utc(started) for name, started in rows if started is not None}
