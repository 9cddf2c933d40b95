"""Live streams end to end through the stream supervisor on a real Ray, with the real live
pipeline (FFmpeg ingest, ring buffer, faster-whisper ``tiny.en`` in the worker, FFmpeg
render, SQLite, the S3 server): what the issue asks of a worker beyond the happy path.

* push ingest: a monitor created with ``rtmp-push`` listens on its ``ingest_url``, ffmpeg
  publishes to it as OBS would, and a generated clip of kind ``stream`` comes out;
* a worker actor killed while its stream runs is recreated within the heartbeat timeout,
  and the stream goes on into clips; then its source drops and comes back: the monitor
  goes ``connecting``, then ``active`` again, and clips go on from the new connection; no
  moment is clipped twice across all of it;
* a source that stays down leaves the monitor in ``error`` with the reason, and its worker
  ended.

Short everything (1 s heartbeats, quick reconnects, 10-20 s clips) for a shared box."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import ray
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from clipray.actors import NAMESPACE
from clipray.actors.stream_supervisor import ensure_stream_supervisor, stream_supervisor
from clipray.config import Settings
from clipray.domain.enums import GeneratedKind
from clipray.domain.streams import Control, MonitorStatus
from clipray.domain.time import utcnow
from clipray.services import streams
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.orm import GeneratedClip, StreamClip, StreamMonitor, Workspace
from tests.actors.test_stream_supervisor import poll, row, worker_of
from tests.services.stream_media import KEYWORD, make_stream_media
from tests.streams.conftest import LiveHls, listening

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

HEARTBEAT_TIMEOUT_S = 20.0
"""Long enough for a step that transcribes a window on a loaded 2-core box (a shorter one
recreates healthy workers, and a push publisher loses its listener with each)."""
OPTIONS = {"min_duration": 10, "max_duration": 20, "keywords": [KEYWORD], "aspect": "1:1",
           "caption_style": "none"}  # fmt: skip
"""Short square clips without captions: the quickest render that is still a clip."""
CLIP_WAIT_S = 360.0
"""How long a clip may take on a shared 2-core box: the moment's time in the media, the
post-roll, speech recognition and the render behind it."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream_media(tmp_path_factory.mktemp("live-e2e-media") / "live.mp4")


@pytest.fixture(scope="module")
def e2e(settings, s3_server, buckets, tmp_path_factory) -> Settings:
    url = f"sqlite:///{tmp_path_factory.mktemp('live-e2e') / 'clipray.db'}"
    migrate.upgrade(url)
    stages = {**settings.stages, "stream": settings.stage("stream").model_copy(
        update={"num_cpus": 0.1})}  # fmt: skip
    ingest = settings.stream_ingest.model_copy(update={
        "video": "copy", "stall_timeout_s": 4.0, "rw_timeout_s": 2.0,
        "backoff_initial_s": 1.0, "backoff_max_s": 2.0, "max_failures": 6,
        "stop_grace_s": 5.0})  # fmt: skip
    return settings.model_copy(update={
        "home": tmp_path_factory.mktemp("live-e2e-home"), "database_url": url,
        "warm_models": False,
        "stream_pipeline": Settings.model_fields["stream_pipeline"].default,
        "s3_endpoint_url": s3_server.url,
        "s3_access_key_id": SecretStr(s3_server.access_key_id or ""),
        "s3_secret_access_key": SecretStr(s3_server.secret_access_key or ""),
        "stream_heartbeat_interval_s": 1.0, "stream_heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
        "stream_supervisor_poll_s": 0.5, "stream_drain_timeout_s": 30.0,
        "stream_ingest": ingest, "url_allowed_domains": ("127.0.0.1",),
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),  # seals push stream keys
        "url_allow_private": True, "stages": stages,
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(e2e):
    database = Database(e2e.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def ws(db) -> str:
    with db.session() as s:
        w = Workspace(slug="live-e2e", name="live e2e")
        s.add(w)
        s.flush()
        return w.id


@pytest.fixture(scope="module")
def supervisor(e2e, ray_local, db):
    old = stream_supervisor()  # one another module left behind
    if old is not None:
        ray.kill(old, no_restart=True)
    handle = ensure_stream_supervisor(e2e)
    ray.get(handle.status.remote())
    yield handle
    ray.get((stream_supervisor() or handle).stop.remote(), timeout=120)
    ray.kill(stream_supervisor() or handle, no_restart=True)


@pytest.fixture
def live(tmp_path, media):
    source = LiveHls(tmp_path / "hls", media)
    try:
        yield source
    finally:
        source.close()


@pytest.fixture(autouse=True)
def stop_after(request, e2e, db, ws):
    """Stop what the test started: the next one gets the CPUs back."""
    yield
    if "supervisor" not in request.fixturenames:
        return
    rows, _ = streams.page(db, ws, 100)
    for r in rows:
        if r.status is not MonitorStatus.STOPPED:
            streams.control(e2e, db, ws, r.id, Control.STOP)
    handle = request.getfixturevalue("supervisor")
    assert poll(lambda: not ray.get(handle.status.remote(), timeout=30)["workers"], 120), (
        "workers outlived their stopped monitors")


def clips_of(db, mid: str) -> list[StreamClip]:
    with db.session() as s:
        return list(s.scalars(select(StreamClip).where(StreamClip.monitor_id == mid)
                              .order_by(StreamClip.stream_start)))  # fmt: skip


def received_since(db, mid: str, since: datetime) -> StreamClip | None:
    """A clip of the monitor whose moments all arrived after ``since``."""
    return next((c for c in clips_of(db, mid) if _aware(c.received_start) > since), None)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=utcnow().tzinfo)


def why(db, mid: str) -> str:
    r = row(db, mid)
    return f"monitor {r.status.value}: {r.last_error}; clips: {len(clips_of(db, mid))}"


def assert_stream_clip(db, clip: StreamClip) -> None:
    with db.session() as s:
        gen = s.get(GeneratedClip, clip.generated_clip_id)
        assert gen is not None
        assert gen.kind is GeneratedKind.STREAM
    assert clip.stream_end > clip.stream_start


def test_push_ingest_makes_clips(e2e, db, ws, supervisor, media):
    made = streams.create(e2e, db, ws, None, "rtmp-push", OPTIONS)
    assert made.ingest_url is not None
    mid, port = made.monitor.id, made.monitor.push_port
    assert made.ingest_url.startswith(f"rtmp://127.0.0.1:{port}/live/")
    assert poll(lambda: listening(port), 120), f"nothing listens on the ingest URL; {why(db, mid)}"
    # Looped, as a live broadcast goes on: a window is decided once the stream passes it.
    pusher = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(media),
         "-c", "copy", "-f", "flv", made.ingest_url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60), why(db, mid)
        clip = poll(lambda: next(iter(clips_of(db, mid)), None), CLIP_WAIT_S, every=1.0)
        assert clip is not None, f"no clip from the pushed stream; {why(db, mid)}"
    finally:
        pusher.kill()
        pusher.wait()
    assert_stream_clip(db, clip)
    assert row(db, mid).clips_generated >= 1


