"""The job runner actor on a real local Ray: recovery after it is killed, cancel, retry,
pause. Jobs are created through the HTTP API (TestClient) like a client would."""

from __future__ import annotations

import time

import psutil
import pytest
import ray
from fastapi.testclient import TestClient

from clipray.actors.job_runner import INTERRUPTED, ensure_job_runner, job_runner
from clipray.cluster.services import open_storage
from clipray.serve.app import create_api
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.orm import Job, JobStatus, JobStep, StepStatus, new_id
from tests.apiclient import register, upload
from tests.conftest import MEDIA, cancel_active_jobs
from tests.loudness import assert_on_target

pytestmark = pytest.mark.timeout(900)
SETTINGS = {"max_clips": 1, "min_duration": 3.0, "max_duration": 10.0}


@pytest.fixture(scope="module")
def runner_settings(api_settings):
    # One job at a time: two analyses would each want the 2 CPUs' model pools.
    return api_settings.model_copy(update={"job_runner_concurrency": 1})


@pytest.fixture(scope="module")
def runner(runner_settings, ray_local, api_db):
    cancel_active_jobs(api_db)  # this runner sees only this module's jobs
    handle = ensure_job_runner(runner_settings)
    ray.get(handle.status.remote())
    yield handle
    cancel_active_jobs(api_db)
    ray.kill(job_runner() or handle, no_restart=True)


