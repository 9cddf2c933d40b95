"""The audit log over HTTP (plain FastAPI app, real SQLite and S3): each user-facing action
leaves one row with who, from where, on what and when; a refused action leaves none; only
admins read it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from clipray.serve.app import create_api
from clipray.storage.orm import Source
from clipray.storage.vclips import CoverRepo
from tests.apiclient import Account, register, upload
from tests.serve.test_api import assert_error
from tests.serve.test_generated_clips import make

FRAMES, RATE = 400, "25/1"


@pytest.fixture(scope="module")
def client(api_settings, api_db):
    with TestClient(create_api(api_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def owner(client) -> Account:
    return register(client, "audit-owner")


def _log(client, acct: Account, **params) -> list[dict]:
    resp = client.get("/api/audit", headers=acct.headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_members_jobs_cuts_and_keeps_are_logged_with_who_and_where(
    client, owner, api_db, api_settings, s3_server, short_talk
):
    from clipray.storage.objects import open_buckets

    ws, h = owner.workspace_id, owner.headers
    bob = register(client, "audit-bob")
    added = client.post(f"/api/workspaces/{ws}/members", headers=h,
                        json={"email": bob.email, "role": "editor"})  # fmt: skip
    assert added.status_code == 201, added.text
    again = client.post(f"/api/workspaces/{ws}/members", headers=h,
                        json={"email": bob.email, "role": "editor"})  # fmt: skip
    assert_error(again, 409, "ALREADY_MEMBER")  # refused: no second row
    assert client.patch(f"/api/workspaces/{ws}/members/{bob.id}", headers=h,
                        json={"role": "admin"}).status_code == 200  # fmt: skip

    sid = upload(client, owner, short_talk).json()["source_id"]
    job = client.post("/api/jobs", headers=h, json={"source_id": sid})
    assert job.status_code == 201, job.text
    with api_db.session() as s:
        CoverRepo(s, ws).create_cover(s.get(Source, sid), FRAMES, RATE, [100])
    cut = client.post(f"/api/sources/{sid}/cuts", headers=h, json={"frame": 200})
    assert cut.status_code == 201, cut.text
    gid = make(api_db, open_buckets(s3_server, api_settings).generated, owner)
    for _ in range(2):  # keeping a kept clip records nothing more
        assert client.post(f"/api/generated-clips/{gid}/keep", headers=h).status_code == 200
    assert client.delete(f"/api/workspaces/{ws}/members/{bob.id}", headers=h).status_code == 204

    rows = _log(client, owner)
    got = [(r["action"], r["resource_type"], r["resource_id"]) for r in reversed(rows)]
    assert got == [
        ("member.added", "member", bob.id),
        ("member.role_changed", "member", bob.id),
        ("job.created", "job", job.json()["id"]),
        ("cut.edited", "source", sid),
        ("clip.kept", "generated_clip", gid),
        ("member.removed", "member", bob.id),
    ]
    assert {r["user_id"] for r in rows} == {owner.id}
    assert {r["ip"] for r in rows} == {"testclient"}  # TestClient's peer address
    assert rows[-1]["detail"] == {"role": "editor", "was": None}
    cut_row = next(r for r in rows if r["action"] == "cut.edited")
    assert cut_row["detail"]["op"] == "add"
    assert cut_row["detail"]["frame"] == 200
    times = [r["at"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(t.endswith("Z") for t in times)

    only = _log(client, owner, action=["job.created", "clip.kept"])
    assert [r["action"] for r in only] == ["clip.kept", "job.created"]
    page = client.get("/api/audit", headers=h, params={"limit": 2, "page": 2}).json()
    assert (page["total"], page["pages"], len(page["data"])) == (6, 3, 2)


def test_only_admins_read_the_log_and_unknown_actions_are_refused(client, owner):
    ws = owner.workspace_id
    viewer = register(client, "audit-viewer")
    added = client.post(f"/api/workspaces/{ws}/members", headers=owner.headers,
                        json={"email": viewer.email, "role": "editor"})  # fmt: skip
    assert added.status_code == 201, added.text
    as_editor = {**viewer.headers, "X-Workspace-Id": ws}
    assert_error(client.get("/api/audit", headers=as_editor), 403, "FORBIDDEN_ROLE")
    resp = client.get("/api/audit", headers=owner.headers, params={"action": "job.exploded"})
    assert resp.status_code == 422, resp.text
    assert_error(client.get("/api/audit"), 401, "UNAUTHORIZED")
    other = register(client, "audit-other")  # another workspace sees only its own log
    assert _log(client, other) == []
