"""A stream's clips and health over HTTP (plain FastAPI app, real SQLite, the real S3 server,
real FFmpeg): clips cut from a real ring buffer by the stream clip service, listed newest
first with their stream windows, received times, events and latency; the health its worker
reports through the service (only while it holds the monitor), with the event-to-clip
percentiles over those clips; the role table's permissions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clipray.domain.streams import StreamHealth, percentile
from clipray.domain.time import utcnow
from clipray.live import ClipWindow, Event, EventKind
from clipray.media.ffmpeg import run_ffmpeg
from clipray.serve.app import create_api
from clipray.services import stream_health
from clipray.services.stream_clips import StreamTarget, assemble
from clipray.storage import migrate
from clipray.storage import streams as store
from clipray.storage.db import Database
from clipray.streams.ring import RingBuffer
from tests.apiclient import register
from tests.serve.test_api import assert_error
from tests.streams.conftest import SMALL, TALK, fill, segment_file

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sh_settings(api_settings, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('stream-health') / 'api.db'}"
    migrate.upgrade(url)
    return api_settings.model_copy(update={
        "database_url": url,
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),
        "url_allowed_domains": ("localhost",), "url_allow_private": True,
        "stream_push_ports": (29360, 29369),
    })  # fmt: skip


@pytest.fixture(scope="module")
def db(sh_settings):
    database = Database(sh_settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def client(sh_settings):
    with TestClient(create_api(sh_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> RingBuffer:
    """8 s of the talking head (160x160, 1 s GOPs) in a ring, as the ingest leaves it."""
    root = tmp_path_factory.mktemp("stream-health-ring")
    small = run_ffmpeg(["-i", TALK, *SMALL, root / "talk.mp4"], what="small talk") and (
        root / "talk.mp4")
    ring = RingBuffer(root / "ring")
    fill(ring, segment_file(small, root / "segs"))
    return ring


def clip(settings, db, buckets, ring, ws: str, monitor: str, start: float, end: float,
         kinds: tuple[EventKind, ...]) -> str:  # fmt: skip
    """A stream clip made by the service, as the live pipeline makes one."""
    events = tuple(Event(k, start + 0.5 + i, start + 1.0 + i, 0.8) for i, k in enumerate(kinds))
    window = ClipWindow(f"{monitor}:{start:g}-{end:g}", start, end, 0.7, events)
    made = assemble(settings, db, buckets, StreamTarget(monitor, ws, "1:1", "none"), window, ring)
    assert made.created
    return made.generated_clip_id


def test_clips_and_health_of_a_stream(client, sh_settings, db, buckets, ring):
    owner = register(client, "sh-owner")
    made = client.post("/api/streams", headers=owner.headers,
                       json={"url": "http://localhost:8080/live.m3u8"})  # fmt: skip
    assert made.status_code == 201, made.text
    sid = made.json()["id"]

    # Nothing reported, nothing clipped: the figures are null, the list empty.
    empty = client.get(f"/api/streams/{sid}/health", headers=owner.headers)
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert body["status"] == "idle"
    assert {k for k, v in body.items() if v is not None} == {"status", "latency_clips"}
    assert body["latency_clips"] == 0
    listed = client.get(f"/api/streams/{sid}/clips", headers=owner.headers).json()
    assert (listed["data"], listed["total"], listed["pages"]) == ([], 0, 1)

    first = clip(sh_settings, db, buckets, ring, owner.workspace_id, sid, 1.0, 4.0,
                 (EventKind.ENERGY,))  # fmt: skip
    second = clip(sh_settings, db, buckets, ring, owner.workspace_id, sid, 4.5, 7.5,
                  (EventKind.KEYWORD, EventKind.ENERGY))  # fmt: skip

    page = client.get(f"/api/streams/{sid}/clips", headers=owner.headers).json()
    assert [c["id"] for c in page["data"]] == [second, first]  # newest first
    assert page["total"] == 2
    newest = page["data"][0]
    assert (newest["kind"], newest["status"], newest["origin"]) == (
        "stream", "available", {"type": "stream", "id": sid})
    assert newest["watch_url"] == f"/api/generated-clips/{second}/watch"
    assert newest["expires_at"].endswith("Z")
    # The window lies on segment edges around the asked span, and arrived in that order.
    assert newest["stream_start"] <= 4.5 < 7.5 <= newest["stream_end"]
    received = [datetime.fromisoformat(newest[k]) for k in ("received_start", "received_end")]
    available = datetime.fromisoformat(newest["available_at"])
    assert received[0] < received[1] <= available
    assert newest["events"][0] == {"score": 0.7}
    assert [e["kind"] for e in newest["events"][1:]] == ["keyword", "energy"]
    latencies = [c["latency_s"] for c in page["data"]]
    assert all(0.0 <= x < 120.0 for x in latencies), latencies
    # Followed, the watch link plays the clip.
    watch = client.get(newest["watch_url"], headers=owner.headers, follow_redirects=False)
    assert watch.status_code == 302

    one = client.get(f"/api/streams/{sid}/clips?limit=1&page=2", headers=owner.headers).json()
    assert ([c["id"] for c in one["data"]], one["total"], one["pages"]) == ([first], 2, 2)

    # The worker reports, while its supervisor's claim holds.
    now = utcnow()
    with db.session() as s:
        assert store.claim_runnable(s, "sup-1", now, ttl_s=60, limit=10) == [sid]
    h = StreamHealth(measured_at=now, stream_time_s=7.9, buffer_seconds=7.9,
                     buffer_bytes=ring.bytes, ingest_lag_s=1.25, transcript_lag_s=4.5)  # fmt: skip
    assert stream_health.record(db, sid, "sup-1", h)
    stale = StreamHealth(now + timedelta(seconds=1), 9.0, 1.0, 1, 99.0, 99.0)
    assert not stream_health.record(db, sid, "sup-old", stale)  # not the claim's holder

    got = client.get(f"/api/streams/{sid}/health", headers=owner.headers).json()
    assert (got["buffer_seconds"], got["buffer_bytes"], got["ingest_lag_s"],
            got["transcript_lag_s"], got["stream_time_s"]) == (7.9, ring.bytes, 1.25, 4.5, 7.9)
    assert datetime.fromisoformat(got["measured_at"]) == now.replace(
        microsecond=now.microsecond)  # fmt: skip
    assert got["latency_clips"] == 2
    assert got["latency_p50_s"] == pytest.approx(percentile(latencies, 50), abs=1e-3)
    assert got["latency_p95_s"] == pytest.approx(percentile(latencies, 95), abs=1e-3)
    assert got["latency_p50_s"] <= got["latency_p95_s"]


def test_viewers_read_others_are_refused(client, sh_settings):
    owner = register(client, "sh-team-owner")
    team = client.post("/api/workspaces", headers=owner.headers, json={"name": "sh"}).json()
    viewer = register(client, "sh-viewer")
    resp = client.post(f"/api/workspaces/{team['id']}/members", headers=owner.headers,
                       json={"email": viewer.email, "role": "viewer"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    as_team = {**owner.headers, "X-Workspace-Id": team["id"]}
    sid = client.post("/api/streams", headers=as_team, json={"url": "rtmp-push"}).json()["id"]
    viewer_team = {**viewer.headers, "X-Workspace-Id": team["id"]}
    for route in ("clips", "health"):
        assert client.get(f"/api/streams/{sid}/{route}", headers=viewer_team).status_code == 200
        stranger = register(client, f"sh-stranger-{route}")
        # Another workspace's stream: refused as GET /api/streams/{id} refuses it.
        assert_error(client.get(f"/api/streams/{sid}/{route}", headers=stranger.headers),
                     403, "FORBIDDEN")  # fmt: skip
        assert_error(client.get(f"/api/streams/0123456789abcdef0123456789abcdef/{route}",
                                headers=stranger.headers), 404, "STREAM_NOT_FOUND")  # fmt: skip
        assert_error(client.get(f"/api/streams/{sid}/{route}"), 401, "UNAUTHORIZED")


def test_openapi_documents_both_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route, schema in (("clips", "Page_StreamClipOut_"), ("health", "StreamHealthOut")):
        op = paths[f"/api/streams/{{stream_id}}/{route}"]["get"]
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(schema), ref
        assert op["description"]