def test_a_killed_worker_is_recreated_and_the_source_drops_and_comes_back(
    e2e, db, ws, supervisor, live):  # fmt: skip
    """One stream through both mishaps (each waits for a clip in real time): its worker is
    killed and recreated, then its source drops and comes back; clips go on after each, and
    no moment is clipped twice."""
    live.up()
    mid = streams.create(e2e, db, ws, None, live.url, OPTIONS).monitor.id
    assert poll(lambda: worker_of(supervisor, mid), 120), f"no worker started; {why(db, mid)}"
    before = poll(lambda: next(iter(clips_of(db, mid)), None), CLIP_WAIT_S, every=1.0)
    assert before is not None, f"no clip before the kill; {why(db, mid)}"

    first = worker_of(supervisor, mid)  # the one running now
    assert first, f"no worker while the stream runs; {why(db, mid)}"
    ray.kill(ray.get_actor(first, namespace=NAMESPACE), no_restart=True)
    killed = utcnow()
    second = poll(lambda: (w := worker_of(supervisor, mid)) != first and w,
                  HEARTBEAT_TIMEOUT_S + 2.0)  # fmt: skip
    assert second, f"not recreated within the heartbeat timeout; {why(db, mid)}"
    # The new worker picks the stream up again (same buffer, same clock) into new clips.
    after = poll(lambda: received_since(db, mid, killed), CLIP_WAIT_S, every=1.0)
    assert after is not None, f"no clip after the worker was recreated; {why(db, mid)}"
    assert_stream_clip(db, after)
    # One clock across both workers: the new worker's clip lies after the old one's.
    assert after.stream_start >= before.stream_start

    # The source drops: the monitor says so, and goes back to active when it returns.
    live.down()
    assert poll(lambda: row(db, mid).status is MonitorStatus.CONNECTING, 60), (
        f"the drop was not reported; {why(db, mid)}")
    live.up()
    back = utcnow()
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60), (
        f"not active again; {why(db, mid)}")
    clip = poll(lambda: received_since(db, mid, back), CLIP_WAIT_S, every=1.0)
    assert clip is not None, f"no clip from the new connection; {why(db, mid)}"
    assert_stream_clip(db, clip)
    assert row(db, mid).status is MonitorStatus.ACTIVE

    clips = clips_of(db, mid)
    assert max(Counter(c.window_key for c in clips).values()) == 1
    moments = Counter((e["kind"], e["t_start"]) for c in clips for e in c.events[1:])
    assert max(moments.values()) == 1, f"a moment was clipped twice: {moments}"
    with db.session() as s:
        assert s.get(StreamMonitor, mid).clips_generated == len(clips)


def test_a_source_that_stays_down_leaves_the_monitor_in_error(e2e, db, ws, supervisor, live):
    live.up()
    mid = streams.create(e2e, db, ws, None, live.url, OPTIONS).monitor.id
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 120), why(db, mid)
    worker = worker_of(supervisor, mid)
    live.down()
    failed = poll(lambda: (r := row(db, mid)).status is MonitorStatus.ERROR and r, 120)
    assert failed, f"never an error; {why(db, mid)}"
    assert failed.last_error.startswith("6 connections failed in a row"), failed.last_error
    assert "5XX" in failed.last_error
    assert worker is not None
    assert poll(lambda: worker_of(supervisor, mid) is None, 180), "the worker outlived the error"
