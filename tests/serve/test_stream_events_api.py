"""A live stream's events over server-sent events and WebSockets, and a job's over a
WebSocket, against the app served for real (uvicorn, real SQLite): the feed's rows are
written as the worker writes them (``storage/stream_events.py``), a stop comes through the
API. Both doors carry the same messages; ``Last-Event-ID`` and ``?after=`` resume without
repeats; the WebSocket takes its token in the first message or the subprotocol header,
refuses a bad one and another workspace's stream with a coded error and a 1008 close, and
says ``token_expired`` when the access token lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from clipray.domain.stream_events import StreamEventType
from clipray.storage import migrate
from clipray.storage import stream_events as feed
from clipray.storage.db import Database
from clipray.storage.orm import Job, JobStatus, JobStep, StepStatus, utcnow
from tests.apiclient import register
from tests.serve.realtime import (
    SseReader,
    served,
    ws_closed,
    ws_connect,
    ws_messages,
)

# Unmarked: integration (a real server, real SQLite).
POLICY_VIOLATION = 1008


@pytest.fixture(scope="module")
def rt_settings(settings, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('realtime') / 'api.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "home": tmp_path_factory.mktemp("realtime-home"),
        "database_url": url, "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),
        "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
        "rate_limit_per_minute": 10_000, "stream_push_ports": (29450, 29459),
        "stream_events_poll_s": 0.1, "job_poll_interval_s": 0.2,
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(rt_settings):
    database = Database(rt_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def server(rt_settings):
    with served(rt_settings) as (base, client):
        yield base, client


def write(db: Database, monitor_id: str, type_: StreamEventType, **payload) -> int:
    """A message as the worker records it."""
    with db.session() as s:
        seq = feed.append(s, monitor_id, type_, payload, utcnow(), keep=1000)
    assert seq is not None
    return seq


def new_stream(client, acct) -> str:
    made = client.post("/api/streams", headers=acct.headers, json={"url": "rtmp-push"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def is_clip(msg: dict) -> bool:
    return msg["type"] == "clip"


def test_sse_and_websockets_carry_the_same_feed_until_the_stream_stops(server, db):
    base, client = server
    acct = register(client, "feed")
    sid = new_stream(client, acct)
    write(db, sid, StreamEventType.STATUS, status="active", error=None)
    write(db, sid, StreamEventType.EVENT, kind="energy", t_start=38.0, t_end=39.5,
          strength=0.9, detail={"level": 4.2})  # fmt: skip

    sse = SseReader(client, f"/api/streams/{sid}/events", acct.headers)
    first = ws_connect(base, f"/ws/stream/{sid}", acct.access_token)
    header = ws_connect(base, f"/ws/stream/{sid}", acct.access_token, subprotocol=True)
    assert header.subprotocol == "bearer"
    # What was recorded before they connected, in order.
    head = [sse.next(), sse.next()]
    assert sse.content_type.startswith("text/event-stream")
    assert [(i, e) for i, e, _ in head] == [("1", "status"), ("2", "event")]
    assert head[1][2] == {"type": "event", "seq": 2, "at": head[1][2]["at"], "kind": "energy",
                          "t_start": 38.0, "t_end": 39.5, "strength": 0.9,
                          "detail": {"level": 4.2}}  # fmt: skip
    assert head[1][2]["at"].endswith("Z")
    for ws in (first, header):
        assert ws_messages(ws, lambda m: m["seq"] == 2) == [d for _, _, d in head]

    # A clip stored while they listen reaches each of them.
    write(db, sid, StreamEventType.CLIP, id="c" * 32, stream_start=30.0, stream_end=50.0,
          score=0.62, available_at="2026-12-06T18:00:00Z")  # fmt: skip
    _, event, clip = sse.next()
    assert (event, clip["type"], clip["seq"], clip["id"]) == ("clip", "clip", 3, "c" * 32)
    for ws in (first, header):
        assert ws_messages(ws, is_clip) == [clip]

    # A stop (the API writes its status) ends every feed, after the last message.
    stop = client.delete(f"/api/streams/{sid}", headers=acct.headers)
    assert stop.status_code == 200, stop.text
    tail = sse.until(lambda e, _: e == "end")
    assert [(e, d.get("status")) for _, e, d in tail] == [("status", "stopped"),
                                                          ("end", "stopped")]  # fmt: skip
    assert tail[-1][0] is None  # the end has no id: a resume never skips past it
    sse.join()
    for ws in (first, header):
        got = ws_messages(ws, lambda m: m["type"] == "end")
        assert got == [tail[0][2], {"type": "end", "status": "stopped"}]
        assert ws_closed(ws) == (1000, "")

    # Resuming: Last-Event-ID (what a reconnecting EventSource sends), ?after=, WS ?after=.
    again = SseReader(client, f"/api/streams/{sid}/events",
                      {**acct.headers, "Last-Event-ID": "2"})  # fmt: skip
    resumed = again.until(lambda e, _: e == "end")
    assert [i for i, _, _ in resumed] == ["3", "4", None]
    after = SseReader(client, f"/api/streams/{sid}/events?after=3", acct.headers)
    assert [e for _, e, _ in after.until(lambda e, _: e == "end")] == ["status", "end"]
    late = ws_connect(base, f"/ws/stream/{sid}?after=3", acct.access_token)
    assert [m["type"] for m in ws_messages(late, lambda m: m["type"] == "end")] == [
        "status", "end"]
    bad = client.get(f"/api/streams/{sid}/events",
                     headers={**acct.headers, "Last-Event-ID": "x1"})  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "LAST_EVENT_ID_INVALID")


def test_a_bad_token_and_another_workspace_are_refused(server, db):
    base, client = server
    owner, stranger = register(client, "owner"), register(client, "stranger")
    sid = new_stream(client, owner)
    for ws in (ws_connect(base, f"/ws/stream/{sid}", "not-a-token"),
               ws_connect(base, f"/ws/stream/{sid}", "not-a-token", subprotocol=True)):
        [msg] = ws_messages(ws, lambda m: True)
        assert msg["type"] == "error"
        assert msg["error"]["code"] == "TOKEN_INVALID"
        assert msg["error"]["message"]
        assert ws_closed(ws) == (POLICY_VIOLATION, "TOKEN_INVALID")
    # A first message without a token.
    ws = ws_connect(base, f"/ws/stream/{sid}", first={"hello": "there"})
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "UNAUTHORIZED"
    assert ws_closed(ws)[0] == POLICY_VIOLATION

    # Another workspace's stream: 403 over HTTP, a FORBIDDEN close over WebSocket.
    resp = client.get(f"/api/streams/{sid}/events", headers=stranger.headers)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "FORBIDDEN")
    ws = ws_connect(base, f"/ws/stream/{sid}", stranger.access_token, subprotocol=True)
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "FORBIDDEN"
    assert ws_closed(ws) == (POLICY_VIOLATION, "FORBIDDEN")
    # Naming the owner's workspace does not help a non-member.
    ws = ws_connect(base, f"/ws/stream/{sid}", first={"token": stranger.access_token,
                                                      "workspace_id": owner.workspace_id})
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "WORKSPACE_FORBIDDEN"
    assert ws_closed(ws) == (POLICY_VIOLATION, "WORKSPACE_FORBIDDEN")
    # A stream that does not exist: not found, 4404.
    ws = ws_connect(base, "/ws/stream/" + "0" * 32, owner.access_token)
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "STREAM_NOT_FOUND"
    assert ws_closed(ws) == (4404, "STREAM_NOT_FOUND")


def test_the_token_lapsing_while_connected_closes_the_socket(rt_settings, db):
    short = rt_settings.model_copy(update={"access_token_ttl_s": 3})
    with served(short) as (base, client):
        acct = register(client, "lapse")
        sid = new_stream(client, acct)
        write(db, sid, StreamEventType.STATUS, status="active", error=None)
        ws = ws_connect(base, f"/ws/stream/{sid}", acct.access_token)
        got = ws_messages(ws, lambda m: m["type"] == "token_expired", timeout=30)
        assert [m["type"] for m in got] == ["status", "token_expired"]
        assert got[-1]["code"] == "TOKEN_EXPIRED"
        assert ws_closed(ws) == (POLICY_VIOLATION, "TOKEN_EXPIRED")
        # Connecting again with the lapsed token is refused as expired.
        ws = ws_connect(base, f"/ws/stream/{sid}", acct.access_token, subprotocol=True)
        assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "TOKEN_EXPIRED"
        assert ws_closed(ws)[0] == POLICY_VIOLATION


def test_the_job_websocket_mirrors_the_job_event_stream(server, db):
    base, client = server
    acct = register(client, "jobs")
    with db.session() as s:
        job = Job(workspace_id=acct.workspace_id, kind="clips", status=JobStatus.INGESTING,
                  progress=0.1, params={}, started_at=utcnow())  # fmt: skip
        s.add(job)
        s.flush()
        s.add(JobStep(job_id=job.id, name="ingest", status=StepStatus.RUNNING, attempt=1,
                      started_at=utcnow()))  # fmt: skip
        job_id = job.id
    sse = SseReader(client, f"/api/jobs/{job_id}/events", acct.headers)
    ws = ws_connect(base, f"/ws/jobs/{job_id}", acct.access_token, subprotocol=True)
    opening = sse.until(lambda e, _: e == "status")
    assert [e for _, e, _ in opening] == ["step", "status"]
    got = ws_messages(ws, lambda m: m["type"] == "status")
    assert got == [{"type": e, "seq": int(i), "data": d} for i, e, d in opening]

    with db.session() as s:  # the step ends and the job goes to review, in one commit
        row = s.get(Job, job_id)
        row.status, row.progress, row.finished_at = JobStatus.REVIEW, 1.0, utcnow()
        step = s.query(JobStep).filter_by(job_id=job_id).one()
        step.status = StepStatus.SUCCEEDED
        step.finished_at = step.started_at + timedelta(seconds=2)
    rest = sse.until(lambda e, _: e == "end")
    assert [e for _, e, _ in rest] == ["step", "status", "end"]
    assert rest[-1][2] == {"status": "review"}
    got = ws_messages(ws, lambda m: m["type"] == "end")
    assert got == [{"type": e, "seq": int(i), "data": d} for i, e, d in rest]
    assert ws_closed(ws) == (1000, "")
    # Another workspace's job is refused.
    other = register(client, "jobs-other")
    ws = ws_connect(base, f"/ws/jobs/{job_id}", other.access_token)
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "FORBIDDEN"
    assert ws_closed(ws)[0] == POLICY_VIOLATION
