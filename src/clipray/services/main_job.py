"""The main job, written once: ingest -> analyse (cached) -> choose -> render.

Three doors run it. ``clipray run`` and ``clipray demo`` call :func:`run_main_job` (one
process drives the whole flow); ``clipray analyze`` calls :func:`ingest_uri` and
:func:`analyse`; the job runner runs one step per Ray task (``actors/steps.py``), and each
step calls :func:`ingest_job`, :func:`analyze_job` or :func:`render_job`, which go through
the same :func:`analyse` and :func:`choose` and the same renders (``pipelines/clipjob.py``).
So the analysis fingerprint, the versions recorded in a render spec and the LLM reranking
are decided here only, whatever door a job came through.

Refusals are `CodedError` subclasses (``retryable`` says whether the step runner tries
again); the job runner's one failure mapping turns them into step failures.

    >>> result = run_main_job(settings, ctx, "talk.mp4", RunOptions())   # doctest: +SKIP
    >>> [c.title for c in result.clips]                                   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from clipray import __version__
from clipray.clips.broll import Library, topics
from clipray.clips.llm import LlmConfig, UsageFn
from clipray.clips.render import ffmpeg_version
from clipray.clips.select import why_no_clips
from clipray.config import Settings
from clipray.domain.analysis import Analysis
from clipray.domain.errors import CodedError, Conflict, NotFound, Unavailable
from clipray.jobs.machine import Step
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.beats import music_beats
from clipray.pipelines.clipjob import (
    JobResult,
    PlannedClip,
    RunOptions,
    audiogram_look,
    plan,
    planned_row,
    render_all,
    render_clips,
)
from clipray.pipelines.export import ensure_cover
from clipray.pipelines.fetch import download
from clipray.pipelines.ingest import IngestContext, Ingested, ingest, ingest_path, local_copy
from clipray.pipelines.limits import media_limits, url_policy
from clipray.pipelines.runner import AnalysisRunner, Outcome
from clipray.pipelines.stages.decode import ProbeError, probe
from clipray.pipelines.validate import validate_file
from clipray.services import library, stock_footage, webhooks
from clipray.services.brand import with_brand
from clipray.storage.orm import ClipStatus, Job, Source, SourceOrigin, StepStatus
from clipray.storage.repos import ClipRepo, JobRepo, SourceRepo

__all__ = [
    "SOURCE_KINDS",
    "AnalysisFailedError",
    "RenderFailedError",
    "analyse",
    "analyze_job",
    "choose",
    "expected_parts",
    "ingest_job",
    "ingest_uri",
    "job_library",
    "job_moment_id",
    "job_options",
    "render_job",
    "run_main_job",
]

SOURCE_KINDS = ("id", "url", "key")
"""How a job names its source: a stored source's id, a URL to fetch, a media-bucket key."""
Report = Callable[[float], None]
log = logging.getLogger("clipray.jobs")


class AnalysisFailedError(CodedError):
    """The analysis produced no document (a stage failed on a worker): a retry may work."""

    status = 500
    retryable = True

    def __init__(self, error: str | None) -> None:
        super().__init__("ANALYSIS_FAILED", f"analysis failed: {error}")


class RenderFailedError(CodedError):
    """Every clip of the job failed to render: a retry renders the failed ones again."""

    status = 500
    retryable = True

    def __init__(self, failed: int) -> None:
        super().__init__("RENDER_FAILED", f"all {failed} clips failed to render")


# --- the flow ----------------------------------------------------------------------------
def versions_of(settings: Settings) -> dict[str, str]:
    """What a render spec records of the software that made it (part of its hash)."""
    return {"clipray": __version__, "ffmpeg": ffmpeg_version(settings.ffmpeg_bin),
            "asr": settings.asr_model, "faces": settings.face_weights}  # fmt: skip


def llm_of(settings: Settings) -> LlmConfig:
    key = settings.llm_api_key
    return LlmConfig(base_url=settings.llm_base_url, model=settings.llm_model,
                     api_key=key.get_secret_value() if key else None)  # fmt: skip


