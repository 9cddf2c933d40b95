"""clipray's Prometheus metrics: one table of definitions, one helper per thing measured.

Naming: ``clipray_<thing>_<unit>`` (``clipray_stage_seconds``,
``clipray_render_seconds_per_output_second``); a count has no unit word
(``clipray_job_step_failures``). Labels are few and bounded: a stage, a step, a state, an
error code, a model service. Ray's agent exports each metric with a ``ray_`` prefix, and a
counter with a ``_total`` suffix (:func:`exported_names` lists what Prometheus sees), so
``clipray_stage_seconds`` is queried as ``ray_clipray_stage_seconds_bucket``. A new metric
is a row in :data:`DEFINITIONS` plus a helper.

The objects are made on first use (``ray.util.metrics`` needs a connected Ray) once per
process; without Ray every helper does nothing, so a pure function may call one.

    >>> observe_stages({"asr": 1.2, "faces": 0.4})     # doctest: +SKIP
    >>> render_speed(render_s=9.0, output_s=30.0)      # doctest: +SKIP
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DEFINITIONS",
    "MetricDef",
    "exported_names",
    "job_finished",
    "job_step",
    "jobs_in_state",
    "media_task",
    "model_admission",
    "model_queue",
    "observe_stage",
    "observe_stages",
    "oldest_running",
    "render_failed",
    "render_speed",
    "stage_label",
    "step_failed",
    "step_timeouts",
    "steps_running",
    "stream_active",
    "stream_clip",
    "stream_health",
]

Kind = Literal["counter", "gauge", "histogram"]
# Stage durations run from a tenth of a second (a model batch on a short window) to an hour
# (a whole long video's decode): roughly x3 per bucket.
_SECONDS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3600.0)
# Render speed: 0.1 is ten times faster than real time; over 1 a render is slower than the
# clip it makes (the usual alarm line).
# Event to clip on a live stream: the goal is 45 s; post-roll alone waits 5-15 s, a render on
# a loaded box can take a minute, and past two minutes a live clip is late whatever it is.
_LIVE_LATENCY = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)
_SPEED = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


@dataclass(frozen=True)
class MetricDef:
    name: str
    kind: Kind
    description: str
    tags: tuple[str, ...] = ()
    boundaries: tuple[float, ...] = ()


DEFINITIONS: tuple[MetricDef, ...] = (
    # --- analysis and media stages ---------------------------------------------------------
    MetricDef("clipray_stage_seconds", "histogram",
              "Seconds of work per stage and source (decode_scenes, audio, asr, faces, embed, "
              "merge, text_embed) or per item (render, export, proxy)", ("stage",), _SECONDS),
    MetricDef("clipray_render_seconds_per_output_second", "histogram",
              "Render wall seconds per second of clip made", (), _SPEED),
    MetricDef("clipray_render_failures", "counter", "Clip renders that failed"),
    # --- the job runner ------------------------------------------------------------------
    MetricDef("clipray_jobs_finished", "counter", "Jobs that reached a final or review state",
              ("status",)),
    MetricDef("clipray_job_steps", "counter", "Job step attempts by outcome",
              ("step", "status")),
    MetricDef("clipray_job_step_seconds", "histogram", "Duration of job step attempts",
              ("step",), (1, 5, 15, 60, 300, 900, 3600)),
    MetricDef("clipray_jobs_running", "gauge", "Job steps this runner runs now"),
    MetricDef("clipray_jobs_in_state", "gauge", "Jobs in each state (all workspaces)",
              ("state",)),
    MetricDef("clipray_job_step_failures", "counter",
              "Failed step attempts by error code", ("step", "code")),
    MetricDef("clipray_job_step_retries", "counter",
              "Failed step attempts that are retried, by error code", ("step", "code")),
    MetricDef("clipray_job_step_oldest_running_seconds", "gauge",
              "Age of the oldest running attempt of each step (0: none running)", ("step",)),
    MetricDef("clipray_job_step_timeout_seconds", "gauge",
              "How long a step attempt may take (CLIPRAY_JOB_STEP_TIMEOUT_S)", ("step",)),
    MetricDef("clipray_media_tasks", "counter", "Proxy builds and clip exports by outcome",
              ("kind", "status")),
    # --- model services: exported by the Serve model deployments -------------------------
    MetricDef("clipray_model_queue_depth", "gauge",
              "Requests waiting in a model service's queue", ("service",)),
    MetricDef("clipray_model_queue_soft_limit", "gauge",
              "Queue depth over which a model service is behind", ("service",)),
    # --- admission of new jobs: counted where the API (or the CLI) creates a job ----------
    MetricDef("clipray_model_admissions", "counter",
              "New jobs by what each model service's queue made of them: admitted (under the "
              "soft limit), queued (soft to hard), rejected (at or over the hard limit)",
              ("service", "outcome")),
    # --- live streams: exported by each stream worker, labelled by monitor id (bounded by
    # CLIPRAY_STREAMS_MAX_CLUSTER at any time) ------------------------------------------
    MetricDef("clipray_streams_active", "gauge",
              "1 while a stream's worker runs its pipeline, 0 once it ended (sum: active "
              "streams)", ("stream",)),
    MetricDef("clipray_stream_buffer_bytes", "gauge", "Bytes a stream's ring buffer holds",
              ("stream",)),
    MetricDef("clipray_stream_ingest_lag_seconds", "gauge",
              "How far behind the source a stream's newest media is", ("stream",)),
    MetricDef("clipray_stream_transcript_lag_seconds", "gauge",
              "Stream clock minus the end of the newest transcribed audio", ("stream",)),
    MetricDef("clipray_stream_event_to_clip_seconds", "histogram",
              "From when the end of a live clip's last event arrived to the clip being "
              "available", (), _LIVE_LATENCY),
    MetricDef("clipray_stream_clips", "counter", "Clips made from each stream", ("stream",)),
)  # fmt: skip
"""Every metric clipray exports; the dashboard and the alert rules may name only these."""

_BY_NAME = {d.name: d for d in DEFINITIONS}
_made: dict[str, Any] = {}
_lock = threading.Lock()


def exported_names() -> set[str]:
    """The series names Prometheus scrapes from Ray's agent, for every definition."""
    out = set()
    for d in DEFINITIONS:
        base = f"ray_{d.name}"
        if d.kind == "histogram":
            out |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        elif d.kind == "counter":
            out.add(f"{base}_total")
        else:
            out.add(base)
    return out


