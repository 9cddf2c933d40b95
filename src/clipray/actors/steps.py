"""The job runner's steps: one Ray task per attempt, a door onto ``services/main_job.py``.

:func:`run_step` is what the runner submits: it reads the job, marks the attempt with the
worker's node and pid (admin-only in the API), watches for a cancel, and calls the step's
service function from :data:`STEPS`, the one table of what each step does. The work itself
(download, analysis, choosing, renders) is the service's; this module only hosts it.

:func:`step_failure` is the one mapping from what a step raised to how the step fails: a
`CodedError` fails it with its code and message, retried with backoff when ``retryable``
and failed at once otherwise; anything else is an internal error (``STEP_FAILED``),
retried. The task raises the mapped error (so what crosses Ray always unpickles), and the
runner maps whatever reaches it (a crashed worker too) with the same function.

    >>> run_step(settings, job_id, workspace_id, "analyze", step_id)   # doctest: +SKIP
    {'cached': True, 'clips': 2, 'virtual_clips_created': False}
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.domain.errors import CodedError, NotFound
from clipray.jobs.machine import Step, progress
from clipray.observability.tracing import job_span
from clipray.pipelines.ingest import IngestContext
from clipray.services.jobs import WORKER_KEYS
from clipray.services.main_job import analyze_job, ingest_job, render_job
from clipray.storage.db import Database
from clipray.storage.orm import Job, JobStatus, JobStep, StepStatus
from clipray.storage.repos import JobRepo

__all__ = ["STEPS", "StepFn", "run_step", "step_failure"]

StepFn = Callable[[Settings, IngestContext, Job, Callable[[float], None]], dict[str, Any]]
STEPS: Mapping[Step, StepFn] = {
    Step.INGEST: ingest_job,
    Step.ANALYZE: analyze_job,
    Step.RENDER: render_job,
}
"""What each step of the state machine runs."""
log = logging.getLogger("clipray.jobs")


def step_failure(exc: BaseException) -> CodedError:
    """How a step fails for ``exc``: its code, its message, and whether to retry."""
    if isinstance(exc, CodedError):
        return exc
    return CodedError("STEP_FAILED", f"{type(exc).__name__}: {exc}"[-2000:], status=500,
                      retryable=True)  # fmt: skip


class _Progress:
    """Writes the job's progress, at most once a second (many replicas poll it)."""

    def __init__(self, db: Database, job: Job) -> None:
        self.db, self.job_id, self.ws, self.state = db, job.id, job.workspace_id, job.status
        self.last = 0.0

    def __call__(self, fraction: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        with self.db.session() as s:
            job = JobRepo(s, self.ws).get(self.job_id)
            if job is not None and job.status is self.state:
                job.progress = round(progress(self.state, fraction), 4)


def run_step(
    settings: Settings, job_id: str, workspace_id: str, step: str, step_id: str | None = None
) -> dict[str, Any]:
    """One attempt of ``step`` of the job (runs as a Ray task). Returns the step's detail.

    The attempt's record first gets the worker's node and pid, so an operator can find the
    process that runs it (and a test can see it gone after a cancel).

    Raises:
        CodedError: the step failed, as :func:`step_failure` maps it.
    """
    db = open_database(settings)
    stop = threading.Event()
    try:
        with db.session() as s:
            job = JobRepo(s, workspace_id).get(job_id)
            if job is None:
                raise NotFound("JOB_NOT_FOUND", f"job {job_id} is gone")
            row = s.get(JobStep, step_id) if step_id else None
            if row is not None:
                row.detail = {**(row.detail or {}), **_worker()}
        if step_id:
            threading.Thread(target=_watchdog, args=(db, job_id, step_id, stop,
                             settings.job_poll_interval_s), daemon=True).start()  # fmt: skip
        ctx = IngestContext.of(settings, open_storage(settings), db, workspace_id)
        report = _Progress(db, job)
        with job_span(settings, job.trace_id, job_id, step, {"clipray.job.step_id": step_id or ""}):
            detail = STEPS[Step(step)](settings, ctx, job, report)
        report(1.0, force=True)
        return detail
    except Exception as exc:
        if not isinstance(exc, CodedError):  # the record keeps the message, the log the trace
            log.exception("step %s of job %s failed", step, job_id)
        # Raised mapped: a refusal that is not a CodedError yet may not unpickle in the runner.
        raise step_failure(exc) from None
    finally:
        stop.set()
        db.dispose()


def _watchdog(db: Database, job_id: str, step_id: str, stop: threading.Event,
              interval: float) -> None:  # fmt: skip
    """End this worker when its attempt is no longer wanted: the job was cancelled, or a new
    job runner closed the attempt as interrupted (the runner that started it died).

    The database is the authority, not Ray's ownership: a task whose owner died can run on,
    and a cancel must hold even when the runner that would call ``ray.cancel`` is gone.
    Exiting the worker process also ends the analysis pools and render tasks it submitted,
    which Ray ties to their owner.
    """
    every = max(interval * 4, 1.0)
    while not stop.wait(every):
        try:
            with db.session() as s:
                job, step = s.get(Job, job_id), s.get(JobStep, step_id)
                wanted = (job is not None and step is not None
                          and job.status is not JobStatus.CANCELLED
                          and step.status is StepStatus.RUNNING)  # fmt: skip
        except Exception as exc:  # the database is briefly away: keep working, ask again
            log.warning("watchdog of step %s could not read the job: %s", step_id, exc)
            continue
        if not wanted and not stop.is_set():
            os._exit(1)


def _worker() -> dict[str, Any]:
    import ray

    node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    return dict(zip(WORKER_KEYS, (os.getpid(), node), strict=True))
