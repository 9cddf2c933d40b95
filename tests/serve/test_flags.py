"""The installation's administration over HTTP (the plain FastAPI app, a migrated SQLite
file of its own): feature flags read and switched by the installation's owner only, a
switched-off platform refusing to connect, the installation's audit log with refused
inbound webhooks in it, and OAuth redirect URIs built from ``CLIPRAY_PUBLIC_URL``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clipray.config import Settings
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.app import create_api
from clipray.services.connections import callback_uri
from clipray.storage import migrate
from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

# Integration (unmarked): a database, the app.
X_SECRET = "x-webhook-secret"
CONSENT = "https://accounts.example.test/o/oauth2/v2/auth"


@pytest.fixture(scope="module")
def admin_settings(settings: Settings, tmp_path_factory) -> Settings:
    url = f"sqlite:///{tmp_path_factory.mktemp('admin') / 'api.db'}"
    migrate.upgrade(url)
    client = {"client_id": "c", "client_secret": SecretStr("s"), "auth_url": CONSENT,
              "token_url": "https://accounts.example.test/token"}  # fmt: skip
    publish = PublishSettings(youtube=PlatformSettings(**client), tiktok=PlatformSettings(**client),
                              x=PlatformSettings(webhook_secret=SecretStr(X_SECRET)))  # fmt: skip
    return settings.model_copy(update={
        "database_url": url, "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
        "rate_limit_per_minute": 10_000, "publish": publish,
        "fernet_keys": SecretStr("Tm8tb25lLXNob3VsZC11c2UtdGhpcy1rZXktZXZlci0="),
    })  # fmt: skip


@pytest.fixture(scope="module")
def client(admin_settings) -> Iterator[TestClient]:
    with TestClient(create_api(admin_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def owner(client) -> Account:
    """Registered first in this database: the installation's owner (no owners listed)."""
    return register(client, "install-owner")


@pytest.fixture(scope="module")
def member(client, owner) -> Account:
    return register(client, "install-member")


