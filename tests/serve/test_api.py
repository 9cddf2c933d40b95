"""The HTTP API against the plain FastAPI app: real SQLite, real S3, real ffprobe; no Ray
(the job runner's side is in tests/actors)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from clipray.serve.app import create_api
from clipray.storage.orm import Clip, ClipStatus, RefreshToken, Source, Workspace, utcnow
from tests.apiclient import Account, register, upload
from tests.conftest import MEDIA, cancel_active_jobs


@pytest.fixture(scope="module")
def client(api_settings, api_db):
    with TestClient(create_api(api_settings)) as c:
        yield c
    # No runner runs here; the jobs made here must not wait for the next module's runner.
    cancel_active_jobs(api_db)


@pytest.fixture(scope="module")
def db(api_db):
    return api_db


@pytest.fixture(scope="module")
def alice(client) -> Account:
    return register(client, "alice")


@pytest.fixture(scope="module")
def source_id(client, alice, short_talk) -> str:
    resp = upload(client, alice, short_talk)
    assert resp.status_code == 200, resp.text
    return resp.json()["source_id"]


def assert_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code
    assert err["message"]
    assert err["trace_id"] == resp.headers["x-trace-id"]
    return err


# --- accounts ----------------------------------------------------------------------------
def test_register_makes_a_personal_workspace_with_the_user_as_owner(client):
    acct = register(client, "owner")
    me = client.get("/api/auth/me", headers=acct.headers).json()
    assert me["workspace_id"] == acct.workspace_id
    assert me["role"] == "owner"
    workspaces = client.get("/api/workspaces", headers=acct.headers).json()
    assert [(w["id"], w["role"]) for w in workspaces] == [(acct.workspace_id, "owner")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"email": "x@example.com", "password": "short", "name": "x"}, 422,
                     "PASSWORD_TOO_WEAK", id="weak-password"),
        pytest.param({"email": "not-an-email", "password": "long enough pw"}, 422,
                     "VALIDATION_ERROR", id="bad-email"),
        pytest.param({"password": "long enough pw"}, 422, "VALIDATION_ERROR", id="no-email"),
    ],
)  # fmt: skip
def test_register_refuses_bad_input(client, body, status, code):
    assert_error(client.post("/api/auth/register", json=body), status, code)


def test_register_twice_is_a_conflict(client, alice):
    body = {"email": alice.email.upper(), "password": "another good one", "name": "a"}
    assert_error(client.post("/api/auth/register", json=body), 409, "EMAIL_TAKEN")


def test_login_with_a_wrong_password_or_unknown_email(client, alice):
    bad = {"email": alice.email, "password": "wrong password!"}
    assert_error(client.post("/api/auth/login", json=bad), 401, "INVALID_CREDENTIALS")
    ghost = {"email": "ghost@example.com", "password": "wrong password!"}
    assert_error(client.post("/api/auth/login", json=ghost), 401, "INVALID_CREDENTIALS")


def test_refresh_rotates_and_a_reused_token_revokes_the_family(client, db):
    acct = register(client, "rotate")
    first = client.post("/api/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert first.status_code == 200
    pair = first.json()
    assert pair["token_type"] == "bearer"
    assert pair["refresh_token"] != acct.refresh_token
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
                      ).status_code == 200  # fmt: skip
    # The old refresh token again: theft. It fails and takes the new one down with it.
    replay = client.post("/api/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert_error(replay, 401, "TOKEN_REUSED")
    newer = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_error(newer, 401, "TOKEN_REUSED")
    with db.session() as s:  # stored hashed: the token itself is nowhere in the table
        hashes = [r.token_hash for r in s.query(RefreshToken).all()]
    assert acct.refresh_token not in hashes
    assert all(len(h) == 64 for h in hashes)


def test_an_expired_refresh_token_is_refused(client, db):
    acct = register(client, "expired")
    with db.session() as s:
        s.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1))
                  .where(RefreshToken.user_id == acct.id))  # fmt: skip
    resp = client.post("/api/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert_error(resp, 401, "TOKEN_EXPIRED")


def test_logout_revokes_the_refresh_token(client):
    acct = register(client, "logout")
    assert client.post("/api/auth/logout", json={"refresh_token": acct.refresh_token}
                       ).status_code == 204  # fmt: skip
    resp = client.post("/api/auth/refresh", json={"refresh_token": acct.refresh_token})
    assert resp.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Basic abc"}, id="basic"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, id="garbage"),
        pytest.param({"Authorization": "Bearer crt_unknown"}, id="unknown-api-token"),
    ],
)
def test_no_or_bad_credentials_is_401(client, headers):
    resp = client.get("/api/jobs", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json()["error"]["code"] in {"UNAUTHORIZED", "TOKEN_INVALID"}


def test_login_is_rate_limited_per_ip_across_replicas(api_settings):
    """Two apps (two replicas) share the limit because the counter is in the database."""
    limited = api_settings.model_copy(update={"rate_limit_login_per_minute": 5})
    ip = ("203.0.113.7", 50000)  # this test's own client address: its own counter
    with TestClient(create_api(limited), client=ip) as one, \
            TestClient(create_api(limited), client=ip) as two:
        acct = register(one, "ratelimit")
        body = {"email": acct.email, "password": "wrong password!"}
        # register() logged in once already; four more fill the minute's five
        codes = [(one if n % 2 else two).post("/api/auth/login", json=body).status_code
                 for n in range(4)]  # fmt: skip
        assert codes == [401] * 4
        over = two.post("/api/auth/login", json={"email": acct.email, "password": acct.password})
        err = assert_error(over, 429, "RATE_LIMITED")
        assert "retry" in err["message"]
        assert 0 < int(over.headers["retry-after"]) <= 60


def test_register_is_rate_limited_per_hour(api_settings):
    limited = api_settings.model_copy(update={"rate_limit_register_per_hour": 3})
    with TestClient(create_api(limited), client=("203.0.113.8", 50000)) as c:
        c.post("/api/auth/register", json={"email": "warm@example.com", "password": "x"})
        for n in range(2):
            c.post("/api/auth/register", json={"email": f"r{n}@example.com", "password": "x"})
        resp = c.post("/api/auth/register",
                      json={"email": "late@example.com", "password": "long enough pw"})  # fmt: skip
        assert_error(resp, 429, "RATE_LIMITED")
        assert int(resp.headers["retry-after"]) <= 3600


# --- workspaces and roles ------------------------------------------------------------------
def test_members_and_roles(client, alice):
    team = client.post("/api/workspaces", headers=alice.headers, json={"name": "team"}).json()
    assert team["role"] == "owner"
    viewer, editor = register(client, "viewer"), register(client, "editor")
    url = f"/api/workspaces/{team['id']}/members"
    for acct, role in ((viewer, "viewer"), (editor, "editor")):
        resp = client.post(url, headers=alice.headers, json={"email": acct.email, "role": role})
        assert resp.status_code == 201, resp.text
    as_team = lambda a: {**a.headers, "X-Workspace-Id": team["id"]}  # noqa: E731

    # a viewer reads but cannot create a job
    assert client.get("/api/jobs", headers=as_team(viewer)).status_code == 200
    resp = client.post("/api/jobs", headers=as_team(viewer),
                       json={"source_url": "https://www.youtube.com/watch?v=x"})  # fmt: skip
    assert_error(resp, 403, "FORBIDDEN_ROLE")
    # an editor cannot manage members
    assert_error(client.post(url, headers=editor.headers, json={"email": viewer.email,
                                                                "role": "admin"}),
                 403, "FORBIDDEN_ROLE")  # fmt: skip
    # promote, then the last owner cannot leave
    resp = client.patch(f"{url}/{viewer.id}", headers=alice.headers, json={"role": "editor"})
    assert resp.json()["role"] == "editor"
    assert_error(client.delete(f"{url}/{alice.id}", headers=alice.headers), 409, "LAST_OWNER")
    assert client.delete(f"{url}/{viewer.id}", headers=alice.headers).status_code == 204
    assert_error(client.get("/api/jobs", headers=as_team(viewer)), 403, "WORKSPACE_FORBIDDEN")
    members = client.get(url, headers=alice.headers).json()
    assert {m["email"]: m["role"] for m in members} == {alice.email: "owner",
                                                         editor.email: "editor"}  # fmt: skip


def test_a_stranger_cannot_act_in_a_workspace(client, alice):
    bob = register(client, "bob")
    headers = {**bob.headers, "X-Workspace-Id": alice.workspace_id}
    assert_error(client.get("/api/jobs", headers=headers), 403, "WORKSPACE_FORBIDDEN")
    url = f"/api/workspaces/{alice.workspace_id}/members"
    assert_error(client.get(url, headers=bob.headers), 403, "WORKSPACE_FORBIDDEN")


# --- uploads -------------------------------------------------------------------------------
def test_upload_confirm_registers_a_source(client, alice, source_id, db):
    with db.session() as s:
        src = s.get(Source, source_id)
        assert src is not None
        assert src.workspace_id == alice.workspace_id
        assert round(src.duration_s) == 16
        assert (src.width, src.height) == (480, 480)


def _uploads_left(api_settings, workspace_id: str) -> list[str]:
    from clipray.cluster.services import open_storage

    store = open_storage(api_settings).media.scoped(workspace_id)
    return [o.key for o in store.list(f"{workspace_id}/uploads/")]


def test_a_text_file_named_mp4_is_refused_and_removed(client, alice, tmp_path, api_settings):
    fake = tmp_path / "movie.mp4"
    fake.write_text("this is not a video\n" * 50)
    assert_error(upload(client, alice, fake), 422, "MEDIA_NOT_A_VIDEO")
    assert _uploads_left(api_settings, alice.workspace_id) == []


def test_a_corrupt_upload_is_refused(client, alice, short_talk, tmp_path, api_settings):
    cut = tmp_path / "cut.mp4"
    data = short_talk.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert_error(upload(client, alice, cut), 422, "MEDIA_CORRUPT")
    assert _uploads_left(api_settings, alice.workspace_id) == []


def test_an_oversized_upload_is_refused(client, alice, api_settings, short_talk):
    too_big = {"filename": "big.mp4", "content_type": "video/mp4",
               "size": api_settings.max_upload_bytes + 1}  # fmt: skip
    assert_error(client.post("/api/upload/presign", headers=alice.headers, json=too_big),
                 413, "UPLOAD_TOO_LARGE")  # fmt: skip
    # Declaring less than is sent: the bucket itself refuses the body (signed policy).
    import requests

    small = {"filename": "x.mp4", "content_type": "video/mp4", "size": 1000}
    pre = client.post("/api/upload/presign", headers=alice.headers, json=small).json()
    body = {"file": ("x.mp4", short_talk.read_bytes())}
    resp = requests.post(pre["url"], data=pre["fields"], files=body, timeout=60)
    assert resp.status_code == 400
    assert_error(client.post("/api/upload/confirm", headers=alice.headers,
                             json={"key": pre["key"]}), 404, "UPLOAD_NOT_FOUND")  # fmt: skip


def test_the_storage_quota_counts_the_workspaces_sources(client, short_talk, db, tmp_path):
    """At its quota a workspace cannot add a source: refused at presign (declared size) and
    at confirm (real size), with nothing stored."""
    carl = register(client, "quota")
    first = upload(client, carl, short_talk)
    assert first.status_code == 200, first.text
    with db.session() as s:
        used = s.get(Source, first.json()["source_id"]).size_bytes
        s.get(Workspace, carl.workspace_id).max_storage_bytes = used + 10
    body = {"filename": "b.mp4", "content_type": "video/mp4", "size": 11}
    err = assert_error(client.post("/api/upload/presign", headers=carl.headers, json=body),
                       413, "QUOTA_STORAGE")  # fmt: skip
    assert f"of {used + 10} bytes" in err["message"]
    # the quota shrank between presign and confirm: confirm refuses, nothing is kept
    import subprocess

    import requests

    other = tmp_path / "other.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(short_talk), "-t", "2",
                    "-c", "copy", str(other)], check=True)  # fmt: skip
    with db.session() as s:
        s.get(Workspace, carl.workspace_id).max_storage_bytes = None
    body = {"filename": "o.mp4", "content_type": "video/mp4", "size": other.stat().st_size}
    pre = client.post("/api/upload/presign", headers=carl.headers, json=body).json()
    sent = requests.post(pre["url"], data=pre["fields"],
                         files={"file": ("o.mp4", other.read_bytes())}, timeout=60)  # fmt: skip
    assert sent.status_code in (200, 204)
    with db.session() as s:
        s.get(Workspace, carl.workspace_id).max_storage_bytes = used + 10
    assert_error(client.post("/api/upload/confirm", headers=carl.headers,
                             json={"key": pre["key"]}), 413, "QUOTA_STORAGE")  # fmt: skip
    with db.session() as s:
        count = s.query(Source).filter(Source.workspace_id == carl.workspace_id).count()
    assert count == 1
    assert client.post("/api/upload/confirm", headers=carl.headers,
                       json={"key": pre["key"]}).status_code == 404  # the upload is gone


def test_presign_refuses_a_non_video_type(client, alice):
    body = {"filename": "a.txt", "content_type": "text/plain", "size": 10}
    assert_error(client.post("/api/upload/presign", headers=alice.headers, json=body),
                 415, "UPLOAD_TYPE_NOT_ALLOWED")  # fmt: skip


def test_confirm_refuses_foreign_or_crafted_keys(client, alice):
    bob = register(client, "keys")
    foreign = f"{bob.workspace_id}/uploads/{'a' * 32}/upload.mp4"
    for key in (foreign, "../etc/passwd", f"{alice.workspace_id}/sources/{'b' * 32}/x.mp4"):
        resp = client.post("/api/upload/confirm", headers=alice.headers, json={"key": key})
        assert_error(resp, 400, "UPLOAD_KEY_INVALID")


# --- jobs ----------------------------------------------------------------------------------
def test_job_from_an_uploaded_source(client, alice, source_id):
    resp = client.post("/api/jobs", headers=alice.headers,
                       json={"source_id": source_id, "settings": {"max_clips": 2}})  # fmt: skip
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["status"] == "created"
    got = client.get(f"/api/jobs/{job['id']}", headers=alice.headers).json()
    assert got["settings"]["max_clips"] == 2
    assert got["settings"]["aspect"] == "9:16"  # defaults filled in
    assert got["steps"] == []
    assert got["source_id"] == source_id


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({}, "VALIDATION_ERROR", id="no-source"),
        pytest.param({"source_id": "a" * 32, "source_url": "https://youtu.be/x"},
                     "VALIDATION_ERROR", id="two-sources"),
        pytest.param({"source_url": "https://youtu.be/x", "settings": {"aspect": "4:3"}},
                     "VALIDATION_ERROR", id="bad-aspect"),
        pytest.param({"source_url": "https://youtu.be/x",
                      "settings": {"min_duration": 50, "max_duration": 20}},
                     "VALIDATION_ERROR", id="min-above-max"),
        pytest.param({"source_url": "https://youtu.be/x", "settings": {"colour": "red"}},
                     "VALIDATION_ERROR", id="unknown-setting"),
        pytest.param({"source_url": "https://youtu.be/x", "settings": {"zooms": "wobble"}},
                     "VALIDATION_ERROR", id="bad-zoom-style"),
        pytest.param({"source_url": "https://youtu.be/x", "settings": {"hook": "x" * 121}},
                     "VALIDATION_ERROR", id="hook-too-long"),
        pytest.param({"source_url": "https://youtu.be/x", "settings": {"captions": "wavy"}},
                     "VALIDATION_ERROR", id="bad-caption-style"),
    ],
)  # fmt: skip
def test_bad_job_requests(client, alice, body, code):
    assert_error(client.post("/api/jobs", headers=alice.headers, json=body), 422, code)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        pytest.param("http://127.0.0.1/", "URL_DOMAIN_NOT_ALLOWED", id="loopback"),
        pytest.param("http://169.254.169.254/latest/meta-data/", "URL_DOMAIN_NOT_ALLOWED",
                     id="metadata"),
        pytest.param("http://[::1]/", "URL_DOMAIN_NOT_ALLOWED", id="ipv6-loopback"),
        pytest.param("file:///etc/passwd", "URL_SCHEME_NOT_ALLOWED", id="file"),
        pytest.param("https://example.com/video.mp4", "URL_DOMAIN_NOT_ALLOWED",
                     id="not-allowlisted"),
    ],
)  # fmt: skip
def test_ssrf_urls_are_refused(client, alice, url, code):
    resp = client.post("/api/jobs", headers=alice.headers, json={"source_url": url})
    assert_error(resp, 400, code)


def test_an_allowlisted_name_resolving_to_a_private_address_is_refused(api_settings):
    """``localhost`` allowlisted (as a misconfiguration would): its address still is not."""
    for allowed, url in (("localhost", "http://localhost/"),
                         ("169.254.169.254", "http://169.254.169.254/")):  # fmt: skip
        cfg = api_settings.model_copy(update={"url_allowed_domains": (allowed,)})
        with TestClient(create_api(cfg)) as c:
            acct = register(c, "ssrf")
            resp = c.post("/api/jobs", headers=acct.headers, json={"source_url": url})
            assert_error(resp, 400, "URL_ADDRESS_NOT_ALLOWED")


def test_source_keys_must_exist_inside_the_workspace(client, alice):
    bob = register(client, "bobkeys")
    for key, status, code in (
        (f"{bob.workspace_id}/sources/{'a' * 32}/original.mp4", 400, "SOURCE_KEY_INVALID"),
        (f"{alice.workspace_id}/sources/{'a' * 32}/original.mp4", 404, "SOURCE_KEY_NOT_FOUND"),
    ):
        resp = client.post("/api/jobs", headers=alice.headers, json={"source_key": key})
        assert_error(resp, status, code)


def test_the_same_idempotency_key_gives_one_job(client, alice, source_id):
    body = {"source_id": source_id, "settings": {"max_clips": 1}}
    headers = {**alice.headers, "Idempotency-Key": "retry-me-1"}
    first = client.post("/api/jobs", headers=headers, json=body)
    second = client.post("/api/jobs", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    other = client.post("/api/jobs", headers=headers, json={**body, "settings": {"max_clips": 3}})
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")


def test_cancel_pause_resume_retry_follow_the_state_machine(client, alice, source_id):
    job = client.post("/api/jobs", headers=alice.headers, json={"source_id": source_id}).json()
    url = f"/api/jobs/{job['id']}"
    assert client.post(f"{url}/pause", headers=alice.headers).json()["paused"] is True
    assert client.post(f"{url}/resume", headers=alice.headers).json()["paused"] is False
    assert_error(client.post(f"{url}/resume", headers=alice.headers), 409, "JOB_NOT_PAUSED")
    assert_error(client.post(f"{url}/retry", headers=alice.headers), 409, "JOB_NOT_RETRYABLE")
    assert_error(client.post(f"{url}/complete", headers=alice.headers), 409, "JOB_NOT_IN_REVIEW")
    cancelled = client.delete(url, headers=alice.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    assert_error(client.delete(url, headers=alice.headers), 409, "JOB_NOT_CANCELLABLE")
    assert_error(client.post(f"{url}/pause", headers=alice.headers), 409, "JOB_NOT_PAUSABLE")


def test_jobs_list_is_paginated(client, source_id, alice):
    acct = register(client, "pages")
    # a source of another workspace cannot be used: 403, and nothing is created
    assert_error(client.post("/api/jobs", headers=acct.headers, json={"source_id": source_id}),
                 403, "FORBIDDEN")  # fmt: skip
    own = upload(client, acct, MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4")
    ids = [client.post("/api/jobs", headers=acct.headers,
                       json={"source_id": own.json()["source_id"]}).json()["id"]
           for _ in range(5)]  # fmt: skip
    first = client.get("/api/jobs?page=1&limit=2", headers=acct.headers).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2]  # newest first
    page = client.get("/api/jobs?page=2&limit=2", headers=acct.headers).json()
    assert (page["total"], page["page"], page["pages"], len(page["data"])) == (5, 2, 3, 2)


def test_quota_of_concurrent_jobs_is_429_with_retry_after(client, alice, source_id, db):
    acct = register(client, "quota")
    with db.session() as s:
        s.execute(update(Workspace).where(Workspace.id == acct.workspace_id)
                  .values(max_concurrent_jobs=1, max_minutes_per_month=1))  # fmt: skip
    src = upload(client, acct, MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4")
    sid = src.json()["source_id"]
    assert client.post("/api/jobs", headers=acct.headers, json={"source_id": sid}
                       ).status_code == 201  # fmt: skip
    resp = client.post("/api/jobs", headers=acct.headers, json={"source_id": sid})
    assert_error(resp, 429, "QUOTA_CONCURRENT_JOBS")
    assert resp.headers["retry-after"] == "60"
    with db.session() as s:  # room for jobs, but the month's minute is spent (8 s x 8)
        s.execute(update(Workspace).where(Workspace.id == acct.workspace_id)
                  .values(max_concurrent_jobs=100))  # fmt: skip
    for _ in range(7):
        client.post("/api/jobs", headers=acct.headers, json={"source_id": sid})
    resp = client.post("/api/jobs", headers=acct.headers, json={"source_id": sid})
    assert_error(resp, 429, "QUOTA_MINUTES")
    assert int(resp.headers["retry-after"]) > 0


# --- tenancy over jobs and clips -------------------------------------------------------------
@pytest.fixture(scope="module")
def alice_clip(client, alice, source_id, db) -> tuple[str, str]:
    job = client.post("/api/jobs", headers=alice.headers, json={"source_id": source_id}).json()
    with db.session() as s:  # a clip row as the render step writes it (rendering: tests/actors)
        clip = Clip(workspace_id=alice.workspace_id, source_id=source_id, job_id=job["id"],
                    moment_id="c" * 32, status=ClipStatus.PENDING, start_s=1.0, end_s=9.0,
                    score=0.5, title="a moment", render_spec={}, spec_hash="d" * 64)  # fmt: skip
        s.add(clip)
    return job["id"], clip.id


def test_another_workspace_gets_403_and_sees_nothing(client, alice, alice_clip):
    job_id, clip_id = alice_clip
    mallory = register(client, "mallory")
    h = mallory.headers
    for path in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/events", f"/api/clips/{clip_id}",
                 f"/api/clips/{clip_id}/download", f"/api/clips/{clip_id}/versions"):  # fmt: skip
        assert_error(client.get(path, headers=h), 403, "FORBIDDEN")
    assert_error(client.delete(f"/api/jobs/{job_id}", headers=h), 403, "FORBIDDEN")
    assert_error(client.patch(f"/api/clips/{clip_id}", headers=h, json={"title": "x"}), 403,
                 "FORBIDDEN")  # fmt: skip
    assert_error(client.post("/api/clips/delete", headers=h, json={"ids": [clip_id]}), 403,
                 "FORBIDDEN")  # fmt: skip
    assert client.get("/api/jobs", headers=h).json()["total"] == 0
    assert client.get("/api/clips", headers=h).json()["total"] == 0
    assert_error(client.get(f"/api/clips?job_id={job_id}", headers=h), 403, "FORBIDDEN")
    # and the owner still sees them
    assert client.get(f"/api/clips?job_id={job_id}", headers=alice.headers).json()["total"] == 1


def test_missing_records_are_404_with_their_kind(client, alice):
    assert_error(client.get(f"/api/jobs/{'0' * 32}", headers=alice.headers), 404, "JOB_NOT_FOUND")
    assert_error(client.get(f"/api/clips/{'0' * 32}", headers=alice.headers), 404,
                 "CLIP_NOT_FOUND")  # fmt: skip


def test_clip_edit_and_batch_delete(client, alice, alice_clip, db):
    _, clip_id = alice_clip
    resp = client.patch(f"/api/clips/{clip_id}", headers=alice.headers,
                        json={"title": "Better title", "description": "why it works"})  # fmt: skip
    assert (resp.json()["title"], resp.json()["description"]) == ("Better title", "why it works")
    assert_error(client.get(f"/api/clips/{clip_id}/download", headers=alice.headers), 409,
                 "CLIP_NOT_READY")  # fmt: skip
    missing = client.post("/api/clips/delete", headers=alice.headers,
                          json={"ids": [clip_id, "0" * 32]})  # fmt: skip
    assert_error(missing, 404, "CLIP_NOT_FOUND")
    assert client.get(f"/api/clips/{clip_id}", headers=alice.headers).status_code == 200
    ok = client.post("/api/clips/delete", headers=alice.headers, json={"ids": [clip_id]})
    assert ok.json() == {"deleted": 1}
    assert_error(client.get(f"/api/clips/{clip_id}", headers=alice.headers), 404,
                 "CLIP_NOT_FOUND")  # fmt: skip


# --- API tokens --------------------------------------------------------------------------------
def test_api_tokens_act_within_their_scopes(client, alice, source_id):
    made = client.post("/api/tokens", headers=alice.headers,
                       json={"name": "ci", "scopes": ["read"]})  # fmt: skip
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("crt_")
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/jobs", headers=h).status_code == 200
    assert_error(client.post("/api/jobs", headers=h, json={"source_id": source_id}), 403,
                 "FORBIDDEN_SCOPE")  # fmt: skip
    assert_error(client.post("/api/tokens", headers=h, json={"name": "x"}), 403,
                 "FORBIDDEN_SCOPE")  # fmt: skip
    writer = client.post("/api/tokens", headers=alice.headers,
                         json={"name": "bot", "scopes": ["read", "jobs:write"]}).json()  # fmt: skip
    hw = {"Authorization": f"Bearer {writer['token']}"}
    assert client.post("/api/jobs", headers=hw, json={"source_id": source_id}).status_code == 201
    listed = client.get("/api/tokens", headers=alice.headers).json()
    assert {t["name"] for t in listed} >= {"ci", "bot"}
    assert all(t["token"] is None for t in listed)  # shown once, at creation
    assert client.delete(f"/api/tokens/{made.json()['id']}", headers=alice.headers
                         ).status_code == 204  # fmt: skip
    assert client.get("/api/jobs", headers=h).status_code == 401
    unknown = client.post("/api/tokens", headers=alice.headers,
                          json={"name": "x", "scopes": ["root"]})  # fmt: skip
    assert_error(unknown, 422, "SCOPE_UNKNOWN")


# --- shape of everything -------------------------------------------------------------------
def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/auth/register", "/api/jobs", "/api/jobs/{job_id}/events",
                 "/api/upload/presign", "/api/clips/{clip_id}/download",
                 "/api/health"):  # fmt: skip
        assert path in spec["paths"]
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_a_client_request_id_becomes_the_trace_id(client):
    resp = client.get("/api/jobs", headers={"X-Request-Id": "req-42"})
    assert resp.json()["error"]["trace_id"] == "req-42"
    odd = client.get("/api/jobs", headers={"X-Request-Id": "bad id\twith tab"})
    assert odd.json()["error"]["trace_id"] != "bad id\twith tab"


def test_health_reports_each_dependency(client):
    resp = client.get("/api/health")
    # Ray is not running in this module: database and S3 are fine, Ray is not.
    assert resp.status_code == 503
    err = resp.json()["error"]
    assert err["code"] == "UNHEALTHY"
    assert err["detail"]["database"] == "ok"
    assert err["detail"]["s3"] == "ok"
    assert err["detail"]["ray"].startswith("error")
