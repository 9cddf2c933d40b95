"""A live stream watched as an operator watches it: the stream supervisor on a real Ray runs
a worker with the live pipeline on the synthetic HLS stream, and the cluster's Prometheus
endpoint (read over HTTP, in the text format) shows the stream active, its buffer bytes, its
ingest and transcript lag, its clips and their event-to-clip latency; the monitor's health
(what ``GET /api/streams/{id}/health`` serves) holds the same figures; once the stream is
stopped it no longer reads active."""

from __future__ import annotations

import pytest
import ray
from sqlalchemy import select

from clipray.actors.stream_supervisor import ensure_stream_supervisor, stream_supervisor
from clipray.domain.streams import Control
from clipray.services import stream_health, streams
from clipray.storage.db import Database
from clipray.storage.orm import StreamClip, StreamMonitor, Workspace
from tests.actors.test_stream_clips_e2e import e2e_settings  # noqa: F401 (a fixture)
from tests.observability.test_job_metrics import poll, scrape, total
from tests.services.stream_media import KEYWORD, make_stream_media
from tests.streams.conftest import LiveHls

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def of(samples: dict, name: str, stream: str) -> list[float]:
    return [v for labels, v in samples.get(name, []) if labels.get("stream") == stream]


def test_a_live_stream_shows_in_metrics(e2e_settings, ray_local, tmp_path):  # noqa: F811
    db = Database(e2e_settings.resolved_database_url)
    with db.session() as s:
        w = Workspace(slug="metrics-live", name="live")
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
        mid = streams.create(e2e_settings, db, ws, None, live.url, {
            "min_duration": 10, "max_duration": 20, "keywords": [KEYWORD],
            "aspect": "1:1"}).monitor.id  # fmt: skip

        def clipped() -> bool:
            with db.session() as s:
                monitor = s.get(StreamMonitor, mid)
                made = s.scalars(select(StreamClip).where(StreamClip.monitor_id == mid)).all()
                return bool(made) and monitor.health is not None

        if not poll(clipped, 420):
            with db.session() as s:
                m = s.get(StreamMonitor, mid)
                pytest.fail(f"no clip and health: {m.status.value}: {m.last_error}")

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
        # The latency histogram: observed, within its buckets' range, under two minutes.
        count = total(samples, "ray_clipray_stream_event_to_clip_seconds_count")
        under = total(samples, "ray_clipray_stream_event_to_clip_seconds_bucket", le="120.0")
        assert count >= 1
        assert under == count

        # What the health route serves: the worker's report and the clips' latency.
        view = stream_health.health(db, ws, mid)
        assert view.reported is not None
        assert view.reported.buffer_seconds > 0
        assert view.reported.ingest_lag_s is not None
        assert view.latency_clips >= 1
        assert 0.0 <= view.latency_p50_s <= view.latency_p95_s < 120.0

        streams.control(e2e_settings, db, ws, mid, Control.STOP)
        assert poll(lambda: not ray.get(handle.status.remote(), timeout=30)["workers"], 120)
        # Its worker set 0 as it ended; Ray's agent may also drop a dead process's series.
        assert poll(lambda: of(scrape(), "ray_clipray_streams_active", mid) in ([0.0], []),
                    60, every=2.0), "the stopped stream still reads active"  # fmt: skip
    finally:
        live.close()
        ray.get((stream_supervisor() or handle).stop.remote(), timeout=120)
        ray.kill(stream_supervisor() or handle, no_restart=True)
        db.dispose()
