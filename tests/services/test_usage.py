"""The usage service's queries on SQLite and PostgreSQL alike (sums come back as Decimal on
PostgreSQL): a month's jobs within its bounds, clips on the bucket only, a shared source once,
the quota counts. Rows as the job runner and the render step write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clipray.config import Settings
from clipray.domain.enums import GeneratedKind
from clipray.services.usage import job_usage, month_usage
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    Job,
    JobStatus,
    JobStep,
    Source,
    SourceOrigin,
    StepStatus,
    UploadReservation,
    Workspace,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SETTINGS = Settings(quota_minutes_per_month=100, quota_storage_bytes=10_000_000,
                    quota_concurrent_jobs=4)  # fmt: skip


def world(s) -> tuple[str, dict[str, Job]]:
    ws = Workspace(slug="usage-svc", name="usage", max_minutes_per_month=50)
    s.add(ws)
    s.flush()
    src = Source(workspace_id=ws.id, origin=SourceOrigin.UPLOAD, storage_key="k/v.mp4",
                 sha256="b" * 64, size_bytes=2_000_000, duration_s=120.0)  # fmt: skip
    s.add(src)
    s.flush()
    jobs = {}
    for name, created, status in (
        ("feb", datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC), JobStatus.REVIEW),
        ("mar-1", datetime(2026, 3, 1, tzinfo=UTC), JobStatus.REVIEW),
        ("mar-2", datetime(2026, 3, 14, tzinfo=UTC), JobStatus.ANALYZING),
        ("apr", datetime(2026, 4, 1, tzinfo=UTC), JobStatus.CREATED),
    ):
        job = Job(workspace_id=ws.id, kind="clips", status=status, source_id=src.id,
                  created_at=created, params={})  # fmt: skip
        s.add(job)
        s.flush()
        jobs[name] = job
    t0 = datetime(2026, 3, 14, 10, tzinfo=UTC)
    s.add_all([
        JobStep(job_id=jobs["mar-1"].id, name="ingest", attempt=1, status=StepStatus.SUCCEEDED,
                started_at=t0, finished_at=t0 + timedelta(seconds=2), detail={"seconds": 2.0}),
        JobStep(job_id=jobs["mar-1"].id, name="analyze", attempt=1, status=StepStatus.SUCCEEDED,
                started_at=t0, finished_at=t0 + timedelta(seconds=9),
                detail={"seconds": 9.0, "cached": False, "timings": {"asr": 3.0, "merge": 1.0},
                        "llm_tokens": {"prompt": 10, "completion": 2}}),
        # still running: its time so far counts
        JobStep(job_id=jobs["mar-2"].id, name="ingest", attempt=1, status=StepStatus.RUNNING,
                started_at=NOW - timedelta(seconds=30)),
    ])  # fmt: skip
    for n, purged in enumerate((None, NOW)):
        gen = GeneratedClip(workspace_id=ws.id, source_id=src.id, candidate_id=f"c-{n}",
                            kind=GeneratedKind.HEURISTIC, storage_key=f"k/{n}.mp4",
                            size_bytes=300_000, purged_at=purged)  # fmt: skip
        s.add(gen)
        s.flush()
        s.add(Clip(workspace_id=ws.id, source_id=src.id, job_id=jobs["mar-1"].id,
                   moment_id=f"{n}" * 32, status=ClipStatus.RENDERED, start_s=0.0, end_s=5.0,
                   score=1.0, spec_hash=f"{n}" * 64, generated_clip_id=gen.id))  # fmt: skip
    s.add(UploadReservation(workspace_id=ws.id, storage_key="k/up.mp4", size_bytes=1_000_000,
                            expires_at=NOW + timedelta(hours=1)))  # fmt: skip
    s.flush()
    return ws.id, jobs


def test_a_job_on_both_databases(session):
    _, jobs = world(session)
    used = job_usage(SETTINGS, session, jobs["mar-1"], NOW).to_json()
    assert used["steps"] == {"ingest": 2.0, "analyze": 9.0}
    assert used["bytes_stored"] == {"source": 2_000_000, "clips": 300_000, "total": 2_300_000}
    assert used["stages"]["asr"]["cpu_seconds"] == 3.0 * SETTINGS.stage("asr").num_cpus
    assert used["llm_tokens"] == {"prompt": 10, "completion": 2}
    running = job_usage(SETTINGS, session, jobs["mar-2"], NOW).to_json()
    assert running["steps"] == {"ingest": 30.0}
    assert running["cached"] is None


def test_the_month_holds_its_own_jobs_only(session):
    ws_id, jobs = world(session)
    got = month_usage(SETTINGS, session, ws_id, "2026-03", NOW).to_json()
    one = job_usage(SETTINGS, session, jobs["mar-1"], NOW)
    two = job_usage(SETTINGS, session, jobs["mar-2"], NOW)
    assert got["month"] == "2026-03"
    assert got["jobs"] == 2  # not February's last second, not April's first
    assert got["source_minutes"] == 4.0  # two jobs of a 2-minute source
    assert got["cpu_seconds"] == round(one.cpu_seconds + two.cpu_seconds, 3)
    assert got["bytes_stored"] == {"source": 2_000_000, "clips": 300_000, "total": 2_300_000}
    assert got["llm_tokens"] == {"prompt": 10, "completion": 2}
    assert got["quotas"] == {
        "minutes_per_month": {"limit": 50, "used": 4.0, "left": 46.0},  # the workspace's own
        "storage_bytes": {"limit": 10_000_000, "used": 3_000_000, "left": 7_000_000},
        "concurrent_jobs": {"limit": 4, "used": 2, "left": 2},  # analyzing and created
    }
    feb = month_usage(SETTINGS, session, ws_id, "2026-02", NOW).to_json()
    assert (feb["jobs"], feb["source_minutes"], feb["cpu_seconds"]) == (1, 2.0, 0.0)
    assert month_usage(SETTINGS, session, ws_id, None, NOW).to_json()["month"] == "2026-03"