@pytest.fixture(scope="module")
def client(runner_settings, runner):
    with TestClient(create_api(runner_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def db(api_db):
    return api_db


def poll(fn, timeout: float, every: float = 0.2):  # type: ignore[no-untyped-def]
    """``fn()`` until it returns something truthy (returned), or the last value at timeout."""
    deadline = time.monotonic() + timeout
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


def wait_for(db: Database, job_id: str, statuses: set[JobStatus], timeout: float = 600) -> Job:
    def reached() -> Job | None:
        with db.session() as s:
            job = s.get(Job, job_id)
            return job if job is not None and job.status in statuses else None

    job = poll(reached, timeout)
    assert job is not None, f"job {job_id} never reached {statuses}"
    return job


def steps(db: Database, job_id: str) -> list[tuple[str, int, StepStatus, str | None]]:
    with db.session() as s:
        rows = s.query(JobStep).filter(JobStep.job_id == job_id).order_by(JobStep.created_at)
        return [(r.name, r.attempt, r.status, r.error) for r in rows]


def worker_pid(db: Database, job_id: str) -> int | None:
    with db.session() as s:
        rows = s.query(JobStep).filter(JobStep.job_id == job_id).all()
        pids = [r.detail.get("worker_pid") for r in rows if r.status is StepStatus.RUNNING]
    return next((p for p in pids if p), None)


def probe_the_queue(client, db, acct, runner_settings) -> None:  # type: ignore[no-untyped-def]
    """Queue a job that fails at its first step (its object is not a video) and wait until it
    has failed. The runner starts queued jobs oldest first, so by then it has made a full pass
    over every job that existed before the probe: what it has not started, it passed over."""
    store = open_storage(runner_settings).media.scoped(acct.workspace_id)
    key = object_key(acct.workspace_id, "sources", new_id(), "probe.mp4")
    store.put_bytes(key, b"not a video at all" * 100, content_type="video/mp4")
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_key": key, "settings": SETTINGS}).json()["id"]  # fmt: skip
    wait_for(db, job_id, {JobStatus.FAILED}, timeout=120)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_killed_runner_is_restarted_and_the_job_completes(client, db, runner, short_talk):
    acct = register(client, "recover")
    sid = upload(client, acct, short_talk).json()["source_id"]
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_id": sid, "settings": SETTINGS}).json()["id"]  # fmt: skip
    wait_for(db, job_id, {JobStatus.ANALYZING}, timeout=120)
    old_pid = poll(lambda: worker_pid(db, job_id), 30)  # the analyze attempt is under way
    assert old_pid is not None
    ray.kill(runner, no_restart=False)  # Ray restarts it (max_restarts=-1)
    # The new runner closes the orphaned attempt; its worker sees that and exits, so the
    # old analysis does not compete with the new attempt.
    assert poll(lambda: not alive(old_pid), 60), "the orphaned attempt still runs"

    done = wait_for(db, job_id, {JobStatus.REVIEW, JobStatus.FAILED}, timeout=600)
    assert done.status is JobStatus.REVIEW, done.error
    history = steps(db, job_id)
    assert all(st is not StepStatus.RUNNING for _, _, st, _ in history)
    analyze = [(n, a, st, e) for n, a, st, e in history if n == "analyze"]
    assert analyze[0][2:] == (StepStatus.FAILED, INTERRUPTED)
    assert analyze[-1][2] is StepStatus.SUCCEEDED
    assert [n for n, _, st, _ in history if st is StepStatus.SUCCEEDED] == [
        "ingest", "analyze", "render"]  # fmt: skip
    restarted = job_runner()
    assert restarted is not None
    status = ray.get(restarted.status.remote())
    assert status["recovered"]
    # what the restarted runner exported as Ray metrics, as it reads them back
    assert status["counts"]["job.review"] == 1
    assert status["counts"]["step.analyze.succeeded"] == 1
    clips = client.get(f"/api/clips?job_id={job_id}", headers=acct.headers).json()
    assert clips["total"] == 1
    assert clips["data"][0]["status"] == "rendered"
    got = client.get(f"/api/clips/{clips['data'][0]['id']}/download", headers=acct.headers,
                     follow_redirects=False)  # fmt: skip
    assert got.status_code in (302, 307)
    assert_on_target(got.headers["location"])


def test_cancel_stops_the_running_work(client, db, runner, runner_settings, short_talk):
    acct = register(client, "cancel")
    sid = upload(client, acct, short_talk).json()["source_id"]
    # other settings than the recovery test: the analysis is cached, selection is not
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_id": sid, "settings": SETTINGS}).json()["id"]  # fmt: skip
    wait_for(db, job_id, {JobStatus.ANALYZING}, timeout=120)
    pid = poll(lambda: worker_pid(db, job_id), 30)
    assert pid is not None
    assert alive(pid)
    resp = client.delete(f"/api/jobs/{job_id}", headers=acct.headers)
    assert resp.json()["status"] == "cancelled"
    settled = lambda: all(st is not StepStatus.RUNNING for _, _, st, _ in steps(db, job_id))  # noqa: E731
    assert poll(settled, 60)
    history = steps(db, job_id)
    assert history[-1][2] is StepStatus.CANCELLED
    gone = poll(lambda: not alive(pid), 30)
    assert gone, "the step's worker (and the analysis it drives) still runs"
    probe_the_queue(client, db, acct, runner_settings)  # the runner passed over it: no restart
    assert wait_for(db, job_id, {JobStatus.CANCELLED}, timeout=1).status is JobStatus.CANCELLED
    assert len(steps(db, job_id)) == len(history)


def test_a_failed_step_is_retried_from_where_it_failed(client, db, runner, runner_settings):
    acct = register(client, "retry")
    store = open_storage(runner_settings).media.scoped(acct.workspace_id)
    key = object_key(acct.workspace_id, "sources", new_id(), "dropped.mp4")
    store.put_bytes(key, b"not a video at all" * 100, content_type="video/mp4")
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_key": key, "settings": SETTINGS}).json()["id"]  # fmt: skip
    failed = wait_for(db, job_id, {JobStatus.FAILED}, timeout=120)
    history = steps(db, job_id)
    assert [(n, a, st) for n, a, st, _ in history] == [("ingest", 1, StepStatus.FAILED)]
    assert failed.error == history[0][3]  # the job says why: its failed attempt's error
    job = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    assert job["steps"][0]["detail"]["code"] == "MEDIA_NOT_A_VIDEO"  # not retried: bad input

    # The object is replaced by a real video; retry runs ingest again (attempt 2).
    store.put_file(key, MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4")
    assert client.post(f"/api/jobs/{job_id}/retry", headers=acct.headers
                       ).json()["status"] == "ingesting"  # fmt: skip
    wait_for(db, job_id, {JobStatus.ANALYZING, JobStatus.CLIPS_GENERATED, JobStatus.RENDERING,
                          JobStatus.REVIEW}, timeout=120)  # fmt: skip
    assert steps(db, job_id)[1][:3] == ("ingest", 2, StepStatus.SUCCEEDED)
    client.delete(f"/api/jobs/{job_id}", headers=acct.headers)
    wait_for(db, job_id, {JobStatus.CANCELLED, JobStatus.REVIEW}, timeout=60)


def test_a_paused_job_starts_no_step_until_resumed(client, db, runner, runner_settings,
                                                    short_talk):  # fmt: skip
    acct = register(client, "pause")
    sid = upload(client, acct, short_talk).json()["source_id"]
    with db.session() as s:  # created paused, as if paused before the runner looked
        job = Job(workspace_id=acct.workspace_id, kind="clips", source_id=sid, paused=True,
                  created_by=acct.id, params={"source": {"kind": "id", "value": sid},
                                              "settings": SETTINGS})  # fmt: skip
        s.add(job)
    probe_the_queue(client, db, acct, runner_settings)  # a job queued after it ran first
    assert steps(db, job.id) == []
    client.post(f"/api/jobs/{job.id}/resume", headers=acct.headers)
    wait_for(db, job.id, {JobStatus.INGESTING, JobStatus.ANALYZING}, timeout=60)
    client.delete(f"/api/jobs/{job.id}", headers=acct.headers)
    wait_for(db, job.id, {JobStatus.CANCELLED}, timeout=60)
    settled = lambda: all(st is not StepStatus.RUNNING for _, _, st, _ in steps(db, job.id))  # noqa: E731
    assert poll(settled, 60)


def test_a_retryable_failure_is_retried_after_the_backoff(client, db, runner, runner_settings):
    """The stored video vanishes after ingest: the analysis fails (retryable), is tried again
    after the policy's backoff, and the job fails once the attempts are spent."""
    from clipray.jobs.machine import STEP_POLICIES, Step
    from clipray.storage.orm import Source

    acct = register(client, "backoff")
    sid = upload(client, acct, MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"
                 ).json()["source_id"]  # fmt: skip
    with db.session() as s:
        key = s.get(Source, sid).storage_key
    open_storage(runner_settings).media.scoped(acct.workspace_id).delete(key)
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_id": sid, "settings": SETTINGS}).json()["id"]  # fmt: skip
    failed = wait_for(db, job_id, {JobStatus.FAILED}, timeout=180)
    with db.session() as s:
        rows = (s.query(JobStep).filter(JobStep.job_id == job_id, JobStep.name == "analyze")
                .order_by(JobStep.attempt).all())  # fmt: skip
        attempts = [(r.attempt, r.status, r.started_at, r.finished_at) for r in rows]
    policy = STEP_POLICIES[Step.ANALYZE]
    assert [(a, st) for a, st, _, _ in attempts] == [
        (n, StepStatus.FAILED) for n in range(1, policy.max_attempts + 1)]  # fmt: skip
    # the second attempt waited at least the first backoff (less its jitter)
    gap = (attempts[1][2] - attempts[0][3]).total_seconds()
    assert gap >= policy.base_delay_s * (1 - policy.jitter) - 0.05
    assert failed.error


def test_an_export_cut_short_by_a_runner_restart_is_finished_by_the_next(client, db, runner,
                                                                         short_talk):  # fmt: skip
    """The runner builds the proxy and exports an approved clip; an export that was running
    when the runner died is queued again by the restarted runner and done by stream copy."""
    from clipray.storage.orm import ClipExport, ExportStatus, ReviewStatus, Source
    from clipray.storage.vclips import CoverRepo, claim_export

    acct = register(client, "export-recover")
    sid = upload(client, acct, short_talk).json()["source_id"]
    with db.session() as s:  # the cover the analysis makes (16 s at 25 fps, a cut at 8 s)
        repo = CoverRepo(s, acct.workspace_id)
        repo.create_cover(s.get(Source, sid), 400, "25/1", [200])
        clip = repo.live(sid)[1]
        export = repo.review(clip, ReviewStatus.APPROVED, acct.id)
        s.flush()
        assert claim_export(s, export.id) == 1  # a worker took it, then its runner died
        export_id, frames = export.id, clip.end_frame - clip.start_frame
    ray.kill(runner, no_restart=False)

    def finished() -> ClipExport | None:
        with db.session() as s:
            row = s.get(ClipExport, export_id)
            return row if row.status in (ExportStatus.DONE, ExportStatus.FAILED) else None

    row = poll(finished, 300, every=0.5)
    assert row is not None, "the export never finished"
    assert (row.status, row.method, row.frames) == (ExportStatus.DONE, "copy", frames), row.error
    assert row.attempt == 2
    assert row.duration_s == pytest.approx(frames / 25, abs=1e-3)
    with db.session() as s:
        assert s.get(Source, sid).proxy_key is not None
    # The task records its row before the runner reaps it: the counts follow a tick later.
    def counted() -> dict | None:
        counts = ray.get(job_runner().status.remote())["counts"]
        return counts if counts.get("export.done", 0) >= 1 else None

    counts = poll(counted, 60, every=0.5)
    assert counts is not None, "the runner never counted the export"
    assert counts["proxy.done"] >= 1


def test_a_job_that_chooses_no_clip_says_why_in_its_job_view(client, db, runner, short_talk):
    """The 16 s talk holds about 10 s of speech: no clip can last 20-30 s. The job still
    reaches review (its virtual clips), and its analyze and render steps say why it has no
    clip, in the job view a client reads."""
    acct = register(client, "no-clip")
    sid = upload(client, acct, short_talk).json()["source_id"]
    settings = {"max_clips": 1, "min_duration": 20.0, "max_duration": 30.0}
    job_id = client.post("/api/jobs", headers=acct.headers,
                         json={"source_id": sid, "settings": settings}).json()["id"]  # fmt: skip
    done = wait_for(db, job_id, {JobStatus.REVIEW, JobStatus.FAILED}, timeout=600)
    assert done.status is JobStatus.REVIEW, done.error
    view = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    detail = {st["name"]: st["detail"] for st in view["steps"] if st["status"] == "succeeded"}
    assert detail["analyze"]["clips"] == 0
    assert detail["analyze"]["no_clips"]["code"] == "SPEECH_TOO_SHORT"
    assert "shorter than the shortest clip" in detail["analyze"]["no_clips"]["message"]
    assert detail["render"]["no_clips"] == detail["analyze"]["no_clips"]
    assert client.get(f"/api/clips?job_id={job_id}", headers=acct.headers).json()["total"] == 0