def ingest_uri(ctx: IngestContext, uri: str) -> Ingested:
    """A local path or an ``s3://bucket/key`` URI as a source of the workspace (the same
    bytes again give the existing source)."""
    return ingest(ctx, uri)


def _local(uri: str | None) -> Path | None:
    return None if uri is None or uri.startswith("s3://") else Path(uri).expanduser()


def expected_parts(settings: Settings, item: Ingested) -> int:
    """How many parts (picture windows and audio chunks) the analysis of ``item`` reports,
    so that a door can size a progress bar before it starts."""
    cfg, info = analyze_config(settings), item.info
    audio = math.ceil(info.duration / cfg.audio.chunk_s) if info.has_audio else 0
    windows = math.ceil(info.duration / cfg.window_s) if info.has_video else 0
    return max(windows + audio, 1)


def analyse(
    settings: Settings,
    ctx: IngestContext,
    item: Ingested,
    uri: str | None = None,
    on_part: Callable[[str, str], None] | None = None,
    *,
    log_to_driver: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> Outcome:
    """The analysis of ``item``: the cached one of the same bytes and configuration, else a
    new run on Ray. Workers read the local file ``uri`` when they share this machine, else a
    presigned URL of the stored source.

    The model work goes to the warm model services shared by every job
    (``CLIPRAY_WARM_MODELS``), started on the connected cluster where they do not run yet;
    ``on_stage`` hears ``starting model services`` then.

    Raises:
        AnalysisFailedError: the analysis produced no result.
        Conflict: ``MODEL_SERVICES_MISMATCH``, a remote cluster's services load other models.
    """
    cfg = analyze_config(settings)

    def prepare() -> None:
        from clipray.serve.models import ensure_model_services

        say = on_stage or (lambda _msg: None)
        if ensure_model_services(settings, cfg, on_start=lambda: say("starting model services")):
            say("analysing")

    warm = settings.warm_models
    runner = AnalysisRunner(settings, ctx, cfg, log_to_driver=log_to_driver, ray_progress=False,
                            warm=warm, prepare=prepare if warm else None)  # fmt: skip
    (outcome,) = runner.run([(item, _local(uri))], on_part)
    if outcome.analysis is None:
        raise AnalysisFailedError(outcome.error)
    return outcome


def job_library(settings: Settings, ctx: IngestContext, opts: RunOptions,
                analysis: Analysis | None = None) -> Library:  # fmt: skip
    """The workspace's library as the plan of a job with ``broll`` or ``sfx`` on reads it
    (empty when neither is on: nothing is read). With Pexels configured, footage found for
    the talk's topics (its most said words) joins it, ingested into the workspace first."""
    lib = library.for_plan(settings, ctx.db, ctx.workspace_id, opts.broll, opts.sfx)
    stock = stock_footage.pexels(settings, ctx) if opts.broll and analysis is not None else None
    if stock is not None and analysis is not None:
        lib = library.with_footage(lib, stock, topics(analysis.words))
    return lib


def choose(settings: Settings, analysis: Analysis, item: Ingested, opts: RunOptions,
           on_llm_usage: UsageFn | None = None, lib: Library | None = None
           ) -> list[PlannedClip]:  # fmt: skip
    """The clips to render from an analysis: selected, reranked by the LLM when one is
    configured (``on_llm_usage`` hears the tokens it spent), each with its render plan;
    ``lib`` (:func:`job_library`) is what ``broll`` and ``sfx`` choose from (with
    ``beat_sync``, cut to the music's beats)."""
    beats = (music_beats(opts.music, settings, item.source.workspace_id)
             if opts.beat_sync else None)  # fmt: skip
    return plan(analysis, item, opts, versions_of(settings), llm_of(settings), on_llm_usage,
                audiogram_look(settings), lib, beats)  # fmt: skip


def run_main_job(
    settings: Settings,
    ctx: IngestContext,
    uri: str,
    opts: RunOptions,
    on_stage: Callable[[str], None] | None = None,
    *,
    log_to_driver: bool = True,
) -> JobResult:
    """Ingest, analyse (cached), choose, render, in this process (``clipray run``).

    ``log_to_driver=False`` keeps the workers' output off stdout (``--json``).

    Raises:
        AnalysisFailedError: the analysis failed.
    """
    say = on_stage or (lambda _msg: None)
    opts = music_on_bucket(ctx, opts)
    opts = with_brand(ctx.db, ctx.workspace_id, opts)  # an unknown kit is refused up front
    say("ingesting")
    item = ingest_uri(ctx, uri)
    say("analysing")
    outcome = analyse(settings, ctx, item, uri, log_to_driver=log_to_driver, on_stage=say)
    analysis = outcome.analysis
    assert analysis is not None
    lib = job_library(settings, ctx, opts, analysis)
    planned = choose(settings, analysis, item, opts, lib=lib)
    say(f"rendering {len(planned)} clips")
    source = AnalysisRunner(settings, ctx, analyze_config(settings)).worker_uri(item, _local(uri))
    ensure_cover(ctx.db, ctx.workspace_id, item.source.id, analysis, source,
                 settings.ffprobe_bin)  # fmt: skip
    clips = render_all(settings, ctx, item, planned, source, log_to_driver=log_to_driver)
    none = why_no_clips(analysis, opts.select_config()) if not planned else None
    return JobResult(item.source.id, clips, none)


def music_on_bucket(ctx: IngestContext, opts: RunOptions) -> RunOptions:
    """``opts`` with a local music file (``clipray run --music FILE``) stored on the
    workspace's media bucket under a key named by its bytes' hash, and that key in its
    place: every worker of a cluster reads the key, and a file changed at the same path is
    another key, so another render spec (not a reused render of the old track)."""
    path = Path(opts.music) if opts.music else None
    if path is None or not path.is_absolute() or not path.is_file():
        return opts
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    key = f"{ctx.workspace_id}/music/{digest.hexdigest()[:32]}{path.suffix.lower()}"
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    if media.head(key) is None:
        media.put_file(key, path)
    return replace(opts, music=key)


# --- the job runner's steps --------------------------------------------------------------
def job_options(job: Job) -> RunOptions:
    """The job's clip settings, as its creator gave them."""
    return RunOptions(**job.params.get("settings", {}))


def job_moment_id(job_id: str, candidate_id: str) -> str:
    """A moment id of this job's own: each job reviews its own clips, even of one source."""
    return hashlib.blake2b(f"{job_id}|{candidate_id}".encode(), digest_size=16).hexdigest()


def ingest_job(settings: Settings, ctx: IngestContext, job: Job, report: Report
               ) -> dict[str, Any]:  # fmt: skip
    """The job's source stored and recorded: a stored source as is, a media-bucket key or a
    URL validated and ingested (a URL downloaded with yt-dlp first)."""
    src = job.params.get("source", {})
    kind, value = src.get("kind"), src.get("value", "")
    if kind == "id":
        with ctx.db.session() as s:
            source = SourceRepo(s, ctx.workspace_id).get(value)
        if source is None:
            raise NotFound("SOURCE_NOT_FOUND", f"source {value} not found")
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
        raise CodedError("BAD_JOB", f"unknown source kind {kind!r}")
    with ctx.db.session() as s:
        row = JobRepo(s, ctx.workspace_id).get(job.id)
        assert row is not None
        row.source_id = item_id
    return {"source_id": item_id, "created": created}


def _job_source(ctx: IngestContext, job: Job) -> Source:
    with ctx.db.session() as s:
        row = JobRepo(s, ctx.workspace_id).get(job.id)
        source_id = row.source_id if row else None
        source = SourceRepo(s, ctx.workspace_id).get(source_id) if source_id else None
    if source is None:
        raise NotFound("SOURCE_NOT_FOUND", "the job's source is gone")
    return source


def analyze_job(settings: Settings, ctx: IngestContext, job: Job, report: Report
                ) -> dict[str, Any]:  # fmt: skip
    """Analyse the job's source (cached) and choose its clips: the job's pending clips are
    replaced by the new choice, so a retried step leaves no duplicates."""
    source = _job_source(ctx, job)
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    try:
        info = probe(media.presign_get(source.storage_key), settings.ffprobe_bin)
    except ProbeError as exc:
        # The video passed validation when it was stored: failing to read it now is the
        # storage's fault (an object gone or unreachable), which a later attempt may not see.
        why = f"the stored source could not be read: {exc.message}"
        raise Unavailable("SOURCE_UNREADABLE", why) from exc
    item = Ingested(source, info, created=False)
    parts = {"n": 0}

    def on_part(_source_id: str, _what: str) -> None:
        parts["n"] += 1
        # Parts per video are not known up front: approach 90% and leave the rest to planning.
        report(0.9 * (1 - 1 / (1 + parts["n"] / 4)))

    outcome = analyse(settings, ctx, item, None, on_part, log_to_driver=False)
    analysis = outcome.analysis
    assert analysis is not None
    opts = with_brand(ctx.db, ctx.workspace_id, job_options(job))
    tokens: list[tuple[int, int]] = []
    lib = job_library(settings, ctx, opts, analysis)
    planned = choose(settings, analysis, item, opts, lambda p, c: tokens.append((p, c)), lib)
    rows = [planned_row(p, source.id, job_moment_id(job.id, p.moment.id), job.id) for p in planned]
    with ctx.db.session() as s:
        ClipRepo(s, ctx.workspace_id).replace_pending(job.id, rows)
    covered = ensure_cover(ctx.db, ctx.workspace_id, source.id, analysis,
                           media.presign_get(source.storage_key), settings.ffprobe_bin)  # fmt: skip
    detail: dict[str, Any] = {"cached": outcome.cached, "clips": len(rows),
                              "virtual_clips_created": covered}  # fmt: skip
    if not outcome.cached:  # the stages' worker seconds of the analysis this job paid for
        detail["timings"] = dict(analysis.timings)
    if tokens:  # what the LLM re-ranking cost, for the job's usage
        detail["llm_tokens"] = {"prompt": sum(p for p, _ in tokens),
                                "completion": sum(c for _, c in tokens)}  # fmt: skip
    if lib.warnings:  # asked for B-roll or sound effects the library does not have
        detail["warnings"] = list(lib.warnings)
    if not rows:  # the job goes on to review (its virtual clips); the step says why
        detail["no_clips"] = why_no_clips(analysis, opts.select_config()).to_json()
    return detail


def render_job(settings: Settings, ctx: IngestContext, job: Job, report: Report
               ) -> dict[str, Any]:  # fmt: skip
    """Render the job's clips that are not rendered yet, one Ray task each."""
    source = _job_source(ctx, job)
    with ctx.db.session() as s:
        clips = ClipRepo(s, ctx.workspace_id).for_job(job.id)
        todo = [c.id for c in clips if c.status is not ClipStatus.RENDERED]
        if not clips:  # nothing was chosen: say so again, with the analysis' reason
            return {"rendered": 0, "no_clips": _no_clips(JobRepo(s, ctx.workspace_id), job.id)}
    done = render_clips(settings, ctx, source, todo, report, on_ready=webhooks.clip_ready)
    if done.skipped is not None:  # the job goes on to review; the step says why
        log.warning("job %s: %s", job.id, done.skipped)
        return {"rendered": 0, "generated": f"skipped: {done.skipped}"}
    if done.limited and not done.rendered and not done.failed:
        raise Conflict(
            "GENERATED_CLIP_LIMIT",
            f"the workspace is at its limit of {settings.generated_clips_max_live} live "
            "generated clips: keep or delete some, or wait for them to expire, then retry",
        )  # fmt: skip
    if done.failed and not done.rendered:
        raise RenderFailedError(done.failed)
    return {"rendered": done.rendered, "failed": done.failed, "limited": done.limited}


def _no_clips(repo: JobRepo, job_id: str) -> dict[str, str]:
    """The reason the job's last successful analyze step recorded for choosing no clip."""
    job = repo.get(job_id)
    analyzed = [st.detail or {} for st in (repo.steps(job) if job else ())
                if st.name == Step.ANALYZE.value and st.status is StepStatus.SUCCEEDED]  # fmt: skip
    reason = analyzed[-1].get("no_clips") if analyzed else None
    return reason or {"code": "NO_CLIPS_CHOSEN", "message": "the analysis chose no clip"}
