"""The stream supervisor and its workers on a real Ray and a real SQLite database, with a
stand-in pipeline (``tests/actors/stream_pipelines.py``): a monitor gets a worker that beats
and reports; a killed worker is recreated within the heartbeat timeout; pause drains the
worker and resume starts another; stop ends it and removes the buffer; a pipeline failure
is reported as ``error`` with its reason; a killed supervisor is restarted by Ray and runs
its monitors again. The lease's hand-over is driven with an injected clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import ray

from clipray.actors import NAMESPACE
from clipray.actors.stream_supervisor import (
    LEASE,
    StreamSupervisor,
    ensure_stream_supervisor,
    stream_supervisor,
)
from clipray.actors.stream_worker import StreamWorker
from clipray.domain.streams import Control, MonitorStatus
from clipray.services import stream_events, streams
from clipray.storage import migrate
from clipray.storage import streams as store
from clipray.storage.db import Database
from clipray.storage.orm import StreamMonitor, User, Workspace, utcnow

pytestmark = pytest.mark.timeout(600)
HEARTBEAT_TIMEOUT_S = 4.0


@pytest.fixture(scope="module")
def sv_settings(settings, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('streams-sv') / 'clipray.db'}"
    migrate.upgrade(url)
    stages = {**settings.stages, "stream": settings.stage("stream").model_copy(
        update={"num_cpus": 0.1})}  # fmt: skip
    return settings.model_copy(update={
        "home": tmp_path_factory.mktemp("streams-sv-home"), "database_url": url,
        "stream_pipeline": "tests.actors.stream_pipelines:HeartbeatPipeline",
        "stream_heartbeat_interval_s": 0.5, "stream_heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
        "stream_worker_start_timeout_s": 120.0,
        "stream_supervisor_lease_s": 3.0, "stream_supervisor_poll_s": 0.3,
        "stream_drain_timeout_s": 10.0, "url_allowed_domains": ("localhost",),
        "url_allow_private": True, "stages": stages,
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(sv_settings):
    database = Database(sv_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def ws(db):
    with db.session() as s:
        w = Workspace(slug="streams-sv", name="streams")
        u = User(email="sv@example.com", display_name="sv", password_hash="x")
        s.add_all([w, u])
        s.flush()
        return w.id, u.id


@pytest.fixture(scope="module")
def supervisor(sv_settings, ray_local, db):
    old = stream_supervisor()  # one another module's Serve ingress left behind
    if old is not None:
        ray.kill(old, no_restart=True)
    handle = ensure_stream_supervisor(sv_settings)
    ray.get(handle.status.remote())
    yield handle
    ray.get((stream_supervisor() or handle).stop.remote(), timeout=60)
    ray.kill(stream_supervisor() or handle, no_restart=True)


@pytest.fixture(autouse=True)
def stop_after(request, db, ws, sv_settings):
    """Stop what the test started: the next one gets the CPUs (and the quota) back."""
    yield
    if "supervisor" not in request.fixturenames:
        return
    rows, _ = streams.page(db, ws[0], 100)
    for r in rows:
        if r.status is not MonitorStatus.STOPPED:
            streams.control(sv_settings, db, ws[0], r.id, Control.STOP)
    handle = request.getfixturevalue("supervisor")
    assert poll(lambda: not ray.get(handle.status.remote(), timeout=30)["workers"], 60), (
        "workers outlived their stopped monitors")


def poll(fn, timeout: float, every: float = 0.2):  # type: ignore[no-untyped-def]
    """``fn()`` until it returns something truthy (returned), or the last value at timeout."""
    deadline = time.monotonic() + timeout
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


def row(db, mid: str) -> StreamMonitor:
    with db.session() as s:
        return s.get(StreamMonitor, mid)


def worker_of(handle, mid: str) -> str | None:
    return ray.get(handle.status.remote(), timeout=30)["workers"].get(mid)


def beating_since(db, mid: str, since: datetime) -> StreamMonitor | None:
    r = row(db, mid)
    return r if r.last_seen_at and r.last_seen_at > since else None


def new_monitor(sv_settings, db, ws, **chosen) -> str:
    made = streams.create(sv_settings, db, ws[0], ws[1], "http://localhost:8080/live.m3u8",
                          chosen)  # fmt: skip
    return made.monitor.id


def test_a_monitor_gets_a_worker_that_beats_and_reports(sv_settings, db, ws, supervisor):
    mid = new_monitor(sv_settings, db, ws)
    active = poll(lambda: (r := row(db, mid)).status is MonitorStatus.ACTIVE and r, 90)
    assert active, f"the monitor never became active: {row(db, mid).status}"
    assert active.claimed_by == ray.get(supervisor.status.remote())["holder"]
    assert poll(lambda: beating_since(db, mid, active.last_seen_at), 10), "no heartbeat"
    assert worker_of(supervisor, mid)
    assert streams.buffer_dir(sv_settings, mid).is_dir()


def test_a_killed_worker_is_recreated_within_the_heartbeat_timeout(sv_settings, db, ws,
                                                                   supervisor):  # fmt: skip
    mid = new_monitor(sv_settings, db, ws)
    first = poll(lambda: worker_of(supervisor, mid), 90)
    assert first, "no worker started"
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60)
    restarts = ray.get(supervisor.status.remote())["restarts"]
    ray.kill(ray.get_actor(first, namespace=NAMESPACE), no_restart=True)
    killed = utcnow()
    second = poll(lambda: (w := worker_of(supervisor, mid)) != first and w, HEARTBEAT_TIMEOUT_S)
    assert second, f"not recreated within {HEARTBEAT_TIMEOUT_S} s"
    assert ray.get(supervisor.status.remote())["restarts"] == restarts + 1
    assert poll(lambda: beating_since(db, mid, killed), 30), "the new worker does not beat"


def test_a_worker_that_stops_beating_is_replaced(sv_settings, db, ws, supervisor):
    """A worker that is alive but wedged (its step never returns) sends no heartbeat: the
    supervisor kills it once ``last_seen_at`` is older than the heartbeat timeout."""
    mid = new_monitor(sv_settings, db, ws, keywords=["hang"])
    first = poll(lambda: worker_of(supervisor, mid), 90)
    assert first, "no worker started"
    beaten = poll(lambda: row(db, mid).last_seen_at, 90)
    assert beaten, "the worker never beat"
    second = poll(lambda: (w := worker_of(supervisor, mid)) != first and w,
                  HEARTBEAT_TIMEOUT_S + 30)  # fmt: skip
    assert second, "the wedged worker was not replaced"
    # not before the timeout: the replacement came at least that long after a beat
    assert utcnow() - beaten >= timedelta(seconds=HEARTBEAT_TIMEOUT_S)
    assert poll(lambda: not alive(first), 30), "the wedged worker was not killed"


def alive(name: str) -> bool:
    try:
        actor = ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return False
    try:
        ray.get(actor.status.remote(), timeout=5)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        return False
    return True


def test_a_worker_that_crashes_at_start_is_restarted_with_a_growing_delay(
        sv_settings, db, ws, supervisor):  # fmt: skip
    """Not every poll: after the n-th crash in a row the next worker waits 2^(n-1) s."""
    mid = new_monitor(sv_settings, db, ws, keywords=["crash"])
    failures = lambda: ray.get(supervisor.status.remote())["failures"].get(mid, 0)  # noqa: E731
    assert poll(lambda: failures() >= 1, 120), "the crash was not noticed"
    third = poll(lambda: failures() >= 3 and time.monotonic(), 180)
    assert third, "the crashing worker was not restarted"
    assert poll(lambda: failures() >= 4, 120)
    assert time.monotonic() - third >= 4  # the wait after the third crash
    assert row(db, mid).last_seen_at is None
    assert row(db, mid).status is MonitorStatus.IDLE  # still wanted: it keeps trying


def test_pause_drains_resume_restarts_stop_ends_and_removes_the_buffer(sv_settings, db, ws,
                                                                        supervisor):  # fmt: skip
    mid = new_monitor(sv_settings, db, ws)
    first = poll(lambda: worker_of(supervisor, mid), 90)
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60)
    buffer = streams.buffer_dir(sv_settings, mid)

    streams.control(sv_settings, db, ws[0], mid, Control.PAUSE)
    assert poll(lambda: worker_of(supervisor, mid) is None, 30), "the worker kept running"
    assert int((buffer / "drained").read_text()) > 0  # it drained before it ended
    assert (buffer / "closed").exists()
    assert poll(lambda: row(db, mid).claimed_by is None, 10), "the claim was kept"

    streams.control(sv_settings, db, ws[0], mid, Control.RESUME)
    second = poll(lambda: worker_of(supervisor, mid), 30)
    assert second
    assert second != first
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60)

    streams.control(sv_settings, db, ws[0], mid, Control.STOP)
    assert poll(lambda: worker_of(supervisor, mid) is None, 30), "the worker kept running"
    assert poll(lambda: not buffer.exists(), 10), "the buffer outlived the stop"
    assert row(db, mid).status is MonitorStatus.STOPPED
    # The stream's watchers were told every change, the worker's and the client's, in
    # order; once the worker let go the feed is complete.
    done = poll(lambda: (b := stream_events.read(db, mid, 0)).end is not None and b, 30)
    assert done, "the feed never ended"
    assert [m["status"] for m in done.messages] == [
        "connecting", "active", "paused", "idle", "connecting", "active", "stopped"]
    assert [m["seq"] for m in done.messages] == list(range(1, 8))
    assert done.end == {"type": "end", "status": "stopped"}


def test_a_pipeline_failure_is_reported_as_error_with_the_reason(sv_settings, db, ws,
                                                                 supervisor):  # fmt: skip
    mid = new_monitor(sv_settings, db, ws, keywords=["fail"])
    failed = poll(lambda: (r := row(db, mid)).status is MonitorStatus.ERROR and r, 90)
    assert failed, f"never failed: {row(db, mid).status}"
    assert failed.last_error.startswith("STREAM_SOURCE_DOWN: the source stopped answering")
    assert poll(lambda: worker_of(supervisor, mid) is None, 30)  # not restarted in a loop


def test_a_killed_supervisor_is_restarted_and_runs_its_monitors_again(sv_settings, db, ws,
                                                                      supervisor):  # fmt: skip
    mid = new_monitor(sv_settings, db, ws)
    before = poll(lambda: worker_of(supervisor, mid), 90)
    assert poll(lambda: row(db, mid).status is MonitorStatus.ACTIVE, 60)
    first = ray.get(supervisor.status.remote())
    holder = first["holder"]
    ray.kill(supervisor, no_restart=False)
    killed = utcnow()

    def restarted() -> str | None:
        try:
            now = ray.get(supervisor.status.remote(), timeout=30)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):  # restarting
            return None
        return now["started_at"] != first["started_at"] and now["workers"].get(mid)

    after = poll(restarted, 120)
    assert after, "the restarted supervisor did not start the monitor's worker"
    assert after != before
    assert ray.get(supervisor.status.remote())["holder"] == holder  # the same lease holder
    assert row(db, mid).claimed_by == holder
    assert poll(lambda: beating_since(db, mid, killed), 30), "no heartbeat after the restart"


def test_without_a_pipeline_the_worker_reports_that_clips_are_not_made(sv_settings, db, ws):
    """Driven as a plain object: the shipped default (no pipeline) fails loudly."""
    with db.session() as s:
        m = StreamMonitor(workspace_id=ws[0], url="http://localhost/x.m3u8", settings={},
                          status=MonitorStatus.IDLE, clips_generated=0,
                          claimed_by="plain", claim_expires_at=utcnow() + timedelta(hours=1))
        s.add(m)
        s.flush()
        mid = m.id
    bare = sv_settings.model_copy(update={"stream_pipeline": None})
    ended = StreamWorker(bare, mid, "plain", db).run()
    assert ended.startswith("STREAM_PIPELINE_MISSING")
    r = row(db, mid)
    assert r.status is MonitorStatus.ERROR
    assert "stream clips are not produced yet" in r.last_error


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_second_supervisor_waits_for_the_lease_then_takes_over(sv_settings, ray_local,
                                                                 empty_db_url):  # fmt: skip
    """Two supervisors as plain objects on a database of their own (SQLite, then
    PostgreSQL), with one clock: the second claims nothing while the first's lease holds,
    and takes over once it has expired: it clears the first's claims, claims the runnable
    monitor and starts a worker that beats."""
    migrate.upgrade(empty_db_url)
    own = Database(empty_db_url)
    here = sv_settings.model_copy(update={"database_url": empty_db_url})
    lease = here.stream_supervisor_lease_s
    clock = Clock()
    second = None
    try:
        with own.session() as s:
            w = Workspace(slug="lease", name="lease")
            s.add(w)
            s.flush()
            paused = StreamMonitor(workspace_id=w.id, settings={}, url="http://localhost/p",
                                   status=MonitorStatus.PAUSED, clips_generated=0)
            s.add(paused)
        first = StreamSupervisor(here, loop=False, clock=clock, db=own, holder="first")
        second = StreamSupervisor(here, loop=False, clock=clock, db=own, holder="second")
        first.tick()
        assert first.leader
        with own.session() as s:  # as if the first had claimed it before it was paused
            s.get(StreamMonitor, paused.id).claimed_by = "first"
            live = StreamMonitor(workspace_id=w.id, settings={}, url="http://localhost/l",
                                 status=MonitorStatus.IDLE, clips_generated=0)
            s.add(live)
        for _ in range(3):  # the first renews its lease (its ticks' heartbeat) in time
            clock.advance(lease * 0.9)
            second.tick()
            assert not second.leader
            with own.session() as s:
                assert s.get(StreamMonitor, live.id).claimed_by is None
                assert store.lease_holder(s, LEASE).holder == "first"
                assert store.take_lease(s, LEASE, "first", clock(), lease)
        clock.advance(lease + 0.1)  # the first went silent: its lease expired
        took = utcnow()
        second.tick()
        assert second.leader
        with own.session() as s:
            assert store.lease_holder(s, LEASE).holder == "second"
            assert s.get(StreamMonitor, paused.id).claimed_by is None  # stale claim cleared
            assert s.get(StreamMonitor, live.id).claimed_by == "second"
        assert live.id in second.workers
        assert poll(lambda: beating_since(own, live.id, took), 120), "the worker never beat"
        first.tick()  # the old one finds the lease taken and steps down
        assert not first.leader
    finally:
        if second is not None:
            second.stop()
        own.dispose()
