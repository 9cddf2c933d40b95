"""Job traces with the SDK's in-memory exporter: a job created through the API keeps the
request's trace id, and each step attempt is one span of that trace (run here in-process,
as the runner's Ray task runs it); with tracing off nothing is recorded."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from clipray.actors.steps import run_step
from clipray.cluster.services import open_storage
from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.observability import stages_done, tracing
from clipray.serve.app import create_api
from clipray.storage.keys import object_key
from clipray.storage.orm import Job, new_id
from tests.apiclient import register, upload
from tests.conftest import MEDIA

OFF = Settings(otlp_endpoint=None)
"""Settings without an OTLP endpoint: only a provider a test installs records spans."""
VIDEO = MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("0af7651916cd43dd8448eb211c80319c", 0x0AF7651916CD43DD8448EB211C80319C,
                     id="api-id"),
        pytest.param("0AF7651916CD43DD8448EB211C80319C", 0x0AF7651916CD43DD8448EB211C80319C,
                     id="upper-case"),
    ],
)
def test_an_api_trace_id_is_the_otel_trace_id(given, expected):
    assert tracing.trace_id_of(given) == expected


@pytest.mark.unit
def test_other_request_ids_map_to_a_stable_valid_trace_id():
    a, b = tracing.trace_id_of("req-42"), tracing.trace_id_of("req-43")
    assert a == tracing.trace_id_of("req-42")
    assert a != b
    assert 0 < a < 2**128
    assert tracing.trace_id_of("0" * 32) != 0  # OpenTelemetry's invalid id is never used


@pytest.mark.unit
def test_tracing_off_records_nothing():
    with tracing.job_span(OFF, "0af7651916cd43dd8448eb211c80319c", "job1", "ingest") as s:
        assert s is None
        with tracing.span("stage.asr") as child:
            assert child is None
        stages_done({"asr": 1.0}, "src")  # no Ray, no tracer: nothing to do, no error


@pytest.mark.unit
def test_stage_spans_are_children_of_the_step_span(spans):
    tid = "0af7651916cd43dd8448eb211c80319c"
    with tracing.job_span(OFF, tid, "job1", "analyze"):
        stages_done({"decode+scenes": 2.0, "asr": 1.5}, "src1")
    got = {s.name: s for s in spans.get_finished_spans()}
    assert set(got) == {"job.analyze", "stage.decode_scenes", "stage.asr"}
    step = got["job.analyze"]
    assert {s.context.trace_id for s in got.values()} == {int(tid, 16)}
    for name, seconds in (("stage.decode_scenes", 2.0), ("stage.asr", 1.5)):
        assert got[name].parent.span_id == step.context.span_id
        assert (got[name].end_time - got[name].start_time) / 1e9 == pytest.approx(seconds)
        assert got[name].attributes["clipray.source.id"] == "src1"


def test_each_step_of_an_api_job_is_a_span_of_the_requests_trace(api_settings, api_db, spans):
    with TestClient(create_api(api_settings)) as client:
        acct = register(client, "tracing")
        sid = upload(client, acct, VIDEO).json()["source_id"]
        good = client.post("/api/jobs", headers=acct.headers,
                           json={"source_id": sid, "settings": {}})  # fmt: skip
        store = open_storage(api_settings).media.scoped(acct.workspace_id)
        key = object_key(acct.workspace_id, "sources", new_id(), "bad.mp4")
        store.put_bytes(key, b"not a video at all" * 100, content_type="video/mp4")
        bad = client.post("/api/jobs", headers={**acct.headers, "X-Request-Id": "client-req-7"},
                          json={"source_key": key, "settings": {}})  # fmt: skip
    assert good.status_code == bad.status_code == 201
    good_id, good_trace = good.json()["id"], good.headers["x-trace-id"]
    bad_id, bad_trace = bad.json()["id"], bad.headers["x-trace-id"]
    assert bad_trace == "client-req-7"
    with api_db.session() as s:
        assert s.get(Job, good_id).trace_id == good_trace
        assert s.get(Job, bad_id).trace_id == bad_trace

    run_step(api_settings, good_id, acct.workspace_id, "ingest")
    with pytest.raises(CodedError) as failed:
        run_step(api_settings, bad_id, acct.workspace_id, "ingest")
    assert failed.value.code == "MEDIA_NOT_A_VIDEO"

    by_job = {s.attributes["clipray.job.id"]: s for s in spans.get_finished_spans()}
    assert set(by_job) == {good_id, bad_id}
    ok, err = by_job[good_id], by_job[bad_id]
    assert ok.name == err.name == "job.ingest"
    assert ok.context.trace_id == int(good_trace, 16)
    assert err.context.trace_id == tracing.trace_id_of("client-req-7")
    assert ok.parent.is_remote
    assert ok.parent.trace_id == ok.context.trace_id
    assert ok.status.status_code is StatusCode.UNSET
    assert err.status.status_code is StatusCode.ERROR
    assert err.status.description == "MEDIA_NOT_A_VIDEO"


@pytest.mark.unit
def test_no_span_starts_a_trace_of_its_own(spans):
    """Outside a step (a render task in a worker that once ran one) nothing is recorded."""
    with tracing.span("stage.render") as s:
        assert s is None
    stages_done({"asr": 1.0}, "src")
    assert spans.get_finished_spans() == ()
