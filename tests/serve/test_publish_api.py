"""Publications over HTTP (plain FastAPI app, real SQLite and S3, platforms configured but
never called): create, list with filters, get, cancel; Idempotency-Key replays (also 20 at
once); a second open publication refused; purged and unready clips refused; an editor's
request approved or rejected by an admin, audited with the address; a viewer refused; the
schedule checked; the calendar; batch publishing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from clipray.domain.time import rfc3339
from clipray.serve.app import create_api
from clipray.storage.objects import open_buckets
from clipray.storage.orm import ClipStatus, GeneratedStatus, Publication, utcnow
from tests.apiclient import Account, register
from tests.conftest import at_once
from tests.publish.rows import account, generated, rendered, with_platforms
from tests.serve.test_api import assert_error

FIELDS = {"id", "clip_id", "clip_kind", "account_id", "platform", "status", "platform_post_id",
          "url", "error", "metadata", "scheduled_at", "published_at", "created_at",
          "requested_by", "decided_by"}  # fmt: skip


@pytest.fixture(scope="module")
def client(api_settings):
    with TestClient(create_api(with_platforms(api_settings))) as c:
        yield c


@pytest.fixture(scope="module")
def store(api_settings, s3_server):
    return open_buckets(s3_server, api_settings).generated


@pytest.fixture
def owner(client) -> Account:
    return register(client, "pub-owner")


def member(client, owner: Account, role: str) -> dict[str, str]:
    """Headers of a new user with ``role`` in the owner's workspace."""
    acct = register(client, f"pub-{role}")
    added = client.post(f"/api/workspaces/{owner.workspace_id}/members", headers=owner.headers,
                        json={"email": acct.email, "role": role})  # fmt: skip
    assert added.status_code == 201, added.text
    return {**acct.headers, "X-Workspace-Id": owner.workspace_id, "X-User-Id": acct.id}


def body(clips, accounts, **extra) -> dict:
    return {"clip_ids": list(clips), "account_ids": list(accounts), **extra}


def post(client, headers, payload, path="/api/publish", key: str | None = None):
    h = {k: v for k, v in headers.items() if k != "X-User-Id"}
    if key is not None:
        h["Idempotency-Key"] = key
    return client.post(path, headers=h, json=payload)


