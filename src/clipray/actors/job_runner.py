"""The job runner: a named, detached Ray actor that drives every job through its states.

The state lives in the database, never only here: the runner polls for jobs that have work
to do, runs each step attempt as a Ray task (``actors.steps.run_step``), records attempts,
timings and errors (``actors.steps.step_failure`` says how a step failed and whether to
retry), retries with backoff (``jobs.machine.STEP_POLICIES``), and cancels the
Ray work of a job that was cancelled. It also keeps the virtual clips' media moving: a
proxy build per source that wants one, an export per approved clip (``pipelines.export``)
and each highlight reel asked for (``pipelines.highlights``), each one Ray task. When it
starts (the first time, or after Ray restarts
it because it died) it closes the step attempts that were running under its predecessor,
and the jobs go on from the state they were in. Webhook deliveries that fall due are posted
the same way, one Ray task each (``services.webhooks.deliver``).

    >>> runner = ensure_job_runner(settings)          # doctest: +SKIP
    >>> ray.get(runner.status.remote())               # doctest: +SKIP
    {'running': {...}, 'recovered': [...]}
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import ray
from sqlalchemy import select

from clipray.actors import ensure_detached, named
from clipray.actors.poller import Poller
from clipray.actors.steps import run_step, step_failure
from clipray.cluster.resources import actor_options
from clipray.cluster.services import open_database
from clipray.config import Settings
from clipray.jobs.fairness import Waiting, pick_fairly
from clipray.jobs.machine import (
    ACTIVE,
    JOB_KIND,
    STEP_POLICIES,
    TERMINAL,
    Event,
    Step,
    next_action,
    transition,
)
from clipray.observability import metrics as obs_metrics
from clipray.observability.job_gauges import JobGauges
from clipray.pipelines.export import build_proxy, export_clip
from clipray.pipelines.highlights import make_highlight
from clipray.services import webhooks
from clipray.storage import claims
from clipray.storage.orm import (
    HighlightReel,
    Job,
    JobStatus,
    JobStep,
    ProxyStatus,
    Source,
    StepStatus,
    as_utc,
    utcnow,
)
from clipray.storage.repos import JobRepo
from clipray.storage.vclips import (
    fail_exports_without_proxy,
    pending_exports,
    requeue_running_exports,
    wanted_proxies,
)

RUNNER_NAME = "clipray-job-runner"
INTERRUPTED = "interrupted: the job runner stopped while this attempt ran"
log = logging.getLogger("clipray.job_runner")


@dataclass
class _Attempt:
    job_id: str
    workspace_id: str
    step: Step
    step_id: str
    ref: Any
    started: float
    cancelled: bool = False


class _Metrics:
    """Job and step counters and durations as Ray metrics (``observability.metrics``), and
    the same counts readable from ``status()``."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def step(self, step: Step, status: StepStatus, seconds: float) -> None:
        obs_metrics.job_step(step.value, status.value, seconds)
        key = f"step.{step.value}.{status.value}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def media_task(self, kind: str, status: str) -> None:
        obs_metrics.media_task(kind, status)
        key = f"{kind}.{status}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def job(self, status: JobStatus) -> None:
        obs_metrics.job_finished(status.value)
        key = f"job.{status.value}"
        self.counts[key] = self.counts.get(key, 0) + 1


