"""``job.review`` through the real job runner: a job finishing its render step moves into
review, which queues the delivery in the same transaction; the runner then delivers it as
Ray work to a receiver on a loopback port, signed with the subscription's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import ray
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import select

from clipray.actors.job_runner import ensure_job_runner, job_runner
from clipray.jobs.machine import JOB_KIND
from clipray.serve.app import create_api
from clipray.storage.orm import (
    Job,
    JobStatus,
    Source,
    SourceOrigin,
    WebhookDelivery,
)
from clipray.storage.repos import JobRepo
from tests.apiclient import register
from tests.conftest import cancel_active_jobs
from tests.publish.harness import serve_fake

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def runner_settings(api_settings):
    # The receiver listens on loopback: allowed here as the fetch tests allow it.
    return api_settings.model_copy(update={"job_runner_concurrency": 1,
                                           "url_allow_private": True})  # fmt: skip


@pytest.fixture(scope="module")
def runner(runner_settings, ray_local, api_db):
    cancel_active_jobs(api_db)
    handle = ensure_job_runner(runner_settings)
    ray.get(handle.status.remote())
    yield handle
    cancel_active_jobs(api_db)
    ray.kill(job_runner() or handle, no_restart=True)


def _job_in_rendering(db, workspace_id: str) -> str:
    """A job whose render step has nothing to render (no clips were chosen): the step
    succeeds at once and the job moves into review, as one that chose no clip does."""
    with db.session() as s:
        src = Source(workspace_id=workspace_id, origin=SourceOrigin.UPLOAD, storage_key="k",
                     sha256=uuid.uuid4().hex, size_bytes=1, duration_s=16.0)  # fmt: skip
        s.add(src)
        s.flush()
        job = JobRepo(s, workspace_id).create(JOB_KIND, {}, src.id)
        job.status = JobStatus.RENDERING
        return job.id


def test_a_job_entering_review_is_delivered_to_its_subscriber(runner_settings, runner, api_db):
    got: list[tuple[dict[str, str], bytes]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        got.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    with TestClient(create_api(runner_settings)) as client, serve_fake(receiver) as base:
        admin = register(client, "wh-runner")
        sub = client.post("/api/webhooks/subscribe", headers=admin.headers,
                          json={"url": f"{base}/hook", "events": ["job.review"]})  # fmt: skip
        assert sub.status_code == 201, sub.text
        secret = sub.json()["secret"]
        job_id = _job_in_rendering(api_db, admin.workspace_id)
        runner.wake.remote()
        deadline = time.monotonic() + 180
        while not got and time.monotonic() < deadline:
            time.sleep(0.2)
        assert got, "no job.review delivery reached the subscriber within 180 s"
        log = client.get(f"/api/webhooks/subscriptions/{sub.json()['id']}/deliveries",
                         headers=admin.headers).json()["data"]  # fmt: skip
    headers, body = got[0]
    ts = headers["x-clipray-timestamp"]
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-clipray-signature"], "sha256=" + mac)
    doc = json.loads(body)
    assert (doc["event"], doc["data"]["job_id"]) == ("job.review", job_id)
    assert headers["x-clipray-event"] == "job.review"
    with api_db.session() as s:
        assert s.get(Job, job_id).status is JobStatus.REVIEW
        rows = s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.json()["id"])
        ).all()
        assert len(rows) == 1
    assert [d["event"] for d in log] == ["job.review"]
    assert len(got) == 1
