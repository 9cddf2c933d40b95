"""The work of each job step: ingest, analyze (and choose the clips), render.

The job runner runs each attempt of a step as one Ray task (:func:`run_step`); the task
reads the job from the database, submits its own Ray work (the analysis dataset, one render
task per clip), writes what it produced, and returns a small summary for the step record.
Every step can run again after a crash: ingest finds the stored bytes, the analysis is
cached by fingerprint, choosing clips replaces the job's pending ones, and rendering renders
only the clips still pending or failed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clipray import __version__
from clipray.clips.llm import LlmConfig
from clipray.clips.render import ffmpeg_version
from clipray.clips.select import why_no_clips
from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.jobs.machine import Step, progress
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.clipjob import RunOptions, plan, planned_row, render_clips
from clipray.pipelines.export import ensure_cover
from clipray.pipelines.fetch import DownloadError, UrlRefusedError, download
from clipray.pipelines.ingest import (
    IngestContext,
    Ingested,
    IngestError,
    StorageQuotaError,
    ingest_path,
    local_copy,
)
from clipray.pipelines.limits import media_limits, url_policy
from clipray.pipelines.runner import AnalysisRunner
from clipray.pipelines.stages.decode import probe
from clipray.pipelines.validate import MediaRejectedError, validate_file
from clipray.storage.db import Database
from clipray.storage.generated import GeneratedLimitError
from clipray.storage.orm import (
    ClipStatus,
    Job,
    JobStatus,
    JobStep,
    Source,
    SourceOrigin,
    StepStatus,
)
from clipray.storage.repos import ClipRepo, JobRepo, SourceRepo

SOURCE_KINDS = ("id", "url", "key")
log = logging.getLogger("clipray.jobs")


class StepError(RuntimeError):
    """A step failed; ``retryable`` says whether another attempt could succeed."""

    def __init__(self, message: str, *, code: str, retryable: bool) -> None:
        super().__init__(message)
        self.code, self.retryable = code, retryable

    def __reduce__(self) -> Any:  # keyword-only arguments: Ray pickles raised exceptions
        return _step_error, (str(self), self.code, self.retryable)


def _step_error(message: str, code: str, retryable: bool) -> StepError:
    return StepError(message, code=code, retryable=retryable)


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
    """
    db = open_database(settings)
    stop = threading.Event()
    try:
        with db.session() as s:
            job = JobRepo(s, workspace_id).get(job_id)
            if job is None:
                raise StepError(f"job {job_id} is gone", code="JOB_NOT_FOUND", retryable=False)
            row = s.get(JobStep, step_id) if step_id else None
            if row is not None:
                row.detail = {**(row.detail or {}), **_worker()}
        if step_id:
            threading.Thread(target=_watchdog, args=(db, job_id, step_id, stop,
                             settings.job_poll_interval_s), daemon=True).start()  # fmt: skip
        ctx = IngestContext.of(settings, open_storage(settings), db, workspace_id)
        report = _Progress(db, job)
        fn: Callable[..., dict[str, Any]] = {
            Step.INGEST: _ingest, Step.ANALYZE: _analyze, Step.RENDER: _render,
        }[Step(step)]  # fmt: skip
        detail = fn(settings, ctx, job, report)
        report(1.0, force=True)
        return detail
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
    return {"worker_pid": os.getpid(), "node_id": node}


# --- ingest ------------------------------------------------------------------------------
def _ingest(settings: Settings, ctx: IngestContext, job: Job, report: _Progress) -> dict[str, Any]:
    src = job.params.get("source", {})
    kind, value = src.get("kind"), src.get("value", "")
    try:
        if kind == "id":
            with ctx.db.session() as s:
                source = SourceRepo(s, ctx.workspace_id).get(value)
            if source is None:
                raise StepError(f"source {value} not found", code="SOURCE_NOT_FOUND",
                                retryable=False)  # fmt: skip
            item_id, created = source.id, False
        elif kind == "key":
            uri = f"s3://{ctx.buckets.media.bucket}/{value}"
            with local_copy(uri, ctx.buckets) as (path, _origin):
                validate_file(path, media_limits(settings), ffprobe=settings.ffprobe_bin,
                              ffmpeg=settings.ffmpeg_bin)  # fmt: skip
                got = ingest_path(ctx, path, SourceOrigin.BUCKET, uri)
            item_id, created = got.source.id, got.created
        elif kind == "url":
            with tempfile.TemporaryDirectory(prefix="clipray-fetch-") as tmp:
                path = download(value, Path(tmp), url_policy(settings),
                                progress=lambda f: report(0.8 * f))  # fmt: skip
                validate_file(path, media_limits(settings), ffprobe=settings.ffprobe_bin,
                              ffmpeg=settings.ffmpeg_bin)  # fmt: skip
                got = ingest_path(ctx, path, SourceOrigin.URL, value)
            item_id, created = got.source.id, got.created
        else:
            raise StepError(f"unknown source kind {kind!r}", code="BAD_JOB", retryable=False)
    except UrlRefusedError as exc:
        raise StepError(str(exc), code=exc.code, retryable=False) from exc
    except MediaRejectedError as exc:
        raise StepError(str(exc), code=exc.code, retryable=False) from exc
    except DownloadError as exc:
        raise StepError(str(exc), code=exc.code,
                        retryable=exc.code != "DOWNLOAD_TOO_LARGE") from exc  # fmt: skip
    except StorageQuotaError as exc:
        raise StepError(str(exc), code=exc.code, retryable=False) from exc
    except IngestError as exc:
        raise StepError(str(exc), code="INGEST_FAILED", retryable=False) from exc
    with ctx.db.session() as s:
        row = JobRepo(s, ctx.workspace_id).get(job.id)
        assert row is not None
        row.source_id = item_id
    return {"source_id": item_id, "created": created}