def test_create_list_get_and_cancel(client, owner, api_db, store):
    ws = owner.workspace_id
    gid, cid = generated(api_db, store, ws), rendered(api_db, store, ws, title="Rendered")
    yt, tt = account(api_db, ws, "youtube"), account(api_db, ws, "tiktok")
    meta = {"title": "Launch day", "description": "It is out.", "hashtags": ["launch", "#AI"],
            "privacy": "unlisted"}  # fmt: skip
    resp = post(client, owner.headers, body([gid, cid], [yt], metadata=meta))
    assert resp.status_code == 201, resp.text
    made = resp.json()["data"]
    assert [(p["clip_id"], p["clip_kind"], p["platform"], p["status"]) for p in made] == [
        (gid, "generated", "youtube", "pending"), (cid, "clip", "youtube", "pending")]
    one = made[0]
    assert set(one) == FIELDS
    assert one["metadata"] == {"title": "Launch day", "description": "It is out.",
                               "hashtags": ["#launch", "#AI"], "privacy": "unlisted"}
    assert one["created_at"].endswith("Z")
    assert (one["requested_by"], one["decided_by"], one["error"]) == (owner.id, None, None)
    # the clip's own title when none is given
    second = post(client, owner.headers, body([cid], [tt])).json()["data"][0]
    assert second["metadata"]["title"] == "Rendered"

    listed = client.get("/api/publish", headers=owner.headers).json()
    assert listed["total"] == 3
    assert listed["data"][0]["id"] == second["id"]  # newest first
    for params, expected in (
        ({"platform": "tiktok"}, [second["id"]]),
        ({"clip_id": cid}, [second["id"], made[1]["id"]]),
        ({"account_id": yt, "status": "pending"}, [made[0]["id"], made[1]["id"]]),
        ({"status": "published"}, []),
    ):
        got = client.get("/api/publish", headers=owner.headers, params=params).json()
        assert sorted(p["id"] for p in got["data"]) == sorted(expected), params
    page = client.get("/api/publish", headers=owner.headers, params={"limit": 2, "page": 2})
    assert (page.json()["total"], len(page.json()["data"]), page.json()["pages"]) == (3, 1, 2)
    assert_error(client.get("/api/publish", headers=owner.headers, params={"status": "x"}),
                 422, "VALIDATION_ERROR")  # fmt: skip

    assert client.get(f"/api/publish/{one['id']}", headers=owner.headers).json() == one
    gone = client.delete(f"/api/publish/{one['id']}", headers=owner.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "cancelled"
    assert_error(client.delete(f"/api/publish/{one['id']}", headers=owner.headers), 409,
                 "PUBLICATION_NOT_CANCELLABLE")  # fmt: skip
    with api_db.session() as s:  # being uploaded: too late to cancel
        s.get(Publication, made[1]["id"]).status = "publishing"
    assert_error(client.delete(f"/api/publish/{made[1]['id']}", headers=owner.headers), 409,
                 "PUBLICATION_NOT_CANCELLABLE")  # fmt: skip
    assert_error(client.get(f"/api/publish/{'f' * 32}", headers=owner.headers), 404,
                 "PUBLICATION_NOT_FOUND")  # fmt: skip
    stranger = register(client, "pub-stranger")
    assert_error(client.get(f"/api/publish/{one['id']}", headers=stranger.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert client.get("/api/publish", headers=stranger.headers).json()["total"] == 0


def test_the_same_key_returns_the_same_publications(client, owner, api_db, store):
    ws = owner.workspace_id
    gid, yt = generated(api_db, store, ws), account(api_db, ws, "youtube")
    key = f"k-{uuid.uuid4()}"
    replies = at_once(*[lambda: post(client, owner.headers, body([gid], [yt]), key=key)] * 20)
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] * 19 + [201]
    ids = {r.json()["data"][0]["id"] for r in replies}
    assert len(ids) == 1
    assert all(r.headers.get("idempotent-replayed") == "true" for r in replies
               if r.status_code == 200)  # fmt: skip
    listed = client.get("/api/publish", headers=owner.headers, params={"clip_id": gid}).json()
    assert [p["id"] for p in listed["data"]] == list(ids)
    # the same key for another request is a client's bug; without a key, a duplicate
    other = generated(api_db, store, ws)
    assert_error(post(client, owner.headers, body([other], [yt]), key=key), 422,
                 "IDEMPOTENCY_KEY_REUSED")  # fmt: skip
    err = assert_error(post(client, owner.headers, body([gid], [yt])), 409, "PUBLICATION_EXISTS")
    assert err["detail"] == {"publication_ids": list(ids)}
    assert_error(post(client, owner.headers, body([other], [yt]), key="has space"), 422,
                 "IDEMPOTENCY_KEY_INVALID")  # fmt: skip


def test_clips_that_cannot_be_posted_are_refused_and_nothing_is_written(client, owner, api_db,
                                                                        store):  # fmt: skip
    ws = owner.workspace_id
    good, yt = generated(api_db, store, ws), account(api_db, ws, "youtube")
    purged = generated(api_db, store, ws, status=GeneratedStatus.PURGED, life=None)
    expired = generated(api_db, store, ws, life=timedelta(seconds=-5))  # not swept yet
    pending = rendered(api_db, store, ws, status=ClipStatus.PENDING)
    missing = generated(api_db, store, ws, upload=False)
    for bad, status, code in ((purged, 409, "CLIP_PURGED"), (expired, 409, "CLIP_PURGED"),
                              (pending, 409, "CLIP_NOT_READY"),
                              (missing, 409, "CLIP_FILE_MISSING"),
                              ("f" * 32, 404, "CLIP_NOT_FOUND")):  # fmt: skip
        assert_error(post(client, owner.headers, body([good, bad], [yt])), status, code)
    elsewhere = register(client, "pub-elsewhere")
    theirs = generated(api_db, store, elsewhere.workspace_id)
    assert_error(post(client, owner.headers, body([good, theirs], [yt])), 403, "FORBIDDEN")
    off = account(api_db, ws, "x")
    assert_error(post(client, owner.headers, body([good], [yt, off])), 409, "PLATFORM_OFF")
    assert_error(post(client, owner.headers, body([good], [yt, "f" * 32])), 404,
                 "CONNECTED_ACCOUNT_NOT_FOUND")  # fmt: skip
    assert_error(post(client, owner.headers, body([good], [yt], metadata={"privacy": "nope"})),
                 422, "PUBLISH_PRIVACY_INVALID")  # fmt: skip
    assert_error(post(client, owner.headers, body([good], [yt], metadata={"colour": "red"})),
                 422, "VALIDATION_ERROR")  # fmt: skip
    assert client.get("/api/publish", headers=owner.headers).json()["total"] == 0


def test_an_editors_request_waits_for_an_admin_and_decisions_are_audited(
    client, owner, api_db, store
):
    ws = owner.workspace_id
    editor, admin, viewer = (member(client, owner, r) for r in ("editor", "admin", "viewer"))
    gid, yt = generated(api_db, store, ws), account(api_db, ws, "youtube")
    other = generated(api_db, store, ws)
    assert_error(post(client, viewer, body([gid], [yt])), 403, "FORBIDDEN_ROLE")
    at = rfc3339(utcnow() + timedelta(hours=3))
    asked = post(client, editor, body([gid, other], [yt], scheduled_at=at))
    assert asked.status_code == 201, asked.text
    first, second = asked.json()["data"]
    assert (first["status"], first["requested_by"]) == ("requested", editor["X-User-Id"])
    clean = {k: v for k, v in editor.items() if k != "X-User-Id"}
    for path in ("approve", "reject"):
        assert_error(client.post(f"/api/publish/{first['id']}/{path}", headers=clean), 403,
                     "FORBIDDEN_ROLE")  # fmt: skip
    admin_h = {k: v for k, v in admin.items() if k != "X-User-Id"}
    approved = client.post(f"/api/publish/{first['id']}/approve", headers=admin_h)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "scheduled"  # its time is still ahead
    assert approved.json()["decided_by"] == admin["X-User-Id"]
    assert_error(client.post(f"/api/publish/{first['id']}/approve", headers=admin_h), 409,
                 "PUBLICATION_NOT_REQUESTED")  # fmt: skip
    # one whose time passed while it waited is due at once
    with api_db.session() as s:
        s.get(Publication, second["id"]).scheduled_at = utcnow() - timedelta(minutes=5)
    late = client.post(f"/api/publish/{second['id']}/approve", headers=owner.headers).json()
    assert late["status"] == "pending"
    # a rejected request is final
    third = post(client, editor, body([gid], [account(api_db, ws, "tiktok")])).json()["data"][0]
    rejected = client.post(f"/api/publish/{third['id']}/reject", headers=admin_h)
    assert rejected.json()["status"] == "rejected"
    # an admin's own publication needs no approval; viewers read
    fourth = post(client, admin, body([other], [account(api_db, ws, "linkedin")]))
    assert fourth.json()["data"][0]["status"] == "pending"
    viewer_h = {k: v for k, v in viewer.items() if k != "X-User-Id"}
    assert client.get("/api/publish", headers=viewer_h).json()["total"] == 4
    assert_error(client.delete(f"/api/publish/{fourth.json()['data'][0]['id']}",
                               headers=clean), 403, "FORBIDDEN_ROLE")  # fmt: skip

    log = client.get("/api/audit", headers=owner.headers,
                     params={"action": ["publication.approved", "publication.rejected"]})
    rows = [(r["action"], r["resource_id"], r["user_id"], r["ip"]) for r in log.json()["data"]]
    assert sorted(rows) == sorted([
        ("publication.approved", first["id"], admin["X-User-Id"], "testclient"),
        ("publication.approved", second["id"], owner.id, "testclient"),
        ("publication.rejected", third["id"], admin["X-User-Id"], "testclient"),
    ])  # fmt: skip
    created = client.get("/api/audit", headers=owner.headers,
                         params={"action": "publication.created"}).json()["data"]
    assert len(created) == 4
    assert {r["detail"]["status"] for r in created} == {"requested", "pending"}


def test_the_schedule_is_checked(client, owner, api_db, store):
    ws = owner.workspace_id
    gid, yt = generated(api_db, store, ws), account(api_db, ws, "youtube")
    past = rfc3339(utcnow() - timedelta(minutes=1))
    assert_error(post(client, owner.headers, body([gid], [yt], scheduled_at=past)), 422,
                 "SCHEDULED_AT_PAST")  # fmt: skip
    naive = (utcnow() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert_error(post(client, owner.headers, body([gid], [yt], scheduled_at=naive)), 422,
                 "SCHEDULED_AT_NAIVE")  # fmt: skip
    assert_error(post(client, owner.headers, body([gid], [yt], scheduled_at=2_000_000_000)),
                 422, "VALIDATION_ERROR")  # fmt: skip
    assert_error(post(client, owner.headers, body([gid], [yt]), path="/api/publish/schedule"),
                 422, "VALIDATION_ERROR")  # fmt: skip
    when = (utcnow() + timedelta(days=2)).astimezone(
        datetime.now().astimezone().tzinfo).replace(microsecond=0)  # fmt: skip
    at = when.isoformat()  # an offset other than Z is fine
    made = post(client, owner.headers, body([gid], [yt], scheduled_at=at),
                path="/api/publish/schedule")  # fmt: skip
    assert made.status_code == 201, made.text
    row = made.json()["data"][0]
    assert row["status"] == "scheduled"
    assert row["scheduled_at"] == rfc3339(when.astimezone(UTC))
    assert client.get("/api/publish", headers=owner.headers,
                      params={"status": "scheduled"}).json()["total"] == 1  # fmt: skip


def test_the_calendar_shows_scheduled_publishing_and_published_by_day(client, owner, api_db,
                                                                      store):  # fmt: skip
    ws = owner.workspace_id
    yt, tt = account(api_db, ws, "youtube"), account(api_db, ws, "tiktok")
    today = utcnow().date()

    def day(n: int, hour: int) -> datetime:
        return datetime(today.year, today.month, today.day, hour, tzinfo=UTC) + timedelta(days=n)

    clips = [generated(api_db, store, ws, title=f"clip {i}") for i in range(5)]
    sched = [post(client, owner.headers, body([clips[i]], [yt], scheduled_at=rfc3339(day(n, h))))
             .json()["data"][0]["id"] for i, (n, h) in enumerate(((2, 18), (2, 9), (40, 12)))]
    pending = post(client, owner.headers, body([clips[3]], [yt])).json()["data"][0]["id"]
    done = post(client, owner.headers, body([clips[4]], [tt])).json()["data"][0]["id"]
    with api_db.session() as s:  # what the publisher records (not this part's work)
        row = s.get(Publication, done)
        row.status, row.published_at = "published", day(0, 0)
        row.platform_post_id, row.url = "v123", "https://tiktok.example/v123"

    cal = client.get("/api/publish/calendar", headers=owner.headers)
    assert cal.status_code == 200, cal.text
    doc = cal.json()
    assert (doc["from"], doc["to"]) == (today.isoformat(),
                                        (today + timedelta(days=27)).isoformat())  # fmt: skip
    by_day = {d["date"]: [p["id"] for p in d["publications"]] for d in doc["days"]}
    assert by_day == {today.isoformat(): [done],
                      (today + timedelta(days=2)).isoformat(): [sched[1], sched[0]]}
    assert pending not in str(doc)
    far = client.get("/api/publish/calendar", headers=owner.headers,
                     params={"from": (today + timedelta(days=40)).isoformat(),
                             "to": (today + timedelta(days=40)).isoformat()}).json()  # fmt: skip
    assert [[p["id"] for p in d["publications"]] for d in far["days"]] == [[sched[2]]]
    assert_error(client.get("/api/publish/calendar", headers=owner.headers,
                            params={"from": "2026-01-01", "to": "2026-06-01"}), 422,
                 "CALENDAR_RANGE_TOO_LONG")  # fmt: skip
    assert_error(client.get("/api/publish/calendar", headers=owner.headers,
                            params={"from": "2026-01-02", "to": "2026-01-01"}), 422,
                 "CALENDAR_RANGE_INVALID")  # fmt: skip


def test_batch_publish_makes_one_publication_per_clip_and_account(client, owner, api_db, store):
    ws = owner.workspace_id
    clips = [generated(api_db, store, ws) for _ in range(3)] + [rendered(api_db, store, ws)]
    accounts = [account(api_db, ws, "youtube"), account(api_db, ws, "linkedin")]
    resp = post(client, owner.headers, body(clips, accounts, metadata={"title": "Batch"}),
                path="/api/clips/batch/publish")  # fmt: skip
    assert resp.status_code == 201, resp.text
    pairs = [(p["clip_id"], p["account_id"]) for p in resp.json()["data"]]
    assert pairs == [(c, a) for c in clips for a in accounts]
    assert len({p["id"] for p in resp.json()["data"]}) == 8
    # one bad clip in a batch: none of it
    purged = generated(api_db, store, ws, status=GeneratedStatus.PURGED, life=None)
    fresh = [generated(api_db, store, ws) for _ in range(2)]
    assert_error(post(client, owner.headers, body([*fresh, purged], accounts),
                      path="/api/clips/batch/publish"), 409, "CLIP_PURGED")  # fmt: skip
    assert client.get("/api/publish", headers=owner.headers).json()["total"] == 8
