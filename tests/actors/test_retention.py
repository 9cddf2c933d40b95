"""The retention keeper against a real database, a real S3 bucket and a real Ray actor: an
injected clock, a property over random clips, orphans, faults injected into a sweep's
object deletions, and the first sweep of a (re)started keeper.

The module has its own database and its own app-owned bucket, so a sweep eight days ahead
touches nothing of the other tests."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest
import ray
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from clipray.actors.retention import (
    KEEPER_NAME,
    RetentionKeeper,
    ensure_retention_keeper,
    retention_keeper,
)
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets, ObjectInfo, ObjectStore, StorageError, open_buckets
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    GeneratedStatus,
    SourceOrigin,
    new_id,
    utcnow,
)
from clipray.storage.repos import SourceMeta, SourceRepo, WorkspaceRepo
from clipray.storage.uploads import UploadRepo, last_sweep, record_sweep

pytestmark = pytest.mark.timeout(600)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
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
def module_buckets(rsettings, s3_server):
    buckets = open_buckets(s3_server, rsettings)
    buckets.ensure()
    return buckets


@pytest.fixture(scope="module")
def store(module_buckets):
    return module_buckets.generated


@pytest.fixture(scope="module")
def media(module_buckets):
    return module_buckets.media


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


class Budget:
    """How many deletions the faulty bucket still lets through."""

    def __init__(self, left: int) -> None:
        self.left = left


class FaultyStore(ObjectStore):
    """The real bucket, whose deletions fail once the budget is spent: a fault injected at
    the storage step of a sweep, at an exact point, instead of a kill at a random one."""

    def __init__(self, base: ObjectStore, budget: Budget) -> None:
        super().__init__(base.client, base.bucket, transfer=base.transfer,
                         workspace_id=base.workspace_id,
                         presign_expiry_s=base.presign_expiry_s)  # fmt: skip
        self.budget = budget

    def scoped(self, workspace_id: str) -> ObjectStore:
        return FaultyStore(super().scoped(workspace_id), self.budget)

    def _spend(self, what: str) -> None:
        if self.budget.left <= 0:
            raise StorageError(f"injected fault deleting {what}")
        self.budget.left -= 1

    def delete(self, key: str) -> None:
        self._spend(key)
        super().delete(key)

    def delete_prefix(self, prefix: str) -> list[ObjectInfo]:
        self._spend(prefix)
        return super().delete_prefix(prefix)


def swept_at(db) -> datetime | None:
    with db.session() as s:
        return last_sweep(s, KEEPER_NAME)


def test_a_fault_in_object_deletion_stops_the_sweep_and_the_next_one_finishes(
        db, store, rsettings, media):  # fmt: skip
    at = utcnow() + 2 * DAY
    RetentionKeeper(rsettings, loop=False).sweep(at)  # what other tests left due is gone
    with db.session() as s:
        ws = WorkspaceRepo(s).create(f"fault-{uuid.uuid4().hex[:8]}").id
    due = [make(db, store, ws, "available", 1 * DAY) for _ in range(6)]
    kept = [make(db, store, ws, "kept", None) for _ in range(2)]
    before = swept_at(db)

    faulty = Buckets(media=media, generated=FaultyStore(store, Budget(3)))
    with pytest.raises(StorageError, match="injected fault"):
        RetentionKeeper(rsettings, loop=False, buckets=faulty).sweep(at)

    after = rows(db, ws)
    purged = {i for i, r in after.items() if r.status is GeneratedStatus.PURGED}
    assert len(purged) == 3  # three went through, the fourth failed
    assert purged <= set(due)
    present = {k.rsplit("/", 1)[0] for k in keys(store, ws)}
    for i in due:  # objects go before their row: a purged row has none, a live one all
        owner = after[i].storage_key.rsplit("/", 1)[0]
        assert (owner in present) is (i not in purged)
    assert swept_at(db) == before, "a failed sweep must not count as the last sweep"

    report = RetentionKeeper(rsettings, loop=False).sweep(at)
    assert report["purged"] == 3
    after = rows(db, ws)
    assert {i for i, r in after.items() if r.status is GeneratedStatus.PURGED} == set(due)
    assert all(after[i].status is GeneratedStatus.KEPT for i in kept)
    assert_rows_and_objects_agree(db, store, ws)
    assert before is None or swept_at(db) > before


def test_a_fault_while_clearing_uploads_leaves_the_rest_for_the_next_sweep(
        db, store, rsettings, media):  # fmt: skip
    with db.session() as s:
        ws = WorkspaceRepo(s).create(f"upl-{uuid.uuid4().hex[:8]}").id
    scoped = media.scoped(ws)
    lapsed = utcnow() - 3 * HOUR  # expired, and the grace (1 h) is over
    uploads = [object_key(ws, "uploads", new_id(), "upload.mp4") for _ in range(3)]
    with db.session() as s:
        for n, key in enumerate(uploads):
            UploadRepo(s, ws).reserve(key, 1000 + n, lapsed + n * timedelta(seconds=1))
    for key in uploads:
        scoped.put_bytes(key, b"u" * 1000, "video/mp4")
    faulty = Buckets(media=FaultyStore(media, Budget(1)), generated=store)

    with pytest.raises(StorageError, match="injected fault"):
        RetentionKeeper(rsettings, loop=False, buckets=faulty).sweep(utcnow())

    listed = {o.key for o in scoped.list(f"{ws}/uploads/")}
    with db.session() as s:
        held = {k for k in uploads if UploadRepo(s, ws).get(k) is not None}
    assert listed == held == set(uploads[1:])  # the first went, object then row; not the rest
    report = RetentionKeeper(rsettings, loop=False).sweep(utcnow())
    assert report["uploads"] == 2
    assert not list(scoped.list(f"{ws}/uploads/"))
    with db.session() as s:
        assert all(UploadRepo(s, ws).get(k) is None for k in uploads)


def test_a_keeper_starting_after_a_long_pause_sweeps_at_once(db, store, rsettings):
    with db.session() as s:
        record_sweep(s, KEEPER_NAME, utcnow() - 2 * HOUR)
        ws = WorkspaceRepo(s).create(f"late-{uuid.uuid4().hex[:8]}").id
    overdue = make(db, store, ws, "available", -1 * DAY)
    keeper = RetentionKeeper(rsettings)  # its loop, with an interval of an hour
    try:
        assert datetime.fromisoformat(keeper.status()["next_sweep_at"]) <= utcnow()
        deadline = time.monotonic() + 60
        while keeper.last is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.last is not None, "the keeper did not sweep on start"
        assert rows(db, ws)[overdue].status is GeneratedStatus.PURGED
        assert utcnow() - swept_at(db) < timedelta(minutes=1)
    finally:
        keeper.stop()

    again = RetentionKeeper(rsettings)  # started right after that sweep: waits the rest
    try:
        wait = datetime.fromisoformat(again.status()["next_sweep_at"]) - utcnow()
        assert timedelta(minutes=58) < wait <= HOUR
    finally:
        again.stop()


def test_the_actor_sweeps_on_start_and_after_a_restart_waits_the_rest(db, store, rsettings,
                                                                     ray_local):  # fmt: skip
    """The real detached actor: an overdue keeper sweeps as soon as it starts; Ray restarts
    it after a kill, and the restarted one takes the sweep it finished into account."""
    old = retention_keeper()
    if old is not None:
        ray.kill(old, no_restart=True)
    with db.session() as s:
        record_sweep(s, KEEPER_NAME, utcnow() - 3 * HOUR)
        ws = WorkspaceRepo(s).create(f"actor-{uuid.uuid4().hex[:8]}").id
    overdue = make(db, store, ws, "available", -1 * DAY)
    keeper = ensure_retention_keeper(rsettings)
    restarting = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                  ray.exceptions.GetTimeoutError)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while ray.get(keeper.status.remote(), timeout=60)["last"] is None:
            assert time.monotonic() < deadline, "the started keeper did not sweep"
            time.sleep(0.2)
        assert rows(db, ws)[overdue].status is GeneratedStatus.PURGED
        finished = swept_at(db)
        assert utcnow() - finished < timedelta(minutes=3)

        ray.kill(keeper, no_restart=False)  # Ray restarts it (max_restarts=-1)
        deadline = time.monotonic() + 180
        while True:
            assert time.monotonic() < deadline, "Ray did not restart the keeper"
            try:
                status = ray.get(keeper.status.remote(), timeout=10)
                if status["last"] is None:  # the new process answers
                    break
            except restarting:
                pass
            time.sleep(0.5)
        next_at = datetime.fromisoformat(status["next_sweep_at"])
        assert next_at - finished == pytest.approx(HOUR, abs=timedelta(seconds=5))
    finally:
        ray.kill(keeper, no_restart=True)
