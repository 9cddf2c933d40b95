"""What an operator watches: Prometheus metrics (``metrics``) and OpenTelemetry traces
(``tracing``).

Metrics go through Ray's metrics agent, which every node exports on its metrics port (8080
in ``ray-cluster.yaml`` and the RayService); traces go over OTLP/HTTP when
``CLIPRAY_OTLP_ENDPOINT`` is set and cost nothing when it is not. Code that measures
something calls one helper here, in one line, so that names and labels live in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from clipray.observability import metrics, tracing

__all__ = ["metrics", "stages_done", "timed", "tracing"]


def stages_done(timings: Mapping[str, float], source_id: str) -> None:
    """An analysed source's per-stage seconds: into ``clipray_stage_seconds`` and, when
    tracing, one span per stage under the current step's span."""
    metrics.observe_stages(timings)
    tracing.stage_spans({metrics.stage_label(k): v for k, v in timings.items()},
                        {"clipray.source.id": source_id})  # fmt: skip


@contextmanager
def timed(stage: str, output_s: float | None = None) -> Iterator[None]:
    """Time a stage's work (a span when tracing); recorded when it succeeds. ``output_s``:
    seconds of media made, for ``clipray_render_seconds_per_output_second``."""
    t0 = time.perf_counter()
    with tracing.span(f"stage.{stage}"):
        yield
    seconds = time.perf_counter() - t0
    if output_s is None:
        metrics.observe_stage(stage, seconds)
    else:
        metrics.render_speed(seconds, output_s)