def _flags(client, acct: Account, **params) -> list[dict]:
    resp = client.get("/api/admin/flags", headers=acct.headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _patch(client, acct: Account, name: str, enabled: bool | None,
           workspace_id: str | None = None) -> dict:  # fmt: skip
    resp = client.patch("/api/admin/flags", headers=acct.headers,
                        json={"name": name, "enabled": enabled, "workspace_id": workspace_id})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _login(client, acct: Account, platform: str = "youtube"):
    return client.get(f"/api/auth/{platform}/login", headers=acct.headers,
                      follow_redirects=False)  # fmt: skip


def _installation_log(client, acct: Account, **params) -> list[dict]:
    resp = client.get("/api/admin/audit", headers=acct.headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# --- flags ---------------------------------------------------------------------------------
def test_only_the_installation_owner_reads_and_sets_flags(client, owner, member):
    listed = _flags(client, owner)
    assert [(f["name"], f["enabled"], f["workspace_id"]) for f in listed] == [
        (f"publish.{p}", True, None) for p in sorted(["youtube", "tiktok", "instagram", "x",
                                                       "linkedin"])]  # fmt: skip
    assert all(f["updated_at"] is None for f in listed)
    assert_error(client.get("/api/admin/flags", headers=member.headers), 403,
                 "FORBIDDEN_INSTALL_OWNER")  # fmt: skip
    body = {"name": "publish.youtube", "enabled": False, "workspace_id": None}
    assert_error(client.patch("/api/admin/flags", headers=member.headers, json=body), 403,
                 "FORBIDDEN_INSTALL_OWNER")  # fmt: skip
    assert_error(client.get("/api/admin/flags"), 401, "UNAUTHORIZED")
    # Even the owner's API token cannot: switching platforms needs a person.
    made = client.post("/api/tokens", headers=owner.headers,
                       json={"name": "ops", "scopes": ["read"]})  # fmt: skip
    assert made.status_code == 201, made.text
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert_error(client.get("/api/admin/flags", headers=token), 403, "FORBIDDEN_SCOPE")
    assert _flags(client, owner)[-1]["enabled"] is True  # the refused PATCH changed nothing


def test_a_platform_switched_off_refuses_to_connect_until_switched_on(client, owner, member):
    assert _login(client, member).status_code == 302
    off = _patch(client, owner, "publish.youtube", False)
    assert (off["enabled"], off["workspace_id"], off["updated_by"]) == (False, None, owner.id)
    assert off["updated_at"] is not None
    for acct in (owner, member):
        refused = _login(client, acct)
        assert_error(refused, 409, "PLATFORM_SWITCHED_OFF")
        assert "publish.youtube" in refused.json()["error"]["message"]
    assert _login(client, member, "tiktok").status_code == 302  # one flag per platform

    # On again for the member's workspace only: the workspace's setting wins.
    own = _patch(client, owner, "publish.youtube", True, member.workspace_id)
    assert own["workspace_id"] == member.workspace_id
    assert _login(client, member).status_code == 302
    assert_error(_login(client, owner), 409, "PLATFORM_SWITCHED_OFF")
    scoped = _flags(client, owner, workspace_id=member.workspace_id)
    assert [(f["name"], f["enabled"]) for f in scoped if f["workspace_id"]] == [
        ("publish.youtube", True)]  # fmt: skip

    # Cleared globally: on everywhere again; the workspace's change is in its own log.
    assert _patch(client, owner, "publish.youtube", None)["enabled"] is True
    assert _login(client, owner).status_code == 302
    assert _patch(client, owner, "publish.youtube", None, member.workspace_id)["enabled"]
    log = client.get("/api/audit", headers=member.headers,
                     params={"action": "flag.changed"}).json()["data"]  # fmt: skip
    assert [(r["detail"]["enabled"], r["user_id"]) for r in log] == [(None, owner.id),
                                                                    (True, owner.id)]
    installation = _installation_log(client, owner, action="flag.changed")
    assert [(r["resource_id"], r["detail"]["enabled"]) for r in installation][:2] == [
        ("publish.youtube", None), ("publish.youtube", False)]  # fmt: skip
    assert all(r["ip"] == "testclient" for r in installation)


def test_a_consent_that_began_before_the_switch_does_not_complete(client, owner, member):
    started = _login(client, member, "tiktok")
    assert started.status_code == 302
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    _patch(client, owner, "publish.tiktok", False, member.workspace_id)
    try:
        done = client.get("/api/auth/tiktok/callback", params={"state": state, "code": "c"})
        assert_error(done, 409, "PLATFORM_SWITCHED_OFF")
        assert done.json()["error"]["detail"]["scope"] == "workspace"
        assert client.get("/api/auth/accounts", headers=member.headers).json() == []
    finally:
        _patch(client, owner, "publish.tiktok", None, member.workspace_id)
    # The state was spent: switching back on does not revive it.
    again = client.get("/api/auth/tiktok/callback", params={"state": state, "code": "c"})
    assert_error(again, 400, "OAUTH_STATE_USED")


def test_a_bad_flag_name_body_or_workspace_is_refused(client, owner):
    bad = client.patch("/api/admin/flags", headers=owner.headers,
                       json={"name": "publish.myspace", "enabled": False})  # fmt: skip
    assert_error(bad, 422, "FLAG_UNKNOWN")
    assert "publish.youtube" in bad.json()["error"]["message"]
    nobody = client.patch("/api/admin/flags", headers=owner.headers,
                          json={"name": "publish.x", "enabled": False,
                                "workspace_id": uuid.uuid4().hex})  # fmt: skip
    assert_error(nobody, 404, "WORKSPACE_NOT_FOUND")
    assert_error(client.get("/api/admin/flags", headers=owner.headers,
                            params={"workspace_id": "not an id"}), 404, "WORKSPACE_NOT_FOUND")
    loose = client.patch("/api/admin/flags", headers=owner.headers,
                         json={"name": "publish.x", "enabled": "no"})  # fmt: skip
    assert loose.status_code == 422
    assert all(f["enabled"] for f in _flags(client, owner))


def test_listed_install_owners_replace_the_first_user(admin_settings, owner, member):
    listed = admin_settings.model_copy(update={"install_owners": (member.email.upper(),)})
    with TestClient(create_api(listed)) as c:
        assert c.get("/api/admin/flags", headers=member.headers).status_code == 200
        assert_error(c.get("/api/admin/flags", headers=owner.headers), 403,
                     "FORBIDDEN_INSTALL_OWNER")  # fmt: skip
        assert_error(c.get("/api/admin/audit", headers=owner.headers), 403,
                     "FORBIDDEN_INSTALL_OWNER")  # fmt: skip


# --- inbound webhook refusals in the installation's log --------------------------------------
def _signed(body: bytes, ts: int | None = None, nonce: str | None = None,
            secret: str = X_SECRET) -> dict[str, str]:  # fmt: skip
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or uuid.uuid4().hex
    mac = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body, hashlib.sha256)
    return {"X-Clipray-Signature": "sha256=" + mac.hexdigest(), "X-Clipray-Timestamp": str(ts),
            "X-Clipray-Nonce": nonce, "Content-Type": "application/json"}  # fmt: skip


def test_refused_inbound_webhooks_are_in_the_installation_log(client, owner, member):
    body = json.dumps({"event": "post.published", "id": uuid.uuid4().hex}).encode()
    good = _signed(body)
    assert client.post("/api/webhooks/x", content=body, headers=good).status_code == 202
    sent = [
        (client.post("/api/webhooks/x", content=body, headers=good), "WEBHOOK_REPLAYED"),
        (client.post("/api/webhooks/x", content=body, headers=_signed(body, secret="forged")),
         "WEBHOOK_BAD_SIGNATURE"),
        (client.post("/api/webhooks/x", content=body,
                     headers=_signed(body, ts=int(time.time()) - 3600)), "WEBHOOK_STALE"),
    ]  # fmt: skip
    for resp, code in sent:
        assert_error(resp, 401, code)
    rows = _installation_log(client, owner, action="webhook.refused")
    assert [r["detail"]["code"] for r in rows[:3]] == ["WEBHOOK_STALE", "WEBHOOK_BAD_SIGNATURE",
                                                       "WEBHOOK_REPLAYED"]  # fmt: skip
    for r in rows[:3]:
        assert (r["resource_type"], r["resource_id"], r["ip"]) == ("webhook", "x", "testclient")
        assert r["detail"]["platform"] == "x"
        assert r["detail"]["reason"]
        assert r["user_id"] is None
    # The accepted one is not a refusal; no workspace's log shows the installation's rows.
    assert len([r for r in rows if r["detail"]["code"] == "WEBHOOK_REPLAYED"]) == 1
    assert client.get("/api/audit", headers=owner.headers,
                      params={"action": "webhook.refused"}).json()["data"] == []  # fmt: skip
    assert_error(client.get("/api/admin/audit", headers=member.headers), 403,
                 "FORBIDDEN_INSTALL_OWNER")  # fmt: skip


def test_a_rate_limited_flood_is_logged_once_a_minute(admin_settings, client, owner):
    limited = admin_settings.model_copy(update={"rate_limit_webhooks_per_minute": 2})
    before = len([r for r in _installation_log(client, owner, action="webhook.refused", limit=100)
                  if r["detail"]["code"] == "RATE_LIMITED"])  # fmt: skip
    with TestClient(create_api(limited)) as c:
        codes = []
        for _ in range(6):
            body = json.dumps({"event": "ping", "n": uuid.uuid4().hex}).encode()
            codes.append(c.post("/api/webhooks/x", content=body, headers=_signed(body)))
    assert [r.status_code for r in codes].count(429) >= 4
    limited_rows = [r for r in _installation_log(client, owner, action="webhook.refused",
                                                 limit=100)
                    if r["detail"]["code"] == "RATE_LIMITED"]  # fmt: skip
    assert len(limited_rows) == before + 1
    assert limited_rows[0]["detail"]["retry_after_s"] >= 1
    assert limited_rows[0]["ip"] == "testclient"


# --- OAuth behind a proxy --------------------------------------------------------------------
def _redirect_uri(location: str) -> str:
    assert location.startswith(CONSENT)
    return parse_qs(urlsplit(location).query)["redirect_uri"][0]


@pytest.mark.parametrize(("public_url", "expected"), [
    pytest.param(None, "http://testserver/api/auth/youtube/callback", id="from-the-request"),
    pytest.param("https://clips.example.com", "https://clips.example.com/api/auth/youtube/callback",
                 id="public-url"),
    pytest.param("https://example.com/clipray/",
                 "https://example.com/clipray/api/auth/youtube/callback", id="behind-a-prefix"),
])  # fmt: skip
def test_the_oauth_redirect_uri_comes_from_the_public_url(admin_settings, owner, public_url,
                                                          expected):  # fmt: skip
    configured = admin_settings.model_copy(update={"public_url": public_url})
    with TestClient(create_api(configured)) as c:
        # The proxy's upstream host is what the app sees; the browser never could reach it.
        resp = c.get("/api/auth/youtube/login", follow_redirects=False,
                     headers={**owner.headers, "Host": "10.0.0.7:8000"})  # fmt: skip
        assert resp.status_code == 302, resp.text
        uri = _redirect_uri(resp.headers["location"])
    if public_url is None:
        assert uri == "http://10.0.0.7:8000/api/auth/youtube/callback"
    else:
        assert uri == expected


def test_callback_uri_joins_one_slash():
    built = "http://upstream/api/auth/x/callback"
    assert callback_uri(None, "/api/auth/x/callback", built) == built
    assert callback_uri("https://a.example/p/", "/api/auth/x/callback",
                        built) == "https://a.example/p/api/auth/x/callback"  # fmt: skip