def _metric(name: str) -> Any | None:
    """The metric object of ``name`` in this process; None when Ray is not connected (no
    agent to send to: a unit test, a CLI command that never started Ray)."""
    ray = sys.modules.get("ray")  # never import Ray only to find it is not running
    if ray is None or not ray.is_initialized():
        return None
    with _lock:
        if name not in _made:
            from ray.util import metrics as rm

            d = _BY_NAME[name]
            if d.kind == "histogram":
                _made[name] = rm.Histogram(d.name, d.description, boundaries=list(d.boundaries),
                                           tag_keys=d.tags)  # fmt: skip
            elif d.kind == "counter":
                _made[name] = rm.Counter(d.name, d.description, tag_keys=d.tags)
            else:
                _made[name] = rm.Gauge(d.name, d.description, tag_keys=d.tags)
        return _made[name]


def _observe(name: str, value: float, **tags: str) -> None:
    if (m := _metric(name)) is not None:
        m.observe(value, tags=tags)


def _inc(name: str, **tags: str) -> None:
    if (m := _metric(name)) is not None:
        m.inc(tags=tags)


def _set(name: str, value: float, **tags: str) -> None:
    if (m := _metric(name)) is not None:
        m.set(value, tags=tags)


def stage_label(key: str) -> str:
    """A timing key as a label value: ``decode+scenes`` (one pass does both) is
    ``decode_scenes``."""
    return key.replace("+", "_").replace("-", "_")


