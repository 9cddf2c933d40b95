"""A real job on a local Ray, watched as an operator would: each stage's duration
histogram has samples on the cluster's Prometheus endpoint (read over HTTP, in the text
format), beside render speed, jobs by state, step failures by code and the step gauges;
and the job's trace reaches a real OTLP/HTTP receiver, one span per step under the API's
trace id, with the model stages' spans under the analyze step."""

from __future__ import annotations

import gzip
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import ray
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from clipray.actors.job_runner import ensure_job_runner, job_runner
from clipray.cluster.services import open_storage
from clipray.observability.metrics import stage_label
from clipray.serve.app import create_api
from clipray.storage.keys import object_key
from clipray.storage.orm import Analysis, Job, JobStatus, new_id
from tests.apiclient import register, upload
from tests.conftest import RAY_METRICS_PORT, cancel_active_jobs

pytestmark = pytest.mark.timeout(1200)
SETTINGS = {"max_clips": 1, "min_duration": 3.0, "max_duration": 10.0}


def poll(fn: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """``fn()`` until it returns something truthy (returned), or its last value at timeout."""
    deadline = time.monotonic() + timeout
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


class OtlpReceiver:
    """An OTLP/HTTP trace receiver: decodes each POSTed protobuf export into plain spans."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ok = self.path == "/v1/traces"
                if ok:
                    receiver.add(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, req: ExportTraceServiceRequest) -> None:
        got = [
            {"name": sp.name, "trace_id": sp.trace_id.hex(), "span_id": sp.span_id.hex(),
             "parent": sp.parent_span_id.hex(),
             "attributes": {a.key: a.value.string_value or a.value.double_value
                            for a in sp.attributes}}
            for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans
        ]  # fmt: skip
        with self.lock:
            self.spans += got

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture(scope="module")
def receiver():
    r = OtlpReceiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def obs_settings(api_settings, receiver):
    # One job at a time (two analyses would share 2 CPUs); traces to the test's receiver.
    return api_settings.model_copy(
        update={"job_runner_concurrency": 1, "otlp_endpoint": receiver.url}
    )


@pytest.fixture(scope="module")
def client(obs_settings, ray_local, api_db):
    cancel_active_jobs(api_db)
    handle = ensure_job_runner(obs_settings)
    ray.get(handle.status.remote())
    with TestClient(create_api(obs_settings)) as c:
        yield c
    cancel_active_jobs(api_db)
    ray.kill(job_runner() or handle, no_restart=True)


def scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
    """The local Ray's metrics endpoint, parsed: samples by name, clipray's only."""
    url = f"http://127.0.0.1:{RAY_METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("ray_clipray_"):
                out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(name, []) if labels.items() <= lab.items())


def wait_for_status(db, job_id: str, statuses: set[JobStatus], timeout: float) -> Job:
    def reached() -> Job | None:
        with db.session() as s:
            job = s.get(Job, job_id)
            return job if job is not None and job.status in statuses else None

    job = poll(reached, timeout, every=0.5)
    assert job is not None, f"job {job_id} never reached {statuses}"
    return job


def test_a_job_shows_in_metrics_and_in_its_trace(client, api_db, obs_settings, receiver,
                                                 short_talk):  # fmt: skip
    acct = register(client, "observed")
    # a job that fails at once, for the failures by code
    store = open_storage(obs_settings).media.scoped(acct.workspace_id)
    key = object_key(acct.workspace_id, "sources", new_id(), "bad.mp4")
    store.put_bytes(key, b"not a video at all" * 100, content_type="video/mp4")
    bad = client.post("/api/jobs", headers=acct.headers, json={"source_key": key,
                                                               "settings": SETTINGS})
    wait_for_status(api_db, bad.json()["id"], {JobStatus.FAILED}, timeout=180)

    sid = upload(client, acct, short_talk).json()["source_id"]
    created = client.post("/api/jobs", headers=acct.headers,
                          json={"source_id": sid, "settings": SETTINGS})  # fmt: skip
    job_id, trace_id = created.json()["id"], created.headers["x-trace-id"]
    done = wait_for_status(api_db, job_id, {JobStatus.REVIEW, JobStatus.FAILED}, timeout=900)
    assert done.status is JobStatus.REVIEW, done.error
    with api_db.session() as s:
        summary = s.scalars(select(Analysis.summary).where(Analysis.source_id == sid)).one()
    analysed = {stage_label(k) for k in summary["timings"]}
    assert {"decode_scenes", "faces", "audio", "asr", "merge"} <= analysed
    stages = analysed | {"text_embed", "render"}

    def exported() -> dict | None:
        m = scrape()
        missing = [st for st in stages
                   if not total(m, "ray_clipray_stage_seconds_count", stage=st)]  # fmt: skip
        ready = (not missing
                 and total(m, "ray_clipray_render_seconds_per_output_second_count") >= 1
                 and total(m, "ray_clipray_jobs_in_state", state="review") >= 1
                 and total(m, "ray_clipray_job_step_failures_total", step="ingest",
                           code="MEDIA_NOT_A_VIDEO") >= 1)  # fmt: skip
        return m if ready else None

    # Ray's agent exports every few seconds: poll with a deadline.
    metrics = poll(exported, timeout=180, every=2.0)
    assert metrics, f"not exported in 180 s: {sorted(scrape())}"
    for st in stages:  # every sample is a real duration, and the buckets add up
        assert total(metrics, "ray_clipray_stage_seconds_sum", stage=st) > 0, st
        count = total(metrics, "ray_clipray_stage_seconds_count", stage=st)
        assert total(metrics, "ray_clipray_stage_seconds_bucket", stage=st, le="+Inf") == count
    speed = total(metrics, "ray_clipray_render_seconds_per_output_second_sum")
    assert 0 < speed < 100  # seconds of render per second of clip: a plausible number
    assert total(metrics, "ray_clipray_job_step_retries_total", code="MEDIA_NOT_A_VIDEO") == 0
    assert total(metrics, "ray_clipray_job_step_timeout_seconds", step="analyze") == (
        obs_settings.job_step_timeout_s)
    assert "ray_clipray_job_step_oldest_running_seconds" in metrics
    assert total(metrics, "ray_clipray_jobs_in_state", state="failed") >= 1

    def traced() -> list[dict[str, Any]] | None:
        spans = receiver.of_trace(trace_id)
        names = {s["name"] for s in spans}
        want = {"job.ingest", "job.analyze", "job.render", "stage.asr", "stage.faces"}
        return spans if want <= names else None

    spans = poll(traced, timeout=60)
    assert spans, f"trace {trace_id} has {receiver.of_trace(trace_id)}"
    steps = [s for s in spans if s["name"].startswith("job.")]
    assert sorted(s["name"] for s in steps) == ["job.analyze", "job.ingest", "job.render"]
    assert {s["attributes"]["clipray.job.id"] for s in steps} == {job_id}
    assert len({s["parent"] for s in steps}) == 1  # all under the job's own span id
    (analyze,) = [s for s in steps if s["name"] == "job.analyze"]
    model = [s for s in spans if s["name"].startswith("stage.")]
    assert {s["parent"] for s in model} == {analyze["span_id"]}
    assert {s["name"] for s in model} >= {f"stage.{st}" for st in analysed}
