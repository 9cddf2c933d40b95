"""Webhooks over HTTP (plain FastAPI app, real SQLite): inbound platform events verified,
stored once, refused with their codes and recorded; subscriptions managed by admins only;
outbound deliveries signed as the README documents, POSTed to a real receiver on a
loopback port, retried after a 500 or a dropped connection (time driven by the delivery's
``not_before``), never after a 400."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.app import create_api
from clipray.services import webhooks
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.orm import WebhookDelivery, WebhookInbound, utcnow
from tests.apiclient import Account, register
from tests.publish.harness import free_port, serve_fake
from tests.serve.test_api import assert_error

# Unmarked: integration (real SQLite, a real HTTP receiver).
TIKTOK_SECRET, X_SECRET = "tt-webhook-secret", "x-webhook-secret"


@pytest.fixture(scope="module")
def wh_settings(settings, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('webhooks') / 'api.db'}"
    migrate.upgrade(url)
    publish = PublishSettings(
        tiktok=PlatformSettings(webhook_secret=SecretStr(TIKTOK_SECRET)),
        x=PlatformSettings(webhook_secret=SecretStr(X_SECRET)),
        linkedin=PlatformSettings(webhook_secret=SecretStr("li-secret")),
    )
    return settings.model_copy(update={
        "database_url": url, "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
        "publish": publish, "url_allow_private": True, "webhook_delivery_attempts": 3,
        "webhook_delivery_base_delay_s": 10.0, "webhook_delivery_timeout_s": 5.0,
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(wh_settings):
    database = Database(wh_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def client(wh_settings):
    with TestClient(create_api(wh_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def admin(client) -> Account:
    return register(client, "wh-admin")


# --- inbound -------------------------------------------------------------------------------
def _generic(body: bytes, ts: int | None = None, nonce: str | None = None,
             secret: str = X_SECRET) -> dict[str, str]:  # fmt: skip
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or uuid.uuid4().hex
    mac = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body, hashlib.sha256)
    return {"X-Clipray-Signature": "sha256=" + mac.hexdigest(), "X-Clipray-Timestamp": str(ts),
            "X-Clipray-Nonce": nonce, "Content-Type": "application/json"}  # fmt: skip


def _inbound(db, platform: str) -> list[WebhookInbound]:
    with db.session() as s:
        return list(s.scalars(select(WebhookInbound).where(WebhookInbound.platform == platform)
                              .order_by(WebhookInbound.received_at)))  # fmt: skip


def test_a_good_event_is_stored_once_and_its_replay_refused(client, db):
    body = json.dumps({"event": "post.published", "post_id": "p-1"}).encode()
    headers = _generic(body)
    ok = client.post("/api/webhooks/x", content=body, headers=headers)
    assert ok.status_code == 202, ok.text
    assert ok.json()["event_type"] == "post.published"
    again = client.post("/api/webhooks/x", content=body, headers=headers)
    assert_error(again, 401, "WEBHOOK_REPLAYED")
    rows = [r for r in _inbound(db, "x") if r.id == ok.json()["id"] or r.outcome == "replayed"]
    accepted = [r for r in rows if r.outcome == "accepted"]
    assert len(accepted) == 1
    assert accepted[0].payload == {"event": "post.published", "post_id": "p-1"}
    assert [r.outcome.value for r in rows].count("replayed") >= 1
    assert any("WEBHOOK_REPLAYED" in (r.error or "") for r in rows)
    assert webhooks.platform_settings(client.app.state.settings, "x").webhook_secret


def test_a_bad_signature_is_refused_and_recorded(client, db):
    body = json.dumps({"event": "post.rejected", "id": uuid.uuid4().hex}).encode()
    forged = _generic(body, secret="not-the-secret")
    assert_error(client.post("/api/webhooks/x", content=body, headers=forged), 401,
                 "WEBHOOK_BAD_SIGNATURE")  # fmt: skip
    tampered = _generic(body)
    assert_error(client.post("/api/webhooks/x", content=body + b" ", headers=tampered), 401,
                 "WEBHOOK_BAD_SIGNATURE")  # fmt: skip
    bad = [r for r in _inbound(db, "x") if r.outcome == "bad_signature"]
    assert len(bad) >= 2
    assert all(r.payload is None and r.event_type is None for r in bad)


def test_an_old_timestamp_is_refused_even_when_signed(client, db):
    body = json.dumps({"event": "post.published"}).encode()
    old = _generic(body, ts=int(time.time()) - 301)
    assert_error(client.post("/api/webhooks/x", content=body, headers=old), 401, "WEBHOOK_STALE")
    ahead = _generic(body, ts=int(time.time()) + 400)
    assert_error(client.post("/api/webhooks/x", content=body, headers=ahead), 401,
                 "WEBHOOK_STALE")  # fmt: skip
    assert len([r for r in _inbound(db, "x") if r.outcome == "stale"]) >= 2


def test_tiktoks_own_signature_scheme(client, db):
    body = json.dumps({"client_key": "ck", "event": "post.publish.complete",
                       "create_time": int(time.time()), "content": "{}"}).encode()  # fmt: skip
    ts = int(time.time())
    sig = hmac.new(TIKTOK_SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"TikTok-Signature": f"t={ts},s={sig}", "Content-Type": "application/json"}
    ok = client.post("/api/webhooks/tiktok", content=body, headers=headers)
    assert ok.status_code == 202, ok.text
    assert ok.json()["event_type"] == "post.publish.complete"
    assert_error(client.post("/api/webhooks/tiktok", content=body, headers=headers), 401,
                 "WEBHOOK_REPLAYED")  # fmt: skip
    # The generic headers mean nothing to TikTok's verifier.
    assert_error(client.post("/api/webhooks/tiktok", content=body,
                             headers=_generic(body, secret=TIKTOK_SECRET)),
                 401, "WEBHOOK_BAD_SIGNATURE")  # fmt: skip
    assert len([r for r in _inbound(db, "tiktok") if r.outcome == "accepted"]) == 1


def test_a_platform_without_a_secret_and_a_body_that_is_not_json(client):
    body = b'{"event": "x"}'
    assert_error(client.post("/api/webhooks/youtube", content=body, headers=_generic(body)),
                 404, "WEBHOOK_PLATFORM_NOT_FOUND")  # fmt: skip
    assert_error(client.post("/api/webhooks/myspace", content=body, headers=_generic(body)),
                 404, "WEBHOOK_PLATFORM_NOT_FOUND")  # fmt: skip
    bad = b"[1, 2]"
    assert_error(client.post("/api/webhooks/x", content=bad, headers=_generic(bad)), 422,
                 "WEBHOOK_BAD_PAYLOAD")  # fmt: skip


def test_inbound_webhooks_are_rate_limited(wh_settings):
    limited = wh_settings.model_copy(update={"rate_limit_webhooks_per_minute": 3})
    with TestClient(create_api(limited)) as c:
        codes = []
        for _ in range(4):
            body = json.dumps({"event": "ping", "n": uuid.uuid4().hex}).encode()
            r = c.post("/api/webhooks/linkedin", content=body,
                       headers=_generic(body, secret="li-secret"))  # fmt: skip
            codes.append(r.status_code)
        assert codes == [202, 202, 202, 429]
        assert int(r.headers["Retry-After"]) >= 1
        assert_error(r, 429, "RATE_LIMITED")


# --- subscriptions ---------------------------------------------------------------------------
def test_only_admins_manage_subscriptions(client, admin):
    editor, viewer = register(client, "wh-editor"), register(client, "wh-viewer")
    for acct, role in ((editor, "editor"), (viewer, "viewer")):
        added = client.post(
            f"/api/workspaces/{admin.workspace_id}/members",
            headers=admin.headers,
            json={"email": acct.email, "role": role},
        )
        assert added.status_code == 201, added.text
    sub = client.post(
        "/api/webhooks/subscribe",
        headers=admin.headers,
        json={"url": "http://127.0.0.1:9/hook", "events": ["job.review"]},
    )
    assert sub.status_code == 201, sub.text
    sid = sub.json()["id"]
    for acct in (editor, viewer):
        h = {**acct.headers, "X-Workspace-Id": admin.workspace_id}
        assert_error(client.post("/api/webhooks/subscribe", headers=h,
                                 json={"url": "http://127.0.0.1:9/h", "events": ["clip.ready"]}),
                     403, "FORBIDDEN_ROLE")  # fmt: skip
        assert_error(client.get("/api/webhooks/subscriptions", headers=h), 403, "FORBIDDEN_ROLE")
        assert_error(client.delete(f"/api/webhooks/subscriptions/{sid}", headers=h), 403,
                     "FORBIDDEN_ROLE")  # fmt: skip
        assert_error(client.get(f"/api/webhooks/subscriptions/{sid}/deliveries", headers=h),
                     403, "FORBIDDEN_ROLE")  # fmt: skip
    assert client.delete(f"/api/webhooks/subscriptions/{sid}",
                         headers=admin.headers).status_code == 204  # fmt: skip
    assert_error(client.delete(f"/api/webhooks/subscriptions/{sid}", headers=admin.headers),
                 404, "WEBHOOK_SUBSCRIPTION_NOT_FOUND")  # fmt: skip


def test_subscribe_lists_without_secrets_and_refuses_unknown_events(client):
    acct = register(client, "wh-list")
    made = [client.post("/api/webhooks/subscribe", headers=acct.headers,
                        json={"url": f"http://127.0.0.1:9/h{i}", "events": ["clip.ready"]})
            for i in range(3)]  # fmt: skip
    assert all(m.status_code == 201 for m in made)
    assert all(m.json()["secret"].startswith("whsec_") for m in made)
    page = client.get("/api/webhooks/subscriptions?limit=2", headers=acct.headers).json()
    assert (page["total"], page["pages"], len(page["data"])) == (3, 2, 2)
    assert all("secret" not in s for s in page["data"])
    second = client.get("/api/webhooks/subscriptions?limit=2&page=2", headers=acct.headers)
    assert len(second.json()["data"]) == 1
    assert_error(client.post("/api/webhooks/subscribe", headers=acct.headers,
                             json={"url": "http://127.0.0.1:9/h", "events": ["job.done"]}),
                 422, "VALIDATION_ERROR")  # fmt: skip
    other = register(client, "wh-other")
    assert_error(client.get(f"/api/webhooks/subscriptions/{made[0].json()['id']}/deliveries",
                            headers=other.headers), 403, "FORBIDDEN")  # fmt: skip


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://10.0.0.7/hook",
                                 "http://[::1]/hook", "http://169.254.169.254/latest"])  # fmt: skip
def test_a_private_subscriber_url_is_refused_unless_loopback_is_allowed(wh_settings, url):
    strict = wh_settings.model_copy(update={"url_allow_private": False})
    with TestClient(create_api(strict)) as c:
        acct = register(c, "wh-strict")
        r = c.post("/api/webhooks/subscribe", headers=acct.headers,
                   json={"url": url, "events": ["clip.ready"]})  # fmt: skip
        assert_error(r, 422, "URL_ADDRESS_NOT_ALLOWED")
        assert c.get("/api/webhooks/subscriptions", headers=acct.headers).json()["total"] == 0


# --- deliveries --------------------------------------------------------------------------------
class Receiver:
    """A subscriber: answers each POST with the next planned status, keeps what it got."""

    def __init__(self) -> None:
        self.plan: list[int] = []
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            self.got.append((dict(request.headers), await request.body()))
            return Response(status_code=self.plan.pop(0) if self.plan else 200)


def _verifies(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """What the README tells a receiver to do."""
    ts = headers["x-clipray-timestamp"]
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-clipray-signature"], "sha256=" + mac)


def _subscribe(client, acct: Account, url: str, events: list[str]) -> dict:
    r = client.post("/api/webhooks/subscribe", headers=acct.headers,
                    json={"url": url, "events": events})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def _log(client, acct: Account, sid: str) -> list[dict]:
    r = client.get(f"/api/webhooks/subscriptions/{sid}/deliveries", headers=acct.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_a_delivery_is_signed_and_retried_after_a_500_until_a_200(client, db, wh_settings):
    acct = register(client, "wh-deliver")
    rx = Receiver()
    rx.plan = [500, 500, 200]
    with serve_fake(rx.app) as base:
        sub = _subscribe(client, acct, f"{base}/hook", ["clip.ready", "job.review"])
        other = _subscribe(client, acct, f"{base}/hook", ["job.review"])
        with db.session() as s:
            ids = webhooks.emit(s, acct.workspace_id, "clip.ready", {"clip_id": "c-1"})
        assert len(ids) == 1  # the other subscription did not ask for clip.ready
        (did,) = ids
        t0 = utcnow()
        assert webhooks.deliver(wh_settings, did, now=t0) == "pending"
        (row,) = _log(client, acct, sub["id"])
        assert (row["status"], row["attempts"], row["response_code"]) == ("pending", 1, 500)
        assert row["next_attempt_at"] is not None
        # not due before the backoff: nothing is sent
        assert webhooks.deliver(wh_settings, did, now=t0 + timedelta(seconds=9)) is None
        assert len(rx.got) == 1
        assert webhooks.deliver(wh_settings, did, now=t0 + timedelta(seconds=10)) == "pending"
        assert webhooks.deliver(wh_settings, did, now=t0 + timedelta(seconds=29)) is None
        assert webhooks.deliver(wh_settings, did, now=t0 + timedelta(seconds=30)) == "delivered"
        (row,) = _log(client, acct, sub["id"])
        assert (row["status"], row["attempts"], row["response_code"]) == ("delivered", 3, 200)
        assert row["next_attempt_at"] is None
        assert _log(client, acct, other["id"]) == []
    assert len(rx.got) == 3
    for headers, body in rx.got:
        assert _verifies(headers, body, sub["secret"])
        assert headers["x-clipray-event"] == "clip.ready"
        assert headers["x-clipray-delivery"] == did
        doc = json.loads(body)
        assert (doc["id"], doc["event"], doc["data"]) == (did, "clip.ready", {"clip_id": "c-1"})
    stamps = [int(h["x-clipray-timestamp"]) for h, _ in rx.got]
    assert [s - stamps[0] for s in stamps] == [0, 10, 30]
    assert not _verifies(*rx.got[0], other["secret"])  # another subscription's secret


def test_a_400_is_not_retried_and_attempts_run_out(client, db, wh_settings):
    acct = register(client, "wh-400")
    rx = Receiver()
    rx.plan = [400]
    with serve_fake(rx.app) as base:
        sub = _subscribe(client, acct, f"{base}/hook", ["job.review"])
        with db.session() as s:
            (did,) = webhooks.emit(s, acct.workspace_id, "job.review", {"job_id": "j"})
        t0 = utcnow()
        assert webhooks.deliver(wh_settings, did, now=t0) == "failed"
        assert webhooks.deliver(wh_settings, did, now=t0 + timedelta(days=1)) is None
    assert len(rx.got) == 1
    (row,) = _log(client, acct, sub["id"])
    assert (row["status"], row["attempts"], row["response_code"]) == ("failed", 1, 400)
    # a dropped connection is retried, until the attempts (3 here) run out
    dead = _subscribe(client, acct, f"http://127.0.0.1:{free_port()}/hook", ["clip.ready"])
    with db.session() as s:
        (did,) = webhooks.emit(s, acct.workspace_id, "clip.ready", {"clip_id": "c"})
    t1 = utcnow()
    outcomes = [webhooks.deliver(wh_settings, did, now=t1 + timedelta(hours=h))
                for h in (0, 1, 2)]  # fmt: skip
    assert [o.value for o in outcomes] == ["pending", "pending", "failed"]
    (row,) = _log(client, acct, dead["id"])
    assert (row["status"], row["attempts"], row["response_code"]) == ("failed", 3, None)
    assert row["error"]


def test_deleting_a_subscription_drops_its_pending_deliveries(client, db, wh_settings):
    acct = register(client, "wh-drop")
    sub = _subscribe(client, acct, "http://127.0.0.1:9/hook", ["clip.ready"])
    with db.session() as s:
        (did,) = webhooks.emit(s, acct.workspace_id, "clip.ready", {"clip_id": "c"})
    assert client.delete(f"/api/webhooks/subscriptions/{sub['id']}",
                         headers=acct.headers).status_code == 204  # fmt: skip
    with db.session() as s:
        assert s.get(WebhookDelivery, did) is None
    assert webhooks.deliver(wh_settings, did) is None


def test_emit_shares_the_callers_transaction_and_a_dead_runners_claim_is_retried(
        client, db, wh_settings):  # fmt: skip
    acct = register(client, "wh-tx")
    sub = _subscribe(client, acct, "http://127.0.0.1:9/hook", ["job.review"])

    def failing_change() -> None:
        with db.session() as s:
            webhooks.emit(s, acct.workspace_id, "job.review", {"job_id": "rolled-back"})
            raise RuntimeError("the change that made the event failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _log(client, acct, sub["id"]) == []
    with db.session() as s:
        (did,) = webhooks.emit(s, acct.workspace_id, "job.review", {"job_id": "j"})
        s.get(WebhookDelivery, did).status = "running"  # claimed by a runner that died
    assert webhooks.due(db, 100, utcnow() + timedelta(seconds=1)).count(did) == 0
    assert webhooks.recover(db) >= 1
    assert did in webhooks.due(db, 1000, utcnow() + timedelta(seconds=1))


def test_an_address_refused_at_delivery_time_is_not_retried(client, db, wh_settings):
    """The URL is checked again when posting (DNS may have changed since subscribing)."""
    acct = register(client, "wh-recheck")
    rx = Receiver()
    with serve_fake(rx.app) as base:
        sub = _subscribe(client, acct, f"{base}/hook", ["clip.ready"])
        with db.session() as s:
            (did,) = webhooks.emit(s, acct.workspace_id, "clip.ready", {"clip_id": "c"})
        strict = wh_settings.model_copy(update={"url_allow_private": False})
        assert webhooks.deliver(strict, did, now=utcnow() + timedelta(seconds=1)) == "failed"
    assert rx.got == []
    (row,) = _log(client, acct, sub["id"])
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["error"].startswith("URL_ADDRESS_NOT_ALLOWED")
