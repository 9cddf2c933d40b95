"""The retention keeper against a real database, a real S3 bucket and a real Ray actor: an
injected clock, a property over random clips, orphans, and a kill in the middle of a sweep.

The module has its own database and its own app-owned bucket, so a sweep eight days ahead
touches nothing of the other tests."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import ray
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from clipray.actors.retention import RetentionKeeper, ensure_retention_keeper, retention_keeper
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import open_buckets
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    GeneratedStatus,
    SourceOrigin,
    as_utc,
    new_id,
    utcnow,
)
from clipray.storage.repos import SourceMeta, SourceRepo, WorkspaceRepo

pytestmark = pytest.mark.timeout(600)
DAY = timedelta(days=1)
STATUS = st.sampled_from(["available", "kept", "published"])


@pytest.fixture(scope="module")
def rsettings(settings, s3_server, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('retention') / 'r.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "database_url": url, "generated_bucket": f"test-retention-{uuid.uuid4().hex[:8]}",
        "retention_interval_s": 3600.0, "retention_orphan_grace_s": 3600.0,
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(rsettings):
    database = Database(rsettings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def store(rsettings, s3_server):
    buckets = open_buckets(s3_server, rsettings)
    buckets.ensure()
    return buckets.generated


@pytest.fixture(scope="module")
def workspace(db) -> str:
    with db.session() as s:
        return WorkspaceRepo(s).create(f"ret-{uuid.uuid4().hex[:8]}").id


def make(db, store, ws: str, status: str, expires_in: timedelta | None, files: int = 2
         ) -> str:  # fmt: skip
    """A generated clip: its row and its objects (the video and a thumbnail)."""
    cand = new_id()
    key = object_key(ws, "clips", cand, "clip.mp4")
    scoped = store.scoped(ws)
    scoped.put_bytes(key, b"v" * 1000, "video/mp4")
    if files > 1:
        scoped.put_bytes(object_key(ws, "clips", cand, "thumbnail.jpg"), b"t" * 100, "image/jpeg")
    now = utcnow()
    with db.session() as s:
        row = GeneratedClip(
            workspace_id=ws, candidate_id=cand, storage_key=key, size_bytes=1000,
            duration_s=10.0, title="t", status=GeneratedStatus(status),
            expires_at=now + expires_in if expires_in is not None else None,
            kept_at=now if status == "kept" else None,
            published_at=now if status == "published" else None,
        )  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def rows(db, ws: str) -> dict[str, GeneratedClip]:
    with db.session() as s:
        found = s.scalars(select(GeneratedClip).where(GeneratedClip.workspace_id == ws))
        return {r.id: r for r in found}


def keys(store, ws: str) -> set[str]:
    return {o.key for o in store.scoped(ws).list(f"{ws}/clips/")}


def assert_rows_and_objects_agree(db, store, ws: str) -> None:
    """Every live row's video exists; every object belongs to a live row."""
    live = {r.storage_key for r in rows(db, ws).values() if r.status is not GeneratedStatus.PURGED}
    present = keys(store, ws)
    assert live <= present, f"rows point at missing objects: {live - present}"
    owners = {k.rsplit("/", 1)[0] for k in live}
    assert {k.rsplit("/", 1)[0] for k in present} <= owners, "orphaned objects remain"


def test_a_sweep_eight_days_later_removes_exactly_the_expired_available_clips(db, store, rsettings):
    with db.session() as s:
        ws = WorkspaceRepo(s).create(f"ret-{uuid.uuid4().hex[:8]}").id
        meta = SourceMeta(origin=SourceOrigin.LOCAL, origin_uri="x.mp4", storage_key="k",
                          sha256=new_id(), size_bytes=1, duration_s=20.0)  # fmt: skip
        source_id = SourceRepo(s, ws).add(meta).id
    expired = [make(db, store, ws, "available", 7 * DAY) for _ in range(3)]
    lives = (("available", 10 * DAY), ("kept", None), ("published", None), ("kept", 1 * DAY))
    stays = [make(db, store, ws, status, life) for status, life in lives]
    with db.session() as s:  # the rendered moment the first expired clip came from
        s.add(Clip(id=new_id(), workspace_id=ws, source_id=source_id, moment_id=new_id(),
                   status=ClipStatus.RENDERED, start_s=0, end_s=10, score=1, spec_hash="h",
                   video_key="v", generated_clip_id=expired[0]))  # fmt: skip

    report = RetentionKeeper(rsettings, loop=False).sweep(utcnow() + 8 * DAY)

    assert report["purged"] == 3
    assert report["freed_bytes"] == 3 * 1100
    after = rows(db, ws)
    assert {i for i, r in after.items() if r.status is GeneratedStatus.PURGED} == set(expired)
    assert all(after[i].status is not GeneratedStatus.PURGED for i in stays)
    assert_rows_and_objects_agree(db, store, ws)
    with db.session() as s:
        clip = s.scalar(select(Clip).where(Clip.source_id == source_id))
        assert clip.generated_clip_id is None  # the moment can be rendered again
        assert (clip.status, clip.video_key) == (ClipStatus.FAILED, None)
    again = RetentionKeeper(rsettings, loop=False).sweep(utcnow() + 8 * DAY)
    assert (again["purged"], again["orphans"]) == (0, 0)


