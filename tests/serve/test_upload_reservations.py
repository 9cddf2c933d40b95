"""Presigned uploads count against the storage quota until confirmed or expired, and the
retention keeper clears what was never confirmed: the plain FastAPI app, real SQLite, the
real S3 server, a keeper swept by hand with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from clipray.actors.retention import RetentionKeeper
from clipray.serve.app import create_api
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.orm import Source, UploadReservation, Workspace, as_utc, new_id, utcnow
from tests.apiclient import Account, register, upload
from tests.conftest import cancel_active_jobs

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def usettings(api_settings, tmp_path_factory):
    """The API's settings on a database of this module's own, so that the keeper's counts
    are this module's alone; no app bucket, so the keeper leaves the session's shared one
    alone (its clips have rows in other databases)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('uploads') / 'u.db'}"
    migrate.upgrade(url)
    return api_settings.model_copy(update={"database_url": url, "generated_bucket": ""})


@pytest.fixture(scope="module")
def api_db(usettings):
    database = Database(usettings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def client(usettings, api_db):
    with TestClient(create_api(usettings)) as c:
        yield c
    cancel_active_jobs(api_db)


@pytest.fixture(scope="module")
def keeper(usettings) -> RetentionKeeper:
    return RetentionKeeper(usettings, loop=False)


def presign(client: TestClient, acct: Account, size: int):
    body = {"filename": "v.mp4", "content_type": "video/mp4", "size": size}
    return client.post("/api/upload/presign", headers=acct.headers, json=body)


def set_quota(db, acct: Account, limit: int | None) -> None:
    with db.session() as s:
        s.get(Workspace, acct.workspace_id).max_storage_bytes = limit


def reservations(db, acct: Account) -> dict[str, UploadReservation]:
    with db.session() as s:
        rows = s.scalars(select(UploadReservation)
                         .where(UploadReservation.workspace_id == acct.workspace_id))  # fmt: skip
        return {r.storage_key: r for r in rows}


def uploaded_keys(media, acct: Account) -> set[str]:
    return {o.key for o in media.scoped(acct.workspace_id).list(f"{acct.workspace_id}/uploads/")}


def test_presigns_reserve_their_declared_size(client, api_db, usettings):
    acct = register(client, "reserve")
    set_quota(api_db, acct, 1_000_000)
    first = presign(client, acct, 600_000)
    assert first.status_code == 200, first.text
    over = presign(client, acct, 600_000)  # 20 GiB each used to be fine, unboundedly
    assert over.status_code == 413
    err = over.json()["error"]
    assert err["code"] == "QUOTA_STORAGE"
    assert "600000 reserved by uploads in progress" in err["message"]
    assert presign(client, acct, 400_000).status_code == 200  # exactly full
    rows = reservations(api_db, acct)
    assert sorted(r.size_bytes for r in rows.values()) == [400_000, 600_000]
    assert first.json()["key"] in rows
    ttl = timedelta(seconds=usettings.presign_expiry_s)
    for row in rows.values():  # never shorter than the URL, hardly longer
        assert utcnow() + ttl - timedelta(minutes=1) < as_utc(row.expires_at) <= utcnow() + ttl


def test_a_confirm_frees_the_reservation_and_counts_the_real_size(client, api_db, short_talk):
    acct = register(client, "confirm")
    size = short_talk.stat().st_size
    set_quota(api_db, acct, 3 * size)
    done = upload(client, acct, short_talk, size=2 * size)  # declared larger than it is
    assert done.status_code == 200, done.text
    assert reservations(api_db, acct) == {}
    with api_db.session() as s:
        assert s.get(Source, done.json()["source_id"]).size_bytes == size
    assert presign(client, acct, 2 * size).status_code == 200  # the real size counts now
    assert presign(client, acct, 1).status_code == 413


def test_an_abandoned_upload_stops_counting_and_the_keeper_deletes_it(
        client, api_db, buckets, short_talk, keeper):  # fmt: skip
    acct = register(client, "abandon")
    data = short_talk.read_bytes()
    set_quota(api_db, acct, len(data) + len(data) // 2)
    pre = presign(client, acct, len(data)).json()
    sent = requests.post(pre["url"], data=pre["fields"], files={"file": ("v.mp4", data)},
                         timeout=60)  # fmt: skip
    assert sent.status_code in (200, 204)
    assert presign(client, acct, len(data)).status_code == 413  # held by the unconfirmed one
    # its presign expires (the clock moved on): it no longer counts, its object is still there
    with api_db.session() as s:
        s.execute(update(UploadReservation).where(UploadReservation.storage_key == pre["key"])
                  .values(expires_at=utcnow() - timedelta(minutes=10)))  # fmt: skip
    second = presign(client, acct, len(data))
    assert second.status_code == 200
    assert uploaded_keys(buckets.media, acct) == {pre["key"]}

    within_grace = keeper.sweep(utcnow())
    assert pre["key"] in reservations(api_db, acct)  # an upload begun at expiry may still land
    assert uploaded_keys(buckets.media, acct) == {pre["key"]}
    assert within_grace["uploads"] == 0

    later = keeper.sweep(utcnow() + 1.5 * HOUR)  # the first one's grace is over, not the second's
    assert later["uploads"] == 1
    assert later["upload_bytes"] == len(data)
    assert uploaded_keys(buckets.media, acct) == set()
    assert set(reservations(api_db, acct)) == {second.json()["key"]}
    resp = client.post("/api/upload/confirm", headers=acct.headers, json={"key": pre["key"]})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "UPLOAD_NOT_FOUND"


def test_an_upload_object_no_reservation_holds_is_deleted_once_old(
        client, api_db, usettings, buckets, keeper):  # fmt: skip
    """What a confirm that crashed between freeing the reservation and deleting the object
    leaves; sources next to it are never touched."""
    acct = register(client, "stray")
    ws = acct.workspace_id
    media = buckets.media.scoped(ws)
    stray = object_key(ws, "uploads", new_id(), "upload.mp4")
    source = object_key(ws, "sources", new_id(), "original.mp4")
    for key in (stray, source):
        media.put_bytes(key, b"x" * 100, "video/mp4")
    max_age = timedelta(seconds=usettings.presign_expiry_s + usettings.retention_upload_grace_s)

    young = keeper.sweep(utcnow() + max_age - timedelta(minutes=5))
    assert young["uploads"] == 0
    assert uploaded_keys(buckets.media, acct) == {stray}

    at = utcnow() + max_age + timedelta(minutes=5)
    cutoff = at - timedelta(seconds=usettings.retention_upload_grace_s)
    with api_db.session() as s:  # the earlier tests' presigns have expired by then too
        lapsed = len(s.scalars(select(UploadReservation.id)
                               .where(UploadReservation.expires_at <= cutoff)).all())  # fmt: skip
    old = keeper.sweep(at)
    assert old["uploads"] == lapsed + 1
    assert old["upload_bytes"] == 100  # those were presigned, never sent
    assert uploaded_keys(buckets.media, acct) == set()
    assert media.head(source) is not None
    media.delete(source)