class JobRunner:
    """The runner's logic; :func:`ensure_job_runner` runs it as the detached actor."""

    def __init__(self, settings: Settings, *, loop: bool = True) -> None:
        self.settings = settings
        self.db = open_database(settings)
        self.running: dict[str, _Attempt] = {}
        self.media: dict[tuple[str, str], Any] = {}
        """Proxy builds and exports in flight: ``("proxy", source_id)`` / ``("export", id)``."""
        self.deliveries: dict[str, Any] = {}
        """Webhook deliveries in flight (``services.webhooks.deliver``), by delivery id."""
        self.lock = threading.Lock()
        self.metrics = _Metrics()
        self.gauges = JobGauges(settings, self.db)
        self.recovered = self.recover()
        self.poller = Poller("job-runner", self.tick, settings.job_poll_interval_s)
        if loop:
            self.poller.start()

    # --- actor methods ---------------------------------------------------------------------
    def wake(self) -> None:
        """Look for work now instead of at the next poll (the API calls it after a change)."""
        self.poller.wake()

    def status(self) -> dict[str, Any]:
        with self.lock:
            running = {a.job_id: a.step.value for a in self.running.values()}
            media = [f"{kind}:{key}" for kind, key in self.media]
        return {
            "running": running,
            "media": media,
            "recovered": self.recovered,
            "counts": self.metrics.counts,
        }

    def stop(self) -> None:
        self.poller.stop()

    # --- the loop ------------------------------------------------------------------------
    def tick(self) -> None:
        """One pass: finish what ended, cancel what was cancelled, start what can start."""
        with self.lock:
            self._reap()
            self._cancel_cancelled()
            self._start_new()
            obs_metrics.steps_running(len(self.running))
            self.gauges.refresh()
            self._reap_media()
            self._start_media()
            self._deliver_webhooks()

    def recover(self) -> list[str]:
        """Close the attempts a previous runner left running; their jobs carry on."""
        closed = []
        with self.db.session() as s:
            rows = s.execute(
                select(JobStep, Job)
                .join(Job, Job.id == JobStep.job_id)
                .where(JobStep.status == StepStatus.RUNNING, Job.kind == JOB_KIND)
            ).all()
            for step, job in rows:
                repo = JobRepo(s, job.workspace_id)
                cancelled = job.status is JobStatus.CANCELLED
                repo.finish_step(
                    step, StepStatus.CANCELLED if cancelled else StepStatus.FAILED,
                    error=None if cancelled else INTERRUPTED,
                    detail={**(step.detail or {}), "interrupted": True},
                )  # fmt: skip
                closed.append(step.id)
            requeued = requeue_running_exports(s) + claims.requeue_running(s, HighlightReel)
        requeued += webhooks.recover(self.db)
        if closed:
            log.warning("closed %d step attempts interrupted by a runner restart", len(closed))
        if requeued:
            log.warning("queued %d exports and reels interrupted by a runner restart again",
                        requeued)  # fmt: skip
        return closed

    def _reap(self) -> None:
        if not self.running:
            return
        refs = [a.ref for a in self.running.values()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done_ids = {r.hex() for r in done}
        for job_id, att in list(self.running.items()):
            if att.ref.hex() in done_ids:
                del self.running[job_id]
                self._finish(att)

    def _finish(self, att: _Attempt) -> None:
        seconds = time.monotonic() - att.started
        error: BaseException | None = None
        detail: dict[str, Any] = {}
        try:
            detail = ray.get(att.ref)
        except ray.exceptions.TaskCancelledError as exc:
            error = exc
        except Exception as exc:
            error = _cause(exc)
        with self.db.session() as s:
            repo = JobRepo(s, att.workspace_id)
            job, step = repo.get(att.job_id), s.get(JobStep, att.step_id)
            if job is None or step is None:
                return
            if job.status is JobStatus.CANCELLED or isinstance(
                error, ray.exceptions.TaskCancelledError
            ):
                repo.finish_step(step, StepStatus.CANCELLED, error="cancelled")
                self.metrics.step(att.step, StepStatus.CANCELLED, seconds)
                return
            if error is None:
                detail = {**(step.detail or {}), **detail, "seconds": round(seconds, 3)}
                repo.finish_step(step, StepStatus.SUCCEEDED, detail=detail)
                self.metrics.step(att.step, StepStatus.SUCCEEDED, seconds)
                self._move(repo, job, Event.STEP_SUCCEEDED)
                return
            failure = step_failure(error)
            message = f"{failure.code}: {failure.message}"[-2000:]
            detail = {**(step.detail or {}), "code": failure.code, "seconds": round(seconds, 3)}
            repo.finish_step(step, StepStatus.FAILED, error=message, detail=detail)
            self.metrics.step(att.step, StepStatus.FAILED, seconds)
            failures = self._failures(s, job.id, att.step)
            policy = STEP_POLICIES[att.step]
            retry = policy.should_retry(failures, retryable=failure.retryable)
            obs_metrics.step_failed(att.step.value, failure.code, retried=retry)
            if retry:
                job.not_before = utcnow() + timedelta(seconds=policy.delay(failures))
                job.error = f"attempt {failures} failed, retrying: {message}"[:2000]
            else:
                self._move(repo, job, Event.STEP_FAILED, error=message)

    @staticmethod
    def _failures(s: Any, job_id: str, step: Step) -> int:
        rows = s.scalars(
            select(JobStep).where(JobStep.job_id == job_id, JobStep.name == step.value,
                                  JobStep.status == StepStatus.FAILED)
        ).all()  # fmt: skip
        return sum(1 for r in rows if not (r.detail or {}).get("interrupted"))

    def _move(self, repo: JobRepo, job: Job, event: Event, error: str | None = None) -> None:
        new = transition(job.status, event)
        repo.set_status(job, new, error=error)
        job.progress = 1.0 if new in (JobStatus.REVIEW, JobStatus.COMPLETED) else job.progress
        if new is JobStatus.REVIEW:
            webhooks.emit(repo.s, job.workspace_id, "job.review",
                          {"job_id": job.id, "status": new.value})  # fmt: skip
        if new not in ACTIVE:
            self.metrics.job(new)

    def _cancel_cancelled(self) -> None:
        if not self.running:
            return
        with self.db.session() as s:
            statuses = dict(
                s.execute(select(Job.id, Job.status).where(Job.id.in_(list(self.running)))).all()
            )
        for job_id, att in self.running.items():
            if not att.cancelled and statuses.get(job_id, JobStatus.CANCELLED) in TERMINAL:
                # force: a step's worker holds the analysis dataset and the render tasks it
                # submitted; killing it takes them down with it (they are owned by it).
                ray.cancel(att.ref, force=True, recursive=True)
                att.cancelled = True

    def _start_new(self) -> None:
        free = self.settings.job_runner_concurrency - len(self.running)
        if free <= 0:
            return
        now = utcnow()
        with self.db.session() as s:
            jobs = s.scalars(
                select(Job)
                .where(Job.kind == JOB_KIND, Job.status.in_(ACTIVE), Job.paused.is_(False))
                .order_by(Job.created_at)
            ).all()
            ready = [j for j in jobs if j.id not in self.running
                     and not (j.not_before and as_utc(j.not_before) > now)]  # fmt: skip
            # hand waiting states on first: a job that only moves (e.g. into review) takes
            # no slot, so it never counts against its workspace's share
            startable: dict[str, tuple[Job, Step]] = {}
            for job in ready:
                action = next_action(job.status, paused=job.paused)
                while isinstance(action, Event):
                    self._move(JobRepo(s, job.workspace_id), job, action)
                    action = next_action(job.status, paused=job.paused)
                if action is not None:
                    startable[job.id] = (job, action)
            per_ws = Counter(a.workspace_id for a in self.running.values())
            waiting = [Waiting(j.id, j.workspace_id) for j, _ in startable.values()]
            for job_id in pick_fairly(waiting, per_ws, free):
                job, action = startable[job_id]
                repo = JobRepo(s, job.workspace_id)
                step = repo.start_step(job, action.value)
                job.not_before = None
                task = ray.remote(run_step).options(
                    **actor_options(self.settings.stage("job_step")), max_retries=0,
                    name=f"job-{job.id[:8]}-{action.value}",
                )  # fmt: skip
                ref = task.remote(self.settings, job.id, job.workspace_id, action.value, step.id)
                self.running[job.id] = _Attempt(job.id, job.workspace_id, action, step.id, ref,
                                                time.monotonic())  # fmt: skip

    # --- proxies and exports -----------------------------------------------------------------
    def _reap_media(self) -> None:
        if not self.media:
            return
        refs = list(self.media.values())
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done_ids = {r.hex() for r in done}
        for (kind, key), ref in list(self.media.items()):
            if ref.hex() not in done_ids:
                continue
            del self.media[(kind, key)]
            try:
                ray.get(ref)
                self.metrics.media_task(kind, "done")
            except Exception as exc:  # recorded on the row by the task itself
                log.warning("%s %s failed: %s", kind, key, _cause(exc))
                self.metrics.media_task(kind, "failed")

    def _start_media(self) -> None:
        free = self.settings.export_concurrency - len(self.media)
        if free <= 0:
            return
        stale = utcnow() - timedelta(seconds=self.settings.proxy_build_timeout_s)
        with self.db.session() as s:
            proxies = wanted_proxies(s, stale, limit=free + len(self.media))
            exports = pending_exports(s, limit=free + len(self.media))
            ready = dict(s.execute(
                select(Source.id, Source.proxy_status)
                .where(Source.id.in_({e.source_id for e in exports}))
            ).all()) if exports else {}  # fmt: skip
            if ProxyStatus.FAILED in ready.values():  # a write only when there is one to do
                fail_exports_without_proxy(s)
            todo = [("proxy", sid) for sid in proxies]
            # An export starts once its source's proxy is ready; until then it waits queued
            # (approving a clip made the proxy wanted, so the build above gets to it).
            todo += [("export", e.id) for e in exports
                     if ready.get(e.source_id) is ProxyStatus.READY]  # fmt: skip
            reels = claims.pending(s, HighlightReel, free + len(self.media))
            todo += [("reel", r.id) for r in reels]
        fns = {"proxy": build_proxy, "export": export_clip, "reel": make_highlight}
        for kind, key in todo:
            if free <= 0:
                break
            if (kind, key) in self.media:
                continue
            task = ray.remote(fns[kind]).options(
                **actor_options(self.settings.stage(kind)), max_retries=0,
                name=f"{kind}-{key[:8]}",
            )  # fmt: skip
            self.media[(kind, key)] = task.remote(self.settings, key)
            free -= 1

    def _deliver_webhooks(self) -> None:
        """Reap finished deliveries, start due ones (each one Ray task that claims its row,
        so a delivery is never posted twice at once)."""
        if self.deliveries:
            done, _ = ray.wait(list(self.deliveries.values()), num_returns=len(self.deliveries),
                               timeout=0)  # fmt: skip
            for key in [k for k, ref in self.deliveries.items() if ref in done]:
                try:
                    ray.get(self.deliveries.pop(key))
                except Exception as exc:  # the row stays running; a restart requeues it
                    log.warning("webhook delivery %s failed: %s", key, _cause(exc))
        free = self.settings.webhook_delivery_concurrency - len(self.deliveries)
        if free <= 0:
            return
        for key in webhooks.due(self.db, free + len(self.deliveries)):
            if free <= 0:
                break
            if key in self.deliveries:
                continue
            task = ray.remote(webhooks.deliver).options(
                **actor_options(self.settings.stage("webhook")), max_retries=0,
                name=f"webhook-{key[:8]}",
            )  # fmt: skip
            self.deliveries[key] = task.remote(self.settings, key)
            free -= 1


def _cause(exc: BaseException) -> BaseException:
    """The exception a Ray task raised, unwrapped from RayTaskError."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


JobRunnerActor = ray.remote(JobRunner)


def ensure_job_runner(settings: Settings) -> Any:
    """The runner actor, started if it is not running. Ray restarts it if it dies."""
    return ensure_detached(JobRunnerActor, RUNNER_NAME, settings)


def job_runner() -> Any | None:
    """The running runner's handle, or None."""
    return named(RUNNER_NAME)


__all__ = ["INTERRUPTED", "RUNNER_NAME", "JobRunner", "ensure_job_runner", "job_runner"]
