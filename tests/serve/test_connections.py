"""Connecting platform accounts through the real API app (TestClient, a migrated SQLite file)
and a fake of Google's OAuth and YouTube endpoints served over TCP: the consent redirect
with state and PKCE, the callback storing the account, every refused state, roles, refresh
before expiry, key rotation, disconnecting, and no token in any response or log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from clipray.config import Settings
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.app import create_api
from clipray.services import connections
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.orm import ConnectedAccount, OAuthState, utcnow
from clipray.storage.vault import KeyRing, key_version
from tests.apiclient import Account, register
from tests.publish.fake_youtube import FakeYouTube
from tests.publish.harness import serve_fake
from tests.serve.test_api import assert_error

# Integration (the default of a module without a tier mark): a database, sockets, a server.

OLD_KEY = "Tm8tb25lLXNob3VsZC11c2UtdGhpcy1rZXktZXZlci0="  # a valid Fernet key (32 bytes)
NEW_KEY = "QW5vdGhlci10ZXN0LW9ubHkta2V5LWZvci1yb3RhdGU="


@pytest.fixture(scope="module")
def yt() -> Iterator[tuple[FakeYouTube, str]]:
    fake = FakeYouTube()
    with serve_fake(fake.app) as base:
        yield fake, base


def youtube_settings(base: str) -> PublishSettings:
    return PublishSettings(youtube=PlatformSettings(
        client_id="yt-client", client_secret=SecretStr("yt-secret"),
        auth_url=f"{base}/o/oauth2/v2/auth", token_url=f"{base}/token", api_base=base,
        timeout_s=30))  # fmt: skip


@pytest.fixture(scope="module")
def conn_settings(settings: Settings, yt, tmp_path_factory) -> Settings:
    url = f"sqlite:///{tmp_path_factory.mktemp('conn') / 'api.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "database_url": url, "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
        "publish": youtube_settings(yt[1]), "fernet_keys": SecretStr(OLD_KEY),
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(conn_settings) -> Iterator[Database]:
    database = Database(conn_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def client(conn_settings) -> Iterator[TestClient]:
    with TestClient(create_api(conn_settings)) as c:
        yield c


@pytest.fixture
def alice(client) -> Account:
    return register(client, "conn-alice")


def consent(client: TestClient, acct: Account, platform: str = "youtube") -> str:
    resp = client.get(f"/api/auth/{platform}/login", headers=acct.headers, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    return resp.headers["location"]


def back_from(url: str) -> str:
    """What the platform's consent page redirects the browser to (path and query)."""
    resp = httpx.get(url, follow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    parts = urlsplit(resp.headers["location"])
    assert parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def connect(client: TestClient, acct: Account) -> dict:
    done = client.get(back_from(consent(client, acct)))
    assert done.status_code == 200, done.text
    listed = client.get("/api/auth/accounts", headers=acct.headers).json()
    assert len(listed) == 1
    return listed[0]


def test_the_consent_redirect_carries_state_and_an_s256_challenge(client, alice, yt):
    url = consent(client, alice)
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{yt[1]}/o/oauth2/v2/auth"
    assert len(q["state"]) >= 40
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43  # base64url of a sha256, unpadded
    assert (q["access_type"], q["prompt"], q["response_type"]) == ("offline", "consent", "code")
    assert q["redirect_uri"] == "http://testserver/api/auth/youtube/callback"
    assert "youtube.upload" in q["scope"]
    as_json = client.get("/api/auth/youtube/login",
                         headers={**alice.headers, "Accept": "application/json"})
    assert as_json.status_code == 200
    other = parse_qs(urlsplit(as_json.json()["url"]).query)
    assert other["state"][0] != q["state"]


def test_the_callback_stores_the_account_with_its_tokens_encrypted(client, alice, yt, db):
    fake, _ = yt
    acct = connect(client, alice)
    assert acct["platform"] == "youtube"
    assert (acct["platform_account_id"], acct["name"]) == (fake.channel["id"],
                                                           fake.channel["title"])  # fmt: skip
    assert acct["status"] == "active"
    assert "https://www.googleapis.com/auth/youtube.upload" in acct["scopes"]
    assert set(acct) == {"id", "platform", "platform_account_id", "name", "scopes", "status",
                         "created_at", "updated_at"}  # fmt: skip
    with db.session() as s:
        row = s.get(ConnectedAccount, acct["id"])
        assert row.workspace_id == alice.workspace_id
        assert row.connected_by == alice.id
        assert row.key_version == key_version(OLD_KEY)
        plain = KeyRing([OLD_KEY]).decrypt(row.access_token_enc, row.key_version)[0]
        assert plain in fake.access
        assert plain not in row.access_token_enc
        assert row.token_expires_at > utcnow() + timedelta(minutes=55)
    # connecting the same channel again updates the row rather than adding one
    again = connect(client, alice)
    assert again["id"] == acct["id"]


def test_a_used_state_is_refused(client, alice):
    back = back_from(consent(client, alice))
    assert client.get(back).status_code == 200
    assert_error(client.get(back), 400, "OAUTH_STATE_USED")


def test_an_unknown_state_is_refused(client):
    assert_error(client.get("/api/auth/youtube/callback?state=nope&code=x"), 400,
                 "OAUTH_STATE_UNKNOWN")
    assert_error(client.get("/api/auth/youtube/callback?code=x"), 400, "OAUTH_STATE_UNKNOWN")


def test_another_platforms_state_is_refused_and_stays_usable(client, alice):
    back = back_from(consent(client, alice))
    foreign = back.replace("/api/auth/youtube/", "/api/auth/tiktok/")
    assert_error(client.get(foreign), 400, "OAUTH_STATE_PLATFORM")
    assert client.get(back).status_code == 200


def test_another_users_state_is_refused(client, alice):
    bob = register(client, "conn-bob")
    back = back_from(consent(client, alice))
    assert_error(client.get(back, headers=bob.headers), 403, "OAUTH_STATE_FOREIGN")
    assert client.get(back, headers=alice.headers).status_code == 200
    assert client.get("/api/auth/accounts", headers=bob.headers).json() == []


def test_an_expired_state_is_refused(conn_settings, db, client, alice):
    t0 = utcnow()
    started = connections.start(conn_settings, db, alice.id, alice.workspace_id, "youtube",
                                "http://testserver/api/auth/youtube/callback", now=t0)
    state = parse_qs(urlsplit(started.url).query)["state"][0]
    with pytest.raises(connections.StateRefused) as err:
        connections.complete(conn_settings, db, "youtube", state, "code",
                             now=t0 + connections.STATE_TTL + timedelta(seconds=1))
    assert (err.value.code, err.value.status) == ("OAUTH_STATE_EXPIRED", 400)
    with db.session() as s:
        row = s.scalar(select(OAuthState).where(
            OAuthState.state_hash == connections.hash_state(state)))  # fmt: skip
        assert row.used_at is None
        assert row.expires_at == t0 + timedelta(minutes=10)


def test_a_declined_consent_spends_the_state(client, alice):
    state = parse_qs(urlsplit(consent(client, alice)).query)["state"][0]
    path = f"/api/auth/youtube/callback?state={state}&error=access_denied"
    assert_error(client.get(path), 400, "OAUTH_DENIED")
    assert_error(client.get(path), 400, "OAUTH_STATE_USED")


def test_roles_admins_connect_editors_list_viewers_see_nothing(client, alice):
    connect(client, alice)
    roles = {}
    for role in ("admin", "editor", "viewer"):
        member = register(client, f"conn-{role}")
        added = client.post(f"/api/workspaces/{alice.workspace_id}/members",
                            headers=alice.headers, json={"email": member.email, "role": role})
        assert added.status_code == 201, added.text
        roles[role] = {**member.headers, "X-Workspace-Id": alice.workspace_id}
    assert client.get("/api/auth/youtube/login", headers=roles["admin"],
                      follow_redirects=False).status_code == 302  # fmt: skip
    assert_error(client.get("/api/auth/youtube/login", headers=roles["editor"]), 403,
                 "FORBIDDEN_ROLE")
    listed = client.get("/api/auth/accounts", headers=roles["editor"])
    assert listed.status_code == 200
    assert len(listed.json()) == 1
    assert_error(client.get("/api/auth/accounts", headers=roles["viewer"]), 403, "FORBIDDEN_ROLE")
    account_id = listed.json()[0]["id"]
    assert_error(client.delete(f"/api/auth/accounts/{account_id}", headers=roles["editor"]),
                 403, "FORBIDDEN_ROLE")
    assert_error(client.get("/api/auth/accounts"), 401, "UNAUTHORIZED")


def test_a_platform_without_a_client_is_off_and_an_unknown_one_is_404(client, alice):
    off = client.get("/api/auth/linkedin/login", headers=alice.headers)
    assert_error(off, 409, "PLATFORM_OFF")
    assert "CLIPRAY_PUBLISH__LINKEDIN__CLIENT_ID" in off.json()["error"]["message"]
    assert_error(client.get("/api/auth/myspace/login", headers=alice.headers), 404,
                 "PLATFORM_UNKNOWN")
    assert_error(client.get("/api/auth/myspace/callback?state=x"), 404, "PLATFORM_UNKNOWN")


def test_tokens_are_refreshed_before_they_expire(conn_settings, db, client, alice, yt):
    fake, _ = yt
    fake.access_ttl_s = 3599
    account_id = connect(client, alice)["id"]
    first = connections.usable_tokens(conn_settings, db, alice.workspace_id, account_id)
    assert first.access_token in fake.access
    grants = fake.token_grants.count("refresh_token")
    # 4 minutes before expiry is inside the adapter's 5 minute margin: refreshed
    soon = first.expires_at - timedelta(minutes=4)
    fresh = connections.usable_tokens(conn_settings, db, alice.workspace_id, account_id, now=soon)
    assert fake.token_grants.count("refresh_token") == grants + 1
    assert fresh.access_token != first.access_token
    assert fresh.access_token in fake.access
    assert fresh.refresh_token == first.refresh_token  # Google keeps the refresh token
    stored = connections.usable_tokens(conn_settings, db, alice.workspace_id, account_id)
    assert stored.access_token == fresh.access_token
    assert fake.token_grants.count("refresh_token") == grants + 1  # not yet due again


def test_a_refused_refresh_marks_the_account_for_reconnecting(conn_settings, db, client, alice,
                                                              yt):  # fmt: skip
    fake, _ = yt
    account_id = connect(client, alice)["id"]
    fake.refuse_refresh = True
    try:
        with pytest.raises(connections.AccountUnusable) as err:
            connections.usable_tokens(conn_settings, db, alice.workspace_id, account_id,
                                      force_refresh=True)
    finally:
        fake.refuse_refresh = False
    assert (err.value.code, err.value.status) == ("ACCOUNT_NEEDS_RECONNECT", 409)
    listed = client.get("/api/auth/accounts", headers=alice.headers).json()
    assert listed[0]["status"] == "needs_reconnect"
    with pytest.raises(connections.AccountUnusable):
        connections.usable_tokens(conn_settings, db, alice.workspace_id, account_id)
    assert connect(client, alice)["status"] == "active"  # connecting again heals it


def test_key_rotation_reads_the_old_key_and_reencrypts_on_refresh(conn_settings, db, client,
                                                                  alice):  # fmt: skip
    account_id = connect(client, alice)["id"]
    rotated = conn_settings.model_copy(update={"fernet_keys": SecretStr(f"{NEW_KEY},{OLD_KEY}")})
    read = connections.usable_tokens(rotated, db, alice.workspace_id, account_id)
    with db.session() as s:
        assert s.get(ConnectedAccount, account_id).key_version == key_version(OLD_KEY)
    fresh = connections.usable_tokens(rotated, db, alice.workspace_id, account_id,
                                      force_refresh=True)
    assert fresh.access_token != read.access_token
    with db.session() as s:
        row = s.get(ConnectedAccount, account_id)
        assert row.key_version == key_version(NEW_KEY)
        only_new = KeyRing([NEW_KEY])
        assert only_new.decrypt(row.access_token_enc)[0] == fresh.access_token
        assert only_new.decrypt(row.refresh_token_enc)[0] == fresh.refresh_token
    new_only = conn_settings.model_copy(update={"fernet_keys": SecretStr(NEW_KEY)})
    assert connections.usable_tokens(new_only, db, alice.workspace_id,
                                     account_id).access_token == fresh.access_token


def test_disconnecting_revokes_at_the_platform_and_deletes_the_tokens(client, alice, yt, db):
    fake, _ = yt
    account_id = connect(client, alice)["id"]
    with db.session() as s:
        row = s.get(ConnectedAccount, account_id)
        refresh = KeyRing([OLD_KEY]).decrypt(row.refresh_token_enc)[0]
    gone = client.delete(f"/api/auth/accounts/{account_id}", headers=alice.headers)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"id": account_id, "status": "revoked", "revoked_at_platform": True}
    assert refresh in fake.revoked
    assert client.get("/api/auth/accounts", headers=alice.headers).json() == []
    with db.session() as s:
        row = s.get(ConnectedAccount, account_id)
        assert (row.access_token_enc, row.refresh_token_enc) == (None, None)
        assert row.status.value == "revoked"
    bob = register(client, "conn-bob2")
    assert_error(client.delete(f"/api/auth/accounts/{account_id}", headers=bob.headers), 403,
                 "FORBIDDEN")
    assert_error(client.delete("/api/auth/accounts/nope", headers=alice.headers), 404,
                 "CONNECTED_ACCOUNT_NOT_FOUND")


