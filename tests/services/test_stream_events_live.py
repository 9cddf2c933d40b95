"""A live stream's clip reaches its watchers: a synthetic HLS stream (ffmpeg ``-re``) with a
loud tone at a known moment, pulled, analysed and clipped by the real
:class:`LivePipeline`, driven with the real worker's context (its reports and messages go
to the database under a supervisor's claim), while an SSE client and a WebSocket client
follow the stream through the app served for real. Both receive the tone's ``event``
and then its ``clip`` (the stored clip, whose window holds the tone), and the feed ends
once the stream is stopped and the claim let go.

Real FFmpeg, faster-whisper (``tiny.en``, in process), SQLite, the S3 server, uvicorn."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, update

from clipray.actors.stream_worker import StreamWorker
from clipray.services.stream_pipeline import LivePipeline
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.orm import StreamClip, StreamMonitor, utcnow
from tests.apiclient import register
from tests.serve.realtime import SseReader, served, ws_closed, ws_connect, ws_messages
from tests.services.stream_media import make_stream_media, run_past_tone
from tests.streams.conftest import LiveHls

pytestmark = pytest.mark.integration

HOLDER = "supervisor-under-test"
OPTIONS = {"min_duration": 10.0, "max_duration": 20.0, "keywords": [], "aspect": "1:1",
           "max_clips_per_hour": 12}  # fmt: skip


@pytest.fixture(scope="module")
def stream_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream_media(tmp_path_factory.mktemp("stream-media") / "live.mp4")


@pytest.fixture
def live_settings(settings, buckets, tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "database_url": url, "warm_models": False, "url_allow_private": True,
        "url_allowed_domains": ("127.0.0.1",),
        "stream_ingest": settings.stream_ingest.model_copy(update={"video": "copy"}),
        "jwt_secret": SecretStr("test-secret-" + "x" * 40),
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),
        "rate_limit_per_minute": 10_000, "stream_events_poll_s": 0.2,
    })  # fmt: skip


def claim(db: Database, monitor_id: str) -> None:
    """What the supervisor does before it starts a worker."""
    with db.session() as s:
        s.execute(update(StreamMonitor).where(StreamMonitor.id == monitor_id).values(
            claimed_by=HOLDER, claim_expires_at=utcnow() + timedelta(hours=1)))  # fmt: skip


def test_the_burst_clip_reaches_an_sse_and_a_websocket_client(stream_media, live_settings,
                                                             buckets, tmp_path):  # fmt: skip
    db = Database(live_settings.resolved_database_url)
    live = LiveHls(tmp_path / "hls", stream_media)
    live.up()
    try:
        with served(live_settings) as (base, client):
            acct = register(client, "live")
            made = client.post("/api/streams", headers=acct.headers,
                               json={"url": live.url, "settings": OPTIONS})  # fmt: skip
            assert made.status_code == 201, made.text
            sid = made.json()["id"]
            claim(db, sid)
            worker = StreamWorker(live_settings, sid, HOLDER, db=db)
            ctx = worker._context()  # the real worker's context: its writes, its claim
            sse = SseReader(client, f"/api/streams/{sid}/events", acct.headers)
            ws = ws_connect(base, f"/ws/stream/{sid}", acct.access_token, subprotocol=True)
            pipeline = LivePipeline(ctx, db, buckets).start()
            try:
                run_past_tone(pipeline)
            finally:
                pipeline.close()
            assert pipeline.clips, f"no clip was made; failures: {pipeline.failures}"

            # Each client gets the tone's event first, then the clip that holds it.
            def tone_clip(msg: dict) -> bool:
                return msg["type"] == "clip" and "energy" in msg["kinds"]

            heard = [d for _, _, d in sse.until(lambda _, d: tone_clip(d), timeout=120)]
            seen = ws_messages(ws, tone_clip, timeout=120)
            assert seen == heard
            clip = heard[-1]
            assert [m["seq"] for m in heard] == sorted(m["seq"] for m in heard)
            assert ("status", "active") in [(m["type"], m.get("status")) for m in heard]
            loud = [m for m in heard if m["type"] == "event" and m["kind"] == "energy"
                    and clip["stream_start"] <= m["t_start"] <= clip["stream_end"]]  # fmt: skip
            assert loud, f"no energy event inside the clip among {heard}"
            with db.session() as s:
                row = s.scalar(select(StreamClip).where(StreamClip.generated_clip_id == clip["id"]))
            assert row is not None
            assert row.monitor_id == sid
            assert (clip["stream_start"], clip["stream_end"]) == (row.stream_start, row.stream_end)
            assert clip["available_at"].endswith("Z")
            assert clip["id"] in pipeline.clips

            # Stopped, and the worker's claim let go: the feed ends for both.
            assert client.delete(f"/api/streams/{sid}", headers=acct.headers).status_code == 200
            with db.session() as s:
                s.execute(update(StreamMonitor).where(StreamMonitor.id == sid)
                          .values(claimed_by=None, claim_expires_at=None))  # fmt: skip
            tail = sse.until(lambda e, _: e == "end", timeout=60)
            assert tail[-1][2] == {"type": "end", "status": "stopped"}
            assert ws_messages(ws, lambda m: m["type"] == "end")[-1]["status"] == "stopped"
            assert ws_closed(ws) == (1000, "")
            sse.join()
    finally:
        live.close()
        db.dispose()
