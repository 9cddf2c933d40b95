"""A live stream end to end through the control plane: a monitor created as the API creates
it, the stream supervisor on a real Ray starting a worker that drives the default pipeline
(``CLIPRAY_STREAM_PIPELINE`` unset in these settings' source: the live pipeline), and the
synthetic HLS stream's loud tone coming out as a generated clip of kind ``stream``, counted
on the monitor; the cluster's Prometheus endpoint and the monitor's health show the stream
as an operator watches it; stopping the monitor ends the worker, removes its buffer and
leaves the stream no longer active in the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
from pydantic import SecretStr
from sqlalchemy import select

from clipray.actors.stream_supervisor import ensure_stream_supervisor, stream_supervisor
from clipray.config import Settings
from clipray.domain.enums import GeneratedKind
from clipray.domain.streams import Control, MonitorStatus
from clipray.services import stream_health, streams
from clipray.services.streams import buffer_dir
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.orm import GeneratedClip, StreamClip, StreamMonitor, Workspace
from tests.actors.test_stream_supervisor import poll
from tests.observability.test_job_metrics import scrape, total
from tests.services.stream_media import KEYWORD, make_stream_media
from tests.streams.conftest import LiveHls

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def of(samples: dict, name: str, stream: str) -> list[float]:
    """The values of one metric for one stream (its ``stream`` label)."""
    return [v for labels, v in samples.get(name, []) if labels.get("stream") == stream]


@pytest.fixture
def e2e_settings(settings, s3_server, buckets, tmp_path) -> Settings:
    url = f"sqlite:///{tmp_path / 'clipray.db'}"
    migrate.upgrade(url)
    stages = {**settings.stages, "stream": settings.stage("stream").model_copy(
        update={"num_cpus": 0.1})}  # fmt: skip
    return settings.model_copy(update={
        "database_url": url, "warm_models": False,
        "stream_pipeline": Settings.model_fields["stream_pipeline"].default,
        "s3_endpoint_url": s3_server.url,
        "s3_access_key_id": SecretStr(s3_server.access_key_id or ""),
        "s3_secret_access_key": SecretStr(s3_server.secret_access_key or ""),
        "stream_heartbeat_interval_s": 1.0, "stream_supervisor_poll_s": 0.5,
        "stream_ingest": settings.stream_ingest.model_copy(update={"video": "copy"}),
        "url_allowed_domains": ("127.0.0.1",), "url_allow_private": True, "stages": stages,
    })  # fmt: skip


def test_the_supervisor_runs_the_live_pipeline_into_clips(e2e_settings, ray_local, tmp_path):
    assert e2e_settings.stream_pipeline == "clipray.services.stream_pipeline:stream_pipeline"
    db = Database(e2e_settings.resolved_database_url)
    with db.session() as s:
        w = Workspace(slug="e2e-live", name="live")
        s.add(w)
        s.flush()
        ws = w.id
    live = LiveHls(tmp_path / "hls", make_stream_media(tmp_path / "live.mp4"))
    live.up()
    old = stream_supervisor()
    if old is not None:
        ray.kill(old, no_restart=True)
    handle = ensure_stream_supervisor(e2e_settings)
    try:
        made = streams.create(e2e_settings, db, ws, None, live.url, {
            "min_duration": 10, "max_duration": 20, "keywords": [KEYWORD], "aspect": "1:1"})
        mid = made.monitor.id

        def energy_clip() -> StreamClip | None:
            with db.session() as s:
                rows = s.scalars(select(StreamClip).where(StreamClip.monitor_id == mid)).all()
                return next((r for r in rows
                             if any(e.get("kind") == "energy" for e in r.events)), None)

        clip = poll(energy_clip, 420, every=1.0)
        with db.session() as s:
            monitor = s.get(StreamMonitor, mid)
            assert clip is not None, (f"no energy clip; monitor {monitor.status.value}: "
                                      f"{monitor.last_error}")  # fmt: skip
            gen = s.get(GeneratedClip, clip.generated_clip_id)
            assert gen.kind is GeneratedKind.STREAM
            assert monitor.status is MonitorStatus.ACTIVE
            assert monitor.clips_generated >= 1
        assert Path(buffer_dir(e2e_settings, mid)).is_dir()

        # As an operator watches it: the cluster's Prometheus endpoint (read over HTTP, in
        # the text format) shows the stream active, its buffer, its lags, its clips and their
        # event-to-clip latency; the monitor's health (``GET /api/streams/{id}/health``)
        # holds the worker's report and the clips' latency.
        names = ("ray_clipray_streams_active", "ray_clipray_stream_buffer_bytes",
                 "ray_clipray_stream_ingest_lag_seconds",
                 "ray_clipray_stream_transcript_lag_seconds",
                 "ray_clipray_stream_clips_total")  # fmt: skip

        def exported() -> dict | None:
            got = scrape()
            if all(of(got, n, mid) for n in names) and total(
                    got, "ray_clipray_stream_event_to_clip_seconds_count") >= 1:
                return got
            return None

        samples = poll(exported, 120, every=2.0)
        assert samples, f"stream metrics never exported: {sorted(scrape())}"
        assert of(samples, "ray_clipray_streams_active", mid) == [1.0]
        assert of(samples, "ray_clipray_stream_buffer_bytes", mid)[0] > 0
        assert 0.0 <= of(samples, "ray_clipray_stream_ingest_lag_seconds", mid)[0] < 60.0
        assert 0.0 <= of(samples, "ray_clipray_stream_transcript_lag_seconds", mid)[0] < 120.0
        assert of(samples, "ray_clipray_stream_clips_total", mid)[0] >= 1
        count = total(samples, "ray_clipray_stream_event_to_clip_seconds_count")
        under = total(samples, "ray_clipray_stream_event_to_clip_seconds_bucket", le="120.0")
        assert count >= 1
        assert under == count
        view = poll(lambda: (v := stream_health.health(db, ws, mid)).reported and v, 30)
        assert view, "the worker never reported its health"
        assert view.reported.buffer_seconds > 0
        assert view.reported.ingest_lag_s is not None
        assert view.latency_clips >= 1
        assert 0.0 <= view.latency_p50_s <= view.latency_p95_s < 120.0

        streams.control(e2e_settings, db, ws, mid, Control.STOP)
        assert poll(lambda: not ray.get(handle.status.remote(), timeout=30)["workers"], 120), (
            "the worker outlived its stopped monitor")
        assert poll(lambda: not Path(buffer_dir(e2e_settings, mid)).exists(), 30)
        # Its worker set 0 as it ended; Ray's agent may also drop a dead process's series.
        assert poll(lambda: of(scrape(), "ray_clipray_streams_active", mid) in ([0.0], []),
                    60, every=2.0), "the stopped stream still reads active"  # fmt: skip
    finally:
        live.close()
        ray.get((stream_supervisor() or handle).stop.remote(), timeout=120)
        ray.kill(stream_supervisor() or handle, no_restart=True)
        db.dispose()
