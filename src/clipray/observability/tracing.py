"""OpenTelemetry traces of jobs: one trace per job, one span per step attempt, one per
model stage of each analysed source, exported over OTLP/HTTP.

The trace id of a job is the API's ``trace_id`` of the request that created it (the
``X-Trace-Id`` header, stored on the job), so an operator goes from a client's error or log
line to the job's whole trace. A step runs in its own Ray worker: its span's parent is the
job's context rebuilt from that id (:func:`job_context`), not anything passed over Ray.

Off unless ``CLIPRAY_OTLP_ENDPOINT`` is set (``http://collector:4318``; spans go to
``/v1/traces``): then no OpenTelemetry module is imported and :func:`span` is a null
context. Tests :func:`install` their own provider (an in-memory exporter).

    >>> with job_span(settings, job.trace_id, job.id, "analyze"):   # doctest: +SKIP
    ...     with span("model.asr"):
    ...         ...
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from clipray.config import Settings

__all__ = ["install", "job_context", "job_span", "span", "stage_spans", "trace_id_of"]

log = logging.getLogger(__name__)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_provider: Any | None = None
"""The process' tracer provider; None: tracing is off."""
_endpoint: str | None = None
_lock = threading.Lock()


def install(provider: Any | None) -> None:
    """Use ``provider`` (an SDK ``TracerProvider``) for this process; None turns tracing off."""
    global _provider, _endpoint
    with _lock:
        _provider, _endpoint = provider, None


def _configure(settings: Settings) -> Any | None:
    """The provider for ``settings``: made once per process and endpoint; None when off."""
    global _provider, _endpoint
    endpoint = settings.otlp_endpoint
    if not endpoint:
        return _provider  # one a test installed, or None
    with _lock:
        if _provider is None or (_endpoint is not None and _endpoint != endpoint):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider = TracerProvider(resource=Resource.create({"service.name": "clipray"}))
            exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
            provider.add_span_processor(BatchSpanProcessor(exporter))
            _provider, _endpoint = provider, endpoint
        return _provider


def trace_id_of(trace_id: str) -> int:
    """The 128-bit OpenTelemetry trace id of an API trace id: the same number when it is
    32 hex digits (the API's own ids are), else one derived from it (a client's
    ``X-Request-Id`` of another form), never 0 (OpenTelemetry's "invalid")."""
    tid = trace_id.lower()
    if _HEX32.match(tid) and int(tid, 16):
        return int(tid, 16)
    return int.from_bytes(hashlib.sha256(trace_id.encode()).digest()[:16], "big") or 1


def job_context(trace_id: str, job_id: str) -> Any:
    """The job's trace as a remote parent: its trace id, and a span id derived from the job
    id (the job itself, as every step's worker rebuilds it alike)."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    span_id = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big") or 1
    parent = SpanContext(trace_id_of(trace_id), span_id, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextmanager
def job_span(settings: Settings, trace_id: str | None, job_id: str, step: str,
             attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:  # fmt: skip
    """The span of one step attempt, current while the step runs, exported when it ends
    (the worker may be ended by a cancel right after). A job created before trace ids were
    stored gets a trace of its own, derived from its id."""
    provider = _configure(settings)
    if provider is None:
        yield None
        return
    from opentelemetry.trace import Status, StatusCode

    tracer = provider.get_tracer("clipray.jobs")
    ctx = job_context(trace_id or job_id, job_id)
    attrs = {"clipray.job.id": job_id, "clipray.job.step": step, **(attributes or {})}
    try:
        # The status says the error code (a CodedError's), the exception event the message.
        with tracer.start_as_current_span(f"job.{step}", context=ctx, attributes=attrs,
                                          set_status_on_exception=False) as current:  # fmt: skip
            try:
                yield current
            except BaseException as exc:
                current.set_status(Status(StatusCode.ERROR, str(getattr(exc, "code", ""))
                                          or type(exc).__name__))  # fmt: skip
                raise
    finally:
        provider.force_flush(timeout_millis=5000)


def span(name: str, attributes: Mapping[str, Any] | None = None) -> Any:
    """A child span of the current one (a model call, an index pass); a null context when
    tracing is off or no span is current (a render task reusing a worker that once ran a
    step must not start traces of its own)."""
    if _provider is None:
        return nullcontext()
    from opentelemetry import trace

    if not trace.get_current_span().is_recording():
        return nullcontext()
    return _provider.get_tracer("clipray").start_as_current_span(name, attributes=attributes)


def stage_spans(timings: Mapping[str, float], attributes: Mapping[str, Any] | None = None
                ) -> None:  # fmt: skip
    """One span per analysis stage of a source, ending now and as long as the stage's work
    (``timings``). The stages ran on pool actors, window by window and in parallel, so a
    span's length is the stage's summed work, not a wall-clock interval; the attribute
    ``clipray.stage.seconds`` says the same number."""
    if _provider is None:
        return
    from opentelemetry import trace

    if not trace.get_current_span().is_recording():
        return
    tracer = _provider.get_tracer("clipray.analysis")
    end = time.time_ns()
    for stage, seconds in timings.items():
        attrs = {"clipray.stage": stage, "clipray.stage.seconds": float(seconds),
                 **(attributes or {})}  # fmt: skip
        s = tracer.start_span(f"stage.{stage}", attributes=attrs,
                              start_time=end - int(float(seconds) * 1e9))  # fmt: skip
        s.end(end_time=end)
