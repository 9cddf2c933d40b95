"""Admission against the real warm model services (Ray, Serve, the job runner): with the
hard queue limit at 1, a job's analysis in flight makes the next ``POST /api/jobs`` a 429
with ``Retry-After``, and once its queue has drained the same request is accepted. Every
decision shows on the cluster's metrics endpoint as admitted, queued or rejected counts per
service."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from clipray.jobs.admission import Verdict
from clipray.jobs.machine import ACTIVE
from clipray.services import admission
from clipray.storage.orm import Job, JobStatus
from tests.actors.test_job_runner import SETTINGS, client, db, runner, wait_for  # noqa: F401
from tests.apiclient import register, upload
from tests.conftest import RAY_METRICS_PORT

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def runner_settings(api_settings):
    """One job at a time (the 2 CPUs), small analysis windows (many model requests), and a
    hard limit of 1: any request in flight at a model service refuses new jobs."""
    return api_settings.model_copy(update={
        "job_runner_concurrency": 1, "analysis_window_s": 4.0,
        "model_queue_soft_limit": 1, "model_queue_hard_limit": 1,
        "model_queue_retry_after_s": 3,
    })  # fmt: skip


@pytest.fixture(scope="module")
def long_talk(short_talk, tmp_path_factory):
    """48 s: the 16 s talk three times over (stream copy), so the analysis keeps the model
    services busy for a while."""
    folder = tmp_path_factory.mktemp("long-talk")
    listing = folder / "parts.txt"
    listing.write_text(f"file '{short_talk}'\n" * 3)
    out = folder / "long-talk.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(out)], check=True)  # fmt: skip
    return out


class Depths:
    """The app's reader of the services' depths, on a clock the test moves: a reading the
    test took is the one the next POST sees (it is not read again until the clock moves)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reader = admission.CachedDepths(admission.serve_depths, ttl_s=1.0,
                                             clock=lambda: self.now)  # fmt: skip

    def read(self) -> dict[str, int]:
        """Every service's depth now, from the services (``ModelServices.queues``)."""
        self.now += 10
        return {name: load.depth for name, load in self.reader().items()}

    def until(self, want, what: str, timeout: float) -> dict[str, int]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not want(got := self.read()):
            assert time.monotonic() < deadline, f"{what}: the services said {got}"
            time.sleep(0.1)
        return got


@pytest.fixture
def depths(monkeypatch):
    d = Depths()
    monkeypatch.setattr(admission, "_reader", d.reader)
    return d


def _jobs(db, workspace_id: str) -> int:  # noqa: F811
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Job)
                        .where(Job.workspace_id == workspace_id))  # fmt: skip


def test_new_jobs_wait_for_the_model_services_queue_to_drain(
        client, db, runner, depths, runner_settings, long_talk):  # noqa: F811  # fmt: skip
    acct = register(client, "admission")
    sid = upload(client, acct, long_talk).json()["source_id"]
    body = {"source_id": sid, "settings": SETTINGS}
    before = _admissions()
    counted: Counter[tuple[str, str]] = Counter()  # what each decision below must add
    idle = depths.read()
    assert max(idle.values(), default=0) == 0  # nothing queued: admitted
    first = client.post("/api/jobs", headers=acct.headers, json=body)
    assert first.status_code == 201, first.text
    counted.update((name, "admitted") for name in idle)  # services not deployed: nothing
    job_id = first.json()["id"]

    # The analysis sends its windows and speech to the services: wait until one has a
    # request in flight (the hard limit), then the next job is refused on that reading.
    busy = depths.until(lambda d: max(d.values(), default=0) >= 1,
                        "no request ever queued at a model service", timeout=600)  # fmt: skip
    refused = client.post("/api/jobs", headers=acct.headers, json=body)
    assert refused.status_code == 429, refused.text
    err = refused.json()["error"]
    assert err["code"] == "MODEL_SERVICES_BUSY"
    assert err["detail"]["hard_limit"] == 1
    assert err["detail"]["depth"] == busy[err["detail"]["service"]] >= 1
    assert 1 <= int(refused.headers["retry-after"]) <= 300
    assert _jobs(db, acct.workspace_id) == 1  # the refused request wrote nothing
    counted.update((name, "rejected") for name, depth in busy.items() if depth >= 1)
    # The same reading under a hard limit far above it: the busy services queue the job.
    roomy = runner_settings.model_copy(update={"model_queue_hard_limit": 1000})
    assert admission.admit(roomy, depths.reader).verdict is Verdict.QUEUE
    counted.update((name, "queued" if depth >= 1 else "admitted") for name, depth in busy.items())

    # The first job's model work ends with its analysis; its queue drains to 0.
    past_analysis = {JobStatus.CLIPS_GENERATED, JobStatus.RENDERING, JobStatus.REVIEW}
    done = wait_for(db, job_id, past_analysis | {JobStatus.FAILED}, timeout=600)
    assert done.status in past_analysis, done.error
    drained = depths.until(lambda d: d and max(d.values()) == 0,
                           "the model services' queues never drained", timeout=120)  # fmt: skip
    assert set(drained) >= {"Asr", "Faces", "TextEmbed"}
    accepted = client.post("/api/jobs", headers=acct.headers, json=body)
    assert accepted.status_code == 201, accepted.text
    counted.update((name, "admitted") for name in drained)
    with db.session() as s:
        assert s.get(Job, accepted.json()["id"]).status in ACTIVE
    client.delete(f"/api/jobs/{accepted.json()['id']}", headers=acct.headers)

    # The root exported the drained depths (and the soft limit) through Ray's metrics.
    deadline = time.monotonic() + 120
    while not (set(queues := _exported()) >= set(drained) and not any(queues.values())):
        assert time.monotonic() < deadline, f"the exported depths: {queues}"
        time.sleep(1)
    assert set(_exported("ray_clipray_model_queue_soft_limit")) >= set(drained)

    # Each decision was counted per service as its queue made it (the API runs in this
    # process, whose counters Ray's agent exports every few seconds).
    assert counted[(err["detail"]["service"], "rejected")] == 1
    deadline = time.monotonic() + 120
    while any((now := _admissions())[k] - before[k] < n for k, n in counted.items()):
        assert time.monotonic() < deadline, f"exported {now - before}, counted {counted}"
        time.sleep(1)
    assert {outcome for _, outcome in counted} == {"admitted", "queued", "rejected"}


def _samples(name: str) -> list[tuple[dict[str, str], float]]:
    """``name``'s samples (labels, value) on the local Ray's metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{RAY_METRICS_PORT}/metrics",
                                timeout=10) as resp:  # fmt: skip
        text = resp.read().decode()
    return [(s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name]  # fmt: skip


def _exported(name: str = "ray_clipray_model_queue_depth") -> dict[str, float]:
    """``name``'s value per service, from the local Ray's metrics endpoint."""
    return {labels["service"]: value for labels, value in _samples(name)}


def _admissions() -> Counter[tuple[str, str]]:
    """The exported admission counts by (service, outcome), summed over processes."""
    out: Counter[tuple[str, str]] = Counter()
    for labels, value in _samples("ray_clipray_model_admissions_total"):
        out[(labels["service"], labels["outcome"])] += int(value)
    return out
