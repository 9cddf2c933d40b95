"""Batch analysis of every video under a bucket prefix, for data engineers.

One streaming Ray Data pipeline runs over all videos that are not analysed yet; a video
that fails (unreadable, corrupt, a stage error) is recorded with its reason as a step of the
batch's job and never aborts the batch. Also runnable as a Ray job:

    ray job submit -- python -m clipray.pipelines.batch s3://bucket/prefix/ --workspace W
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

from clipray.cluster.services import ensure_workspace, open_database, open_storage
from clipray.config import Settings, get_settings
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.ingest import IngestContext, IngestError, ingest
from clipray.pipelines.runner import AnalysisRunner, ProgressFn
from clipray.storage.orm import JobStatus, StepStatus
from clipray.storage.repos import JobRepo


@dataclass
class BatchSummary:
    job_id: str
    analysed: list[str] = field(default_factory=list)
    """URIs analysed in this run."""
    skipped: list[str] = field(default_factory=list)
    """URIs whose bytes were already analysed with this configuration."""
    failed: dict[str, str] = field(default_factory=dict)
    """URI -> why it failed."""


def list_videos(settings: Settings, prefix_uri: str) -> list[str]:
    """``s3://`` URIs of the objects under ``prefix_uri`` (folders and empty objects skipped)."""
    parsed = urlparse(prefix_uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise IngestError(f"{prefix_uri!r} is not an s3://bucket/prefix/ URI")
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    client = open_storage(settings).media.client
    uris: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/") and obj["Size"] > 0:
                uris.append(f"s3://{bucket}/{obj['Key']}")
    return uris


def run_batch(
    settings: Settings,
    prefix_uri: str,
    on_video: Callable[[str, str], None] | None = None,
    progress: ProgressFn | None = None,
) -> BatchSummary:
    """Ingest and analyse every video under ``prefix_uri`` into ``settings.workspace``."""
    db = open_database(settings)
    try:
        buckets = open_storage(settings)
        ws = ensure_workspace(db, settings.workspace)
        ctx = IngestContext.of(settings, buckets, db, ws.id)
        uris = list_videos(settings, prefix_uri)
        position = {uri: i for i, uri in enumerate(uris)}
        with db.session() as s:
            jobs = JobRepo(s, ws.id)
            job = jobs.create("batch", {"prefix": prefix_uri, "videos": len(uris)})
            jobs.set_status(job, JobStatus.ANALYZING)
        summary = BatchSummary(job.id)

        def step(uri: str, status: StepStatus, error: str | None = None) -> None:
            with db.session() as s:
                jobs = JobRepo(s, ws.id)
                j = jobs.get(job.id)
                assert j is not None
                st = jobs.start_step(j, f"video-{position[uri]:05d}")
                jobs.finish_step(st, status, error=error, detail={"uri": uri})
            if on_video:
                on_video(uri, status.value if error is None else f"failed: {error}")

        items = []
        by_source: dict[str, list[str]] = {}
        for uri in uris:
            try:
                got = ingest(ctx, uri)
            except IngestError as exc:
                summary.failed[uri] = str(exc)
                step(uri, StepStatus.FAILED, str(exc))
                continue
            if got.source.id not in by_source:
                items.append((got, None))
            by_source.setdefault(got.source.id, []).append(uri)

        runner = AnalysisRunner(settings, ctx, analyze_config(settings))
        for outcome in runner.run(items, progress):
            for uri in by_source[outcome.source_id]:
                if outcome.error:
                    summary.failed[uri] = outcome.error
                    step(uri, StepStatus.FAILED, outcome.error)
                elif outcome.cached:
                    summary.skipped.append(uri)
                    step(uri, StepStatus.SKIPPED)
                else:
                    summary.analysed.append(uri)
                    step(uri, StepStatus.SUCCEEDED)
        with db.session() as s:
            jobs = JobRepo(s, ws.id)
            j = jobs.get(job.id)
            assert j is not None
            j.progress = 1.0
            failed = (
                f"{len(summary.failed)} of {len(uris)} videos failed" if summary.failed else None
            )
            jobs.set_status(j, JobStatus.COMPLETED, error=failed)
        return summary
    finally:
        db.dispose()


def summary_lines(summary: BatchSummary) -> Iterator[str]:
    yield (
        f"batch {summary.job_id}: {len(summary.analysed)} analysed, "
        f"{len(summary.skipped)} already analysed, {len(summary.failed)} failed"
    )
    for uri, why in summary.failed.items():
        yield f"  failed {uri}: {why}"


def main(argv: list[str] | None = None) -> int:
    """``python -m clipray.pipelines.batch`` (what ``ray job submit`` runs)."""
    parser = argparse.ArgumentParser(prog="python -m clipray.pipelines.batch")
    parser.add_argument("prefix", help="s3://bucket/prefix/ holding the videos")
    parser.add_argument("--workspace", default=None, help="workspace slug (default: local)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.workspace:
        settings = settings.model_copy(update={"workspace": args.workspace})
    summary = run_batch(
        settings, args.prefix, on_video=lambda uri, status: print(f"{status}: {uri}", flush=True)
    )
    print(json.dumps(asdict(summary)) if args.json else "\n".join(summary_lines(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
