"""Without a reachable app-owned bucket a job still reaches review, and its render step says
why no generated clip was stored (real Ray runner, real SeaweedFS without that bucket)."""

from __future__ import annotations

import uuid

import pytest
import ray
from fastapi.testclient import TestClient

from clipray.actors.job_runner import ensure_job_runner, job_runner
from clipray.serve.app import create_api
from clipray.storage.orm import JobStatus, JobStep
from tests.actors.test_job_runner import SETTINGS, wait_for
from tests.apiclient import register, upload
from tests.conftest import cancel_active_jobs

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def degraded(api_settings):
    # A bucket name that nobody created: the S3 server answers, the bucket is missing.
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    return api_settings.model_copy(
        update={"job_runner_concurrency": 1, "generated_bucket": missing}
    )


@pytest.fixture(scope="module")
def runner(degraded, ray_local, api_db):
    cancel_active_jobs(api_db)
    old = job_runner()
    if old is not None:  # a runner of another module would run this module's jobs
        ray.kill(old, no_restart=True)
    handle = ensure_job_runner(degraded)
    ray.get(handle.status.remote())
    yield handle
    cancel_active_jobs(api_db)
    ray.kill(job_runner() or handle, no_restart=True)


def test_a_job_reaches_review_and_its_step_says_why_nothing_was_generated(
    degraded, runner, api_db, short_talk
):
    with TestClient(create_api(degraded)) as client:
        acct = register(client, "degraded")
        sid = upload(client, acct, short_talk).json()["source_id"]
        body = {"source_id": sid, "settings": SETTINGS}
        job_id = client.post("/api/jobs", headers=acct.headers, json=body).json()["id"]
        done = wait_for(api_db, job_id, {JobStatus.REVIEW, JobStatus.FAILED}, timeout=600)
        assert done.status is JobStatus.REVIEW, done.error
        with api_db.session() as s:
            render = s.query(JobStep).filter_by(job_id=job_id, name="render").one()
            detail = render.detail
        assert detail["rendered"] == 0
        assert detail["generated"].startswith("skipped: the app-owned bucket missing-")
        assert "does not exist" in detail["generated"]
        job = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
        assert [s["status"] for s in job["steps"]] == ["succeeded"] * 3
        assert client.get("/api/generated-clips", headers=acct.headers).json()["total"] == 0
        health = client.get("/api/health")
        assert health.status_code == 200, health.text  # degraded, not down
        assert health.json()["status"] == "degraded"
        assert "does not exist" in health.json()["checks"]["generated_clips"]
        # the rest of the product works: the job's virtual clips are there to review
        cover = client.get(f"/api/sources/{sid}/clips", headers=acct.headers)
        assert cover.status_code == 200, cover.text
