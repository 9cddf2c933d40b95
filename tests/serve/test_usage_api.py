"""Usage routes against the plain FastAPI app: real SQLite and S3, no Ray; the job's rows are
written as the job runner and the render step write them (a real job: tests/actors/
test_job_usage.py). Who may read, the month's bounds and refusals, the quotas a workspace
overrides, and the figures of a job whose analysis was recorded before steps kept timings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from clipray.domain.enums import GeneratedKind
from clipray.serve.app import create_api
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
    Workspace,
    utcnow,
)
from clipray.storage.repos import AnalysisRepo
from tests.apiclient import Account, register

TIMINGS = {"decode+scenes": 4.0, "audio": 1.0, "asr": 6.0, "faces": 2.0, "merge": 0.5}


@pytest.fixture(scope="module")
def client(api_settings):
    with TestClient(create_api(api_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def acct(client) -> Account:
    return register(client, "usage-api")


@pytest.fixture(scope="module")
def job_id(acct, api_db) -> str:
    """A job in review from last month's first day: ingest, an analyze attempt interrupted
    and one that analysed (its detail without timings: the analysis row holds them), a
    render, one clip stored on the app-owned bucket and one purged."""
    now = utcnow()
    created = (now.replace(day=1) - timedelta(days=1)).replace(day=1, hour=12)
    with api_db.session() as s:
        src = Source(workspace_id=acct.workspace_id, origin=SourceOrigin.UPLOAD,
                     storage_key=f"{acct.workspace_id}/sources/x/v.mp4", sha256="a" * 64,
                     size_bytes=5_000_000, duration_s=90.0)  # fmt: skip
        s.add(src)
        s.flush()
        job = Job(workspace_id=acct.workspace_id, kind="clips", status=JobStatus.REVIEW,
                  source_id=src.id, created_at=created,
                  params={"source": {"kind": "id", "value": src.id}, "settings": {}})  # fmt: skip
        s.add(job)
        s.flush()
        t0 = created + timedelta(minutes=1)

        def step(name: str, attempt: int, start: float, took: float, status: StepStatus,
                 detail: dict) -> JobStep:  # fmt: skip
            return JobStep(job_id=job.id, name=name, attempt=attempt, status=status,
                           created_at=t0 + timedelta(seconds=start),
                           started_at=t0 + timedelta(seconds=start),
                           finished_at=t0 + timedelta(seconds=start + took),
                           detail=detail)  # fmt: skip

        s.add_all([
            step("ingest", 1, 0, 1.25, StepStatus.SUCCEEDED, {"seconds": 1.25, "created": False}),
            # closed by a restarted runner: no measure of its own, its timestamps count
            step("analyze", 1, 2, 7.5, StepStatus.FAILED, {"interrupted": True}),
            step("analyze", 2, 10, 20.0, StepStatus.SUCCEEDED,
                 {"seconds": 20.0, "cached": False, "clips": 2,
                  "llm_tokens": {"prompt": 500, "completion": 20}}),
            step("render", 1, 31, 4.0, StepStatus.SUCCEEDED, {"seconds": 4.0, "rendered": 1}),
        ])  # fmt: skip
        AnalysisRepo(s, acct.workspace_id).record(
            src, "f" * 64, artifact_key="k/analysis.json", summary={"timings": TIMINGS})
        for n, purged in enumerate((None, now)):
            gen = GeneratedClip(workspace_id=acct.workspace_id, source_id=src.id,
                                candidate_id=f"cand-{job.id}-{n}", kind=GeneratedKind.HEURISTIC,
                                storage_key=f"k/{n}.mp4", size_bytes=700_000 + n,
                                purged_at=purged)  # fmt: skip
            s.add(gen)
            s.flush()
            s.add(Clip(workspace_id=acct.workspace_id, source_id=src.id, job_id=job.id,
                       moment_id=f"{n}{job.id[1:]}", status=ClipStatus.RENDERED, start_s=1.0,
                       end_s=9.0, score=0.5, spec_hash=f"{n}{job.id}".ljust(64, "0"),
                       generated_clip_id=gen.id))  # fmt: skip
        return job.id


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


def test_a_jobs_usage_adds_up_to_its_attempts(client, acct, job_id, api_settings):
    view = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    got = client.get(f"/api/jobs/{job_id}/usage", headers=acct.headers)
    assert got.status_code == 200, got.text
    u = got.json()
    by_step: dict[str, float] = {}
    for st in view["steps"]:
        seconds = st["detail"].get("seconds", st["duration_s"])
        by_step[st["name"]] = by_step.get(st["name"], 0.0) + seconds
    assert u["steps"] == pytest.approx(by_step, abs=1e-3)
    assert u["steps"] == {"ingest": 1.25, "analyze": 27.5, "render": 4.0}
    assert (u["job_id"], u["status"], u["cached"]) == (job_id, "review", False)
    # the analyze detail kept no timings: the analysis row's are used
    assert {k: v["seconds"] for k, v in u["stages"].items()} == {
        "job_step": 32.75, "asr": 6.0, "audio": 1.0, "decode": 4.0, "faces": 2.0, "merge": 0.5,
        "render": 4.0}  # fmt: skip
    stages = u["stages"].items()
    expected_cpu = sum(s["seconds"] * api_settings.stage(n).num_cpus for n, s in stages)
    assert u["cpu_seconds"] == pytest.approx(expected_cpu, abs=1e-3)
    assert u["cpu_seconds"] == pytest.approx(sum(s["cpu_seconds"] for s in u["stages"].values()))
    assert u["bytes_stored"] == {"source": 5_000_000, "clips": 700_000, "total": 5_700_000}
    assert u["llm_tokens"] == {"prompt": 500, "completion": 20}


def test_a_viewer_reads_usage_and_another_workspace_cannot(client, acct, job_id):
    viewer = register(client, "usage-viewer")
    added = client.post(f"/api/workspaces/{acct.workspace_id}/members", headers=acct.headers,
                        json={"email": viewer.email, "role": "viewer"})  # fmt: skip
    assert added.status_code == 201, added.text
    as_member = {**viewer.headers, "X-Workspace-Id": acct.workspace_id}
    assert client.get(f"/api/jobs/{job_id}/usage", headers=as_member).status_code == 200
    assert client.get("/api/usage", headers=as_member).json()["workspace_id"] == acct.workspace_id
    assert_error(client.get(f"/api/jobs/{job_id}/usage", headers=viewer.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert_error(client.get("/api/jobs/" + "0" * 32 + "/usage", headers=acct.headers), 404,
                 "JOB_NOT_FOUND")  # fmt: skip
    assert_error(client.get("/api/usage"), 401, "UNAUTHORIZED")


def test_the_month_of_the_job_sums_it_and_this_month_is_empty(client, acct, job_id, api_db):
    job = client.get(f"/api/jobs/{job_id}/usage", headers=acct.headers).json()
    created = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()["created_at"]
    month = created[:7]
    got = client.get(f"/api/usage?month={month}", headers=acct.headers).json()
    assert (got["month"], got["jobs"], got["source_minutes"]) == (month, 1, 1.5)
    assert (got["cpu_seconds"], got["gpu_seconds"]) == (job["cpu_seconds"], job["gpu_seconds"])
    assert got["bytes_stored"] == job["bytes_stored"]
    assert got["llm_tokens"] == job["llm_tokens"]
    # last month's minutes are not this month's: this month is empty, its minutes all left
    now = client.get("/api/usage", headers=acct.headers).json()
    assert now["month"] != month
    assert (now["jobs"], now["source_minutes"], now["cpu_seconds"]) == (0, 0.0, 0.0)
    assert now["quotas"]["minutes_per_month"]["left"] == now["quotas"]["minutes_per_month"][
        "limit"]  # fmt: skip
    assert now["quotas"]["storage_bytes"]["used"] == 5_000_000  # storage is counted as it is now


def test_a_fresh_workspace_has_zeros_and_every_quota_left(client, api_settings):
    fresh = register(client, "usage-fresh")
    got = client.get("/api/usage", headers=fresh.headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["jobs"], body["source_minutes"], body["cpu_seconds"], body["gpu_seconds"]) == (
        0, 0.0, 0.0, 0.0)  # fmt: skip
    assert body["bytes_stored"] == {"source": 0, "clips": 0, "total": 0}
    assert body["llm_tokens"] == {"prompt": 0, "completion": 0}
    full = {"minutes_per_month": api_settings.quota_minutes_per_month,
            "storage_bytes": api_settings.quota_storage_bytes,
            "concurrent_jobs": api_settings.quota_concurrent_jobs}  # fmt: skip
    assert body["quotas"] == {k: {"limit": v, "used": 0, "left": v} for k, v in full.items()}


def test_a_workspaces_own_quotas_are_reported(client, api_db):
    own = register(client, "usage-own")
    with api_db.session() as s:
        s.execute(update(Workspace).where(Workspace.id == own.workspace_id)
                  .values(max_concurrent_jobs=2, max_minutes_per_month=30,
                          max_storage_bytes=10_000))  # fmt: skip
    q = client.get("/api/usage", headers=own.headers).json()["quotas"]
    assert {k: v["limit"] for k, v in q.items()} == {
        "minutes_per_month": 30, "storage_bytes": 10_000, "concurrent_jobs": 2}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "last", "2026-01-01", "0000-05"])
def test_a_malformed_month_is_422(client, acct, month):
    assert_error(client.get(f"/api/usage?month={month}", headers=acct.headers), 422,
                 "MONTH_INVALID")  # fmt: skip


def test_an_unknown_parameter_is_refused(client, acct):
    assert_error(client.get("/api/usage?from=2026-01", headers=acct.headers), 422,
                 "VALIDATION_ERROR")  # fmt: skip


def test_both_routes_are_documented(client):
    spec = client.get("/openapi.json").json()
    for path, schema in (("/api/usage", "WorkspaceUsageOut"),
                         ("/api/jobs/{job_id}/usage", "JobUsageOut")):  # fmt: skip
        responses = spec["paths"][path]["get"]["responses"]
        ok = responses["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"] == f"#/components/schemas/{schema}"
        error = responses["default"]["content"]["application/json"]["schema"]
        assert error["$ref"] == "#/components/schemas/ErrorResponse"