# --- analyze and choose ------------------------------------------------------------------
def _source(ctx: IngestContext, job: Job) -> Source:
    with ctx.db.session() as s:
        row = JobRepo(s, ctx.workspace_id).get(job.id)
        source_id = row.source_id if row else None
        source = SourceRepo(s, ctx.workspace_id).get(source_id) if source_id else None
    if source is None:
        raise StepError("the job's source is gone", code="SOURCE_NOT_FOUND", retryable=False)
    return source


def job_moment_id(job_id: str, candidate_id: str) -> str:
    """A moment id of this job's own: each job reviews its own clips, even of one source."""
    return hashlib.blake2b(f"{job_id}|{candidate_id}".encode(), digest_size=16).hexdigest()


def options_of(job: Job) -> RunOptions:
    return RunOptions(**job.params.get("settings", {}))


def _analyze(settings: Settings, ctx: IngestContext, job: Job, report: _Progress) -> dict[str, Any]:
    source = _source(ctx, job)
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    info = probe(media.presign_get(source.storage_key), settings.ffprobe_bin)
    item = Ingested(source, info, created=False)
    runner = AnalysisRunner(settings, ctx, analyze_config(settings), log_to_driver=False,
                            ray_progress=False)  # fmt: skip
    parts = {"n": 0}

    def on_part(_source_id: str, _what: str) -> None:
        parts["n"] += 1
        # Parts per video are not known up front: approach 90% and leave the rest to planning.
        report(0.9 * (1 - 1 / (1 + parts["n"] / 4)))

    (outcome,) = runner.run([(item, None)], on_part)
    if outcome.document is None:
        raise StepError(f"analysis failed: {outcome.error}", code="ANALYSIS_FAILED",
                        retryable=True)  # fmt: skip
    versions = {"clipray": __version__, "ffmpeg": ffmpeg_version(settings.ffmpeg_bin),
                "asr": settings.asr_model, "faces": settings.face_weights}  # fmt: skip
    key = settings.llm_api_key
    llm = LlmConfig(base_url=settings.llm_base_url, model=settings.llm_model,
                    api_key=key.get_secret_value() if key else None)  # fmt: skip
    opts = options_of(job)
    planned = plan(outcome.document, item, opts, versions, llm)
    rows = [planned_row(p, source.id, job_moment_id(job.id, p.moment.id), job.id) for p in planned]
    with ctx.db.session() as s:
        ClipRepo(s, ctx.workspace_id).replace_pending(job.id, rows)
    covered = ensure_cover(ctx.db, ctx.workspace_id, source.id, outcome.document,
                           media.presign_get(source.storage_key), settings.ffprobe_bin)  # fmt: skip
    detail = {"cached": outcome.cached, "clips": len(rows), "virtual_clips_created": covered}
    if not rows:  # the job goes on to review (its virtual clips); the step says why
        detail["no_clips"] = why_no_clips(outcome.document, opts.select_config()).to_json()
    return detail


# --- render ------------------------------------------------------------------------------
def _render(settings: Settings, ctx: IngestContext, job: Job, report: _Progress) -> dict[str, Any]:
    source = _source(ctx, job)
    with ctx.db.session() as s:
        clips = ClipRepo(s, ctx.workspace_id).for_job(job.id)
        todo = [c.id for c in clips if c.status is not ClipStatus.RENDERED]
        if not clips:  # nothing was chosen: say so again, with the analysis' reason
            return {"rendered": 0, "no_clips": _no_clips(JobRepo(s, ctx.workspace_id), job.id)}
    done = render_clips(settings, ctx, source, todo, report)
    if done.skipped is not None:  # the job goes on to review; the step says why
        log.warning("job %s: %s", job.id, done.skipped)
        return {"rendered": 0, "generated": f"skipped: {done.skipped}"}
    if done.limited and not done.rendered and not done.failed:
        raise StepError(
            f"the workspace is at its limit of {settings.generated_clips_max_live} live "
            "generated clips: keep or delete some, or wait for them to expire, then retry",
            code=GeneratedLimitError.code, retryable=False,
        )  # fmt: skip
    if done.failed and not done.rendered:
        raise StepError(f"all {done.failed} clips failed to render", code="RENDER_FAILED",
                        retryable=True)  # fmt: skip
    return {"rendered": done.rendered, "failed": done.failed, "limited": done.limited}


def _no_clips(repo: JobRepo, job_id: str) -> dict[str, str]:
    """The reason the job's last successful analyze step recorded for choosing no clip."""
    job = repo.get(job_id)
    analyzed = [st.detail or {} for st in (repo.steps(job) if job else ())
                if st.name == Step.ANALYZE.value and st.status is StepStatus.SUCCEEDED]  # fmt: skip
    reason = analyzed[-1].get("no_clips") if analyzed else None
    return reason or {"code": "NO_CLIPS_CHOSEN", "message": "the analysis chose no clip"}


def rerender_task(settings: Settings, workspace_id: str, source_id: str, clip_id: str) -> bool:
    """Ray task behind ``POST /api/clips/{id}/rerender``: render one planned version."""
    db = open_database(settings)
    try:
        ctx = IngestContext.of(settings, open_storage(settings), db, workspace_id)
        with db.session() as s:
            source = SourceRepo(s, workspace_id).get(source_id)
        if source is None:
            return False
        return render_clips(settings, ctx, source, [clip_id]).rendered == 1
    finally:
        db.dispose()