# --- stages ------------------------------------------------------------------------------
def observe_stages(timings: Mapping[str, float]) -> None:
    """One analysed source's per-stage seconds (the analysis' ``timings``)."""
    for key, seconds in timings.items():
        _observe("clipray_stage_seconds", float(seconds), stage=stage_label(key))


def observe_stage(stage: str, seconds: float) -> None:
    """Seconds of one stage's work outside the analysis (text_embed, render, export, proxy)."""
    _observe("clipray_stage_seconds", float(seconds), stage=stage)


def render_speed(render_s: float, output_s: float) -> None:
    """A finished render: its seconds under ``render``, and per second of clip made."""
    observe_stage("render", render_s)
    if output_s > 0:
        _observe("clipray_render_seconds_per_output_second", render_s / output_s)


def render_failed() -> None:
    _inc("clipray_render_failures")


# --- jobs --------------------------------------------------------------------------------
def job_step(step: str, status: str, seconds: float) -> None:
    """One step attempt ended (``status``: succeeded, failed, cancelled)."""
    _inc("clipray_job_steps", step=step, status=status)
    _observe("clipray_job_step_seconds", seconds, step=step)


def step_failed(step: str, code: str, *, retried: bool) -> None:
    """A step attempt failed with ``code``; ``retried``: the runner tries it again."""
    _inc("clipray_job_step_failures", step=step, code=code)
    if retried:
        _inc("clipray_job_step_retries", step=step, code=code)


def job_finished(status: str) -> None:
    _inc("clipray_jobs_finished", status=status)


def steps_running(count: int) -> None:
    _set("clipray_jobs_running", count)


def jobs_in_state(counts: Mapping[str, int]) -> None:
    """Jobs per state; give every state (zero included) so a drained state reads 0."""
    for state, n in counts.items():
        _set("clipray_jobs_in_state", n, state=state)


def oldest_running(ages: Mapping[str, float]) -> None:
    """Per step, the age of its oldest running attempt (0 when none runs)."""
    for step, age in ages.items():
        _set("clipray_job_step_oldest_running_seconds", age, step=step)


def step_timeouts(timeouts: Mapping[str, float]) -> None:
    for step, seconds in timeouts.items():
        _set("clipray_job_step_timeout_seconds", seconds, step=step)


def media_task(kind: str, status: str) -> None:
    _inc("clipray_media_tasks", kind=kind, status=status)


# --- model services ----------------------------------------------------------------------
def model_queue(service: str, depth: int, soft_limit: int) -> None:
    """A model service's queue depth and its soft limit (the alert compares the two)."""
    _set("clipray_model_queue_depth", depth, service=service)
    _set("clipray_model_queue_soft_limit", soft_limit, service=service)


ADMISSION_OUTCOMES = ("admitted", "queued", "rejected")
"""The ``outcome`` label of ``clipray_model_admissions``."""


def model_admission(service: str, outcome: str) -> None:
    """One new job as ``service``'s queue decided it (an :data:`ADMISSION_OUTCOMES` word)."""
    _inc("clipray_model_admissions", service=service, outcome=outcome)


# --- live streams ------------------------------------------------------------------------
def stream_active(stream: str, active: bool) -> None:
    _set("clipray_streams_active", 1.0 if active else 0.0, stream=stream)


def stream_health(stream: str, buffer_bytes: int, ingest_lag_s: float | None,
                  transcript_lag_s: float | None) -> None:  # fmt: skip
    """A stream worker's health report (a lag not measured yet is left as it was)."""
    _set("clipray_stream_buffer_bytes", buffer_bytes, stream=stream)
    if ingest_lag_s is not None:
        _set("clipray_stream_ingest_lag_seconds", ingest_lag_s, stream=stream)
    if transcript_lag_s is not None:
        _set("clipray_stream_transcript_lag_seconds", transcript_lag_s, stream=stream)


def stream_clip(stream: str, latency_s: float | None) -> None:
    """A clip made from ``stream``, ``latency_s`` from its last event's end to available."""
    _inc("clipray_stream_clips", stream=stream)
    if latency_s is not None:
        _observe("clipray_stream_event_to_clip_seconds", latency_s)