def test_production_without_fernet_keys_refuses_to_connect(conn_settings, yt):
    bare = conn_settings.model_copy(update={"fernet_keys": None})
    with TestClient(create_api(bare)) as c:
        acct = register(c, "conn-nokeys")
        assert_error(c.get("/api/auth/youtube/login", headers=acct.headers), 503,
                     "FERNET_KEYS_MISSING")


def test_the_return_url_gets_the_browser_back_to_the_studio(conn_settings, yt):
    studio = conn_settings.model_copy(update={"oauth_return_url": "https://studio.example/acc"})
    with TestClient(create_api(studio)) as c:
        acct = register(c, "conn-studio")
        done = c.get(back_from(consent(c, acct)), follow_redirects=False)
        assert done.status_code == 302
        location = urlsplit(done.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == (
            "https://studio.example/acc")
        q = parse_qs(location.query)
        assert q["connected"] == ["youtube"]
        listed = c.get("/api/auth/accounts", headers=acct.headers).json()
        assert q["account_id"] == [listed[0]["id"]]


def test_no_token_appears_in_any_response_or_log(client, yt, caplog, conn_settings, db):
    fake, _ = yt
    caplog.set_level(logging.DEBUG)
    acct = register(client, "conn-logs")
    texts = []
    url = consent(client, acct)
    back = back_from(url)
    texts.append(client.get(back).text)
    listed = client.get("/api/auth/accounts", headers=acct.headers)
    texts.append(listed.text)
    account_id = listed.json()[0]["id"]
    tokens = connections.usable_tokens(conn_settings, db, acct.workspace_id, account_id,
                                       force_refresh=True)
    texts.append(repr(tokens))
    texts.append(client.delete(f"/api/auth/accounts/{account_id}", headers=acct.headers).text)
    secrets = [*fake.access, *fake.refresh_tokens, *fake.revoked, "yt-secret"]
    haystack = "\n".join(texts) + "\n" + caplog.text
    assert caplog.records, "the flow logged nothing: the check would be empty"
    leaked = [s[:8] + "..." for s in secrets if s in haystack]
    assert leaked == []