@hsettings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(clips=st.lists(st.tuples(STATUS, st.none() | st.integers(-5, 5)), min_size=1,
                      max_size=8))  # fmt: skip
def test_a_sweep_deletes_exactly_the_available_and_expired(db, store, rsettings, clips):
    with db.session() as s:
        ws = WorkspaceRepo(s).create(f"prop-{uuid.uuid4().hex[:8]}").id
    made = {make(db, store, ws, status, None if off is None else off * DAY, files=1):
            (status, off) for status, off in clips}  # fmt: skip
    now = utcnow() + timedelta(hours=1)  # offsets of 0 days are due, 1 day are not
    RetentionKeeper(rsettings, loop=False).sweep(now)
    expected = {i for i, (status, off) in made.items()
                if status == "available" and off is not None and off <= 0}  # fmt: skip
    after = rows(db, ws)
    assert {i for i, r in after.items() if r.status is GeneratedStatus.PURGED} == expected
    assert_rows_and_objects_agree(db, store, ws)


def test_orphans_older_than_the_grace_are_deleted_younger_ones_wait(db, store, rsettings,
                                                                    workspace):  # fmt: skip
    orphan = object_key(workspace, "clips", new_id(), "clip.mp4")
    store.scoped(workspace).put_bytes(orphan, b"x" * 10, "video/mp4")
    live = make(db, store, workspace, "kept", None)
    now = RetentionKeeper(rsettings, loop=False).sweep(utcnow())
    assert now["orphans"] == 0  # younger than the grace: a render may not have its row yet
    assert orphan in keys(store, workspace)
    later = RetentionKeeper(rsettings, loop=False).sweep(utcnow() + timedelta(hours=2))
    assert later["orphans"] >= 1
    assert orphan not in keys(store, workspace)
    assert rows(db, workspace)[live].storage_key in keys(store, workspace)


def test_killed_in_the_middle_of_a_sweep_the_next_one_finishes(db, store, rsettings, ray_local):
    old = retention_keeper()
    if old is not None:
        ray.kill(old, no_restart=True)
    with db.session() as s:
        ws = WorkspaceRepo(s).create(f"kill-{uuid.uuid4().hex[:8]}").id
    due = [make(db, store, ws, "available", 1 * DAY) for _ in range(150)]
    kept = [make(db, store, ws, "kept", None) for _ in range(3)]
    total = len(keys(store, ws))
    keeper = ensure_retention_keeper(rsettings)
    at = (utcnow() + 2 * DAY).isoformat()
    try:
        keeper.sweep.remote(at)
        deadline = time.monotonic() + 120
        while len(keys(store, ws)) == total and time.monotonic() < deadline:
            time.sleep(0.05)
        left = len(keys(store, ws))
        assert left < total, "the sweep never started deleting"
        ray.kill(keeper, no_restart=False)  # Ray restarts it (max_restarts=-1)
        restarting = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                      ray.exceptions.GetTimeoutError)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                ray.get(keeper.status.remote(), timeout=10)
                break
            except restarting:
                time.sleep(0.5)
        # the killed process is gone now: what it left undone is the next sweep's
        purged_before = sum(r.status is GeneratedStatus.PURGED for r in rows(db, ws).values())
        assert purged_before < len(due), "the sweep finished before it could be interrupted"
        for _ in range(10):  # a call that meets the restart is answered "unavailable"
            try:
                report = ray.get(keeper.sweep.remote(at), timeout=300)
                break
            except restarting:
                time.sleep(1)
        after = rows(db, ws)
        assert {i for i, r in after.items() if r.status is GeneratedStatus.PURGED} == set(due)
        assert all(after[i].status is GeneratedStatus.KEPT for i in kept)
        assert report["now"] == at
        assert_rows_and_objects_agree(db, store, ws)
        assert all(as_utc(after[i].purged_at) <= utcnow() + 3 * DAY for i in due)
    finally:
        ray.kill(keeper, no_restart=True)
