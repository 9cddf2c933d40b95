"""Live stream monitors over HTTP (plain FastAPI app, real SQLite): start, list, read,
pause, resume and stop with the role table's permissions; the same URL rules as jobs; push
ingest's URL and encrypted key; the workspace's and the cluster's concurrent-stream quotas
(429 with ``Retry-After``); the buffer directory removed on stop."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clipray.serve.app import create_api
from clipray.services import streams
from clipray.storage import migrate
from clipray.storage.db import Database
from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

# Unmarked: integration (real SQLite, the real app).
ALLOWED = ("twitch.tv", "localhost", "127.0.0.1")


@pytest.fixture(scope="module")
def st_settings(settings, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('streams') / 'api.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "home": tmp_path_factory.mktemp("streams-home"),
        "database_url": url, "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),
        "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
        "rate_limit_per_minute": 10_000, "url_allowed_domains": ALLOWED,
        # no DNS here: sources are on localhost (/etc/hosts), which only private addresses
        # allow; the strict client below checks the address rule
        "url_allow_private": True, "quota_concurrent_streams": 3, "stream_retry_after_s": 45,
        "stream_push_ports": (29350, 29359),
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(st_settings):
    database = Database(st_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def client(st_settings):
    with TestClient(create_api(st_settings)) as c:
        yield c


def start(client, acct: Account, url: str, headers: dict | None = None, **chosen):
    return client.post("/api/streams", headers=headers or acct.headers,
                       json={"url": url, "settings": chosen})  # fmt: skip


def test_a_stream_is_started_read_listed_paused_resumed_and_stopped(client, st_settings):
    owner = register(client, "st-owner")
    made = start(client, owner, "http://localhost:8080/live/channel.m3u8",
                 keywords=["goal", "wow"], max_duration=30.0)  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "idle"
    assert body["ingest_url"] is None
    sid = body["id"]

    got = client.get(f"/api/streams/{sid}", headers=owner.headers).json()
    assert got["url"] == "http://localhost:8080/live/channel.m3u8"
    assert got["push"] is False
    assert got["settings"]["keywords"] == ["goal", "wow"]
    assert got["settings"]["max_duration"] == 30.0
    assert got["settings"]["min_duration"] == 15.0
    assert (got["last_seen_at"], got["last_error"], got["clips_generated"]) == (None, None, 0)
    assert got["created_at"].endswith("Z")

    listed = client.get("/api/streams?limit=1", headers=owner.headers).json()
    assert (listed["total"], listed["pages"], listed["data"][0]["id"]) == (1, 1, sid)

    paused = client.post(f"/api/streams/{sid}/pause", headers=owner.headers)
    assert paused.json()["status"] == "paused"
    assert_error(client.post(f"/api/streams/{sid}/pause", headers=owner.headers), 409,
                 "STREAM_NOT_PAUSABLE")  # fmt: skip
    assert client.post(f"/api/streams/{sid}/resume", headers=owner.headers).json()[
        "status"] == "idle"
    assert_error(client.post(f"/api/streams/{sid}/resume", headers=owner.headers), 409,
                 "STREAM_NOT_RESUMABLE")  # fmt: skip

    buffer = streams.buffer_dir(st_settings, sid)
    buffer.mkdir(parents=True)
    (buffer / "segment-000001.ts").write_bytes(b"\0" * 1024)
    stopped = client.delete(f"/api/streams/{sid}", headers=owner.headers)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["stopped_at"] is not None
    assert not buffer.exists()
    assert_error(client.delete(f"/api/streams/{sid}", headers=owner.headers), 409,
                 "STREAM_NOT_STOPPABLE")  # fmt: skip
    assert_error(client.post(f"/api/streams/{sid}/resume", headers=owner.headers), 409,
                 "STREAM_NOT_RESUMABLE")  # fmt: skip


def test_viewers_read_editors_manage_others_are_refused(client):
    owner = register(client, "st-team-owner")
    team = client.post("/api/workspaces", headers=owner.headers, json={"name": "live"}).json()
    viewer, editor = register(client, "st-viewer"), register(client, "st-editor")
    for acct, role in ((viewer, "viewer"), (editor, "editor")):
        resp = client.post(f"/api/workspaces/{team['id']}/members", headers=owner.headers,
                           json={"email": acct.email, "role": role})  # fmt: skip
        assert resp.status_code == 201, resp.text
    as_team = lambda a: {**a.headers, "X-Workspace-Id": team["id"]}  # noqa: E731

    made = start(client, editor, "https://localhost/a.m3u8", headers=as_team(editor))
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert client.get(f"/api/streams/{sid}", headers=as_team(viewer)).status_code == 200
    assert client.get("/api/streams", headers=as_team(viewer)).json()["total"] == 1
    assert_error(start(client, viewer, "https://localhost/b.m3u8",
                       headers=as_team(viewer)), 403, "FORBIDDEN_ROLE")  # fmt: skip
    for verb, path in (("post", "/pause"), ("post", "/resume"), ("delete", "")):
        resp = getattr(client, verb)(f"/api/streams/{sid}{path}", headers=as_team(viewer))
        assert_error(resp, 403, "FORBIDDEN_ROLE")
    assert client.post(f"/api/streams/{sid}/pause", headers=as_team(editor)).status_code == 200

    stranger = register(client, "st-stranger")
    assert_error(client.get(f"/api/streams/{sid}", headers=stranger.headers), 403, "FORBIDDEN")
    assert_error(client.delete(f"/api/streams/{sid}", headers=stranger.headers), 403,
                 "FORBIDDEN")  # fmt: skip
    assert_error(client.get("/api/streams/0123456789abcdef0123456789abcdef",
                            headers=stranger.headers), 404, "STREAM_NOT_FOUND")  # fmt: skip
    assert client.get("/api/streams", headers=stranger.headers).json()["total"] == 0

    # an API token needs the streams:write scope to manage, read to read
    token = client.post("/api/tokens", headers=as_team(editor),
                        json={"name": "reader", "scopes": ["read"]})  # fmt: skip
    assert token.status_code == 201, token.text
    bearer = {"Authorization": f"Bearer {token.json()['token']}", "X-Workspace-Id": team["id"]}
    assert client.get(f"/api/streams/{sid}", headers=bearer).status_code == 200
    assert_error(client.post(f"/api/streams/{sid}/resume", headers=bearer), 403,
                 "FORBIDDEN_SCOPE")  # fmt: skip


@pytest.mark.parametrize(("url", "code"), [
    pytest.param("ftp://localhost/x", "URL_SCHEME_NOT_ALLOWED", id="ftp"),
    pytest.param("file:///etc/passwd", "URL_SCHEME_NOT_ALLOWED", id="file"),
    pytest.param("https://evil.example.org/live.m3u8", "URL_DOMAIN_NOT_ALLOWED", id="site"),
    pytest.param("rtmp://user:pw@localhost/app", "URL_INVALID", id="credentials"),
    pytest.param("rtmp-pull", "URL_SCHEME_NOT_ALLOWED", id="not-push"),
])  # fmt: skip
def test_source_urls_follow_the_jobs_rules(client, url, code):
    acct = register(client, "st-urls")
    assert_error(start(client, acct, url), 400, code)
    assert client.get("/api/streams", headers=acct.headers).json()["total"] == 0


@pytest.mark.parametrize("url", [
    pytest.param("rtmp://localhost/app/key", id="rtmp"),
    pytest.param("srt://localhost:9000?streamid=x", id="srt"),
    pytest.param("https://localhost/hls/index.m3u8", id="hls"),
])  # fmt: skip
def test_stream_schemes_are_accepted(client, url):
    acct = register(client, "st-schemes")
    assert start(client, acct, url).status_code == 201


def test_a_private_address_is_refused_as_for_jobs(st_settings):
    strict = st_settings.model_copy(update={"url_allow_private": False})
    with TestClient(create_api(strict)) as c:
        acct = register(c, "st-strict")
        assert_error(start(c, acct, "rtmp://127.0.0.1/live/x"), 400, "URL_ADDRESS_NOT_ALLOWED")
        assert_error(start(c, acct, "http://localhost:8000/a.m3u8"), 400,
                     "URL_ADDRESS_NOT_ALLOWED")  # fmt: skip


@pytest.mark.parametrize(("chosen", "field"), [
    pytest.param({"max_duration": 600}, "max_duration", id="too-long"),
    pytest.param({"min_duration": 50, "max_duration": 20}, None, id="min-above-max"),
    pytest.param({"keywords": [""]}, None, id="empty-keyword"),
    pytest.param({"aspect": "4:3"}, "aspect", id="aspect"),
    pytest.param({"max_clips_per_hour": 1000}, "max_clips_per_hour", id="clips-per-hour"),
    pytest.param({"max_clip": 3}, "max_clip", id="unknown-option"),
])  # fmt: skip
def test_settings_out_of_bounds_are_refused(client, chosen, field):
    acct = register(client, "st-bounds")
    err = assert_error(start(client, acct, "http://localhost/x.m3u8", **chosen), 422,
                       "VALIDATION_ERROR")  # fmt: skip
    if field:
        assert any(field in str(f) for f in err["detail"]), err


def test_push_ingest_gets_its_own_port_and_key(client, db, st_settings):
    acct = register(client, "st-push")
    one, two = (start(client, acct, "rtmp-push").json() for _ in range(2))
    urls = [one["ingest_url"], two["ingest_url"]]
    for made, url in zip((one, two), urls, strict=True):
        assert url.startswith("rtmp://127.0.0.1:293")
        row = streams.get(db, acct.workspace_id, made["id"])
        key = streams.stream_key(st_settings, row)
        assert url == f"rtmp://127.0.0.1:{row.push_port}/live/{key}"
        assert len(key) >= 32
        assert key not in (row.stream_key or "")  # stored encrypted
        shown = client.get(f"/api/streams/{made['id']}", headers=acct.headers).json()
        assert shown["push"] is True
        assert shown["url"] is None
        assert key not in str(shown)
    assert urls[0].split("/")[2] != urls[1].split("/")[2]  # two ports
    assert urls[0].rsplit("/", 1)[1] != urls[1].rsplit("/", 1)[1]  # two keys
    # a stopped push monitor gives its port back
    client.delete(f"/api/streams/{one['id']}", headers=acct.headers)
    third = start(client, acct, "rtmp-push").json()
    assert third["ingest_url"].split("/")[2] == urls[0].split("/")[2]


def test_the_fourth_stream_of_a_workspace_gets_429_with_retry_after(client):
    acct = register(client, "st-quota")
    ids = []
    for n in range(3):
        made = start(client, acct, f"https://localhost/{n}.m3u8")
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    client.post(f"/api/streams/{ids[0]}/pause", headers=acct.headers)  # paused still counts
    fourth = start(client, acct, "https://localhost/4.m3u8")
    err = assert_error(fourth, 429, "STREAM_QUOTA_EXCEEDED")
    assert fourth.headers["retry-after"] == "45"
    assert err["detail"] == {"limit": 3, "live": 3}
    other = register(client, "st-quota-other")  # another workspace has its own quota
    assert start(client, other, "https://localhost/o.m3u8").status_code == 201
    client.delete(f"/api/streams/{ids[1]}", headers=acct.headers)
    assert start(client, acct, "https://localhost/5.m3u8").status_code == 201


def test_the_cluster_maximum_gets_429(st_settings, db):
    from clipray.storage import streams as store

    with db.session() as s:
        live = store.live_count(s)
    full = st_settings.model_copy(update={"streams_max_cluster": live + 1})
    with TestClient(create_api(full)) as c:
        acct = register(c, "st-cluster")
        assert start(c, acct, "https://localhost/last.m3u8").status_code == 201
        resp = start(c, acct, "https://localhost/over.m3u8")
        assert_error(resp, 429, "STREAM_CAPACITY_EXCEEDED")
        assert resp.headers["retry-after"] == "45"


def test_openapi_documents_the_streams_schemas(client):
    spec = client.get("/openapi.json").json()
    ops = spec["paths"]
    assert {"post", "get"} <= set(ops["/api/streams"])
    assert {"get", "delete"} <= set(ops["/api/streams/{stream_id}"])
    assert "post" in ops["/api/streams/{stream_id}/pause"]
    assert "post" in ops["/api/streams/{stream_id}/resume"]
    created = ops["/api/streams"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/StreamCreated")
    schemas = spec["components"]["schemas"]
    assert {"StreamCreate", "StreamCreated", "StreamOut", "StreamSettings"} <= set(schemas)
