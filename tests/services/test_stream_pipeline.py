"""The live pipeline on a real stream: a synthetic HLS stream made by ffmpeg (``-re``) from
the shared media, with a loud 2 kHz tone at a known moment of read speech, pulled, analysed
and clipped by :class:`LivePipeline` driven as a stream worker drives it (step, drain, close).

Everything is real: FFmpeg ingest and render, faster-whisper (``tiny.en``, in process),
SQLite, the S3 server. The tone's clip is a generated clip of kind ``stream`` whose loudest
second is the tone; a workspace keyword spoken in the speech makes its own clip; the
``stream.clip`` webhook is queued with each; a window assembled twice is one clip."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from clipray.domain.enums import GeneratedKind
from clipray.domain.streams import MonitorSettings, MonitorStatus, StreamHealth
from clipray.domain.webhooks import WebhookEvent
from clipray.live import ClipWindow, EventKind
from clipray.media.ffmpeg import check, run
from clipray.serve.routes.generated import generated_out
from clipray.services import streams, webhooks
from clipray.services.stream_clips import StreamTarget, assemble
from clipray.services.stream_pipeline import LivePipeline, analysis_overrides, twitch_channel
from clipray.storage.db import Database
from clipray.storage.orm import GeneratedClip, StreamClip, WebhookDelivery, Workspace
from tests.services.stream_media import (
    KEYWORD,
    TONE_HZ,
    make_stream_media,
    run_past_tone,
)
from tests.streams.conftest import LiveHls, wait_until

RATE = 16_000


OPTIONS = {"min_duration": 10.0, "max_duration": 20.0, "keywords": [KEYWORD],
           "aspect": "1:1", "max_clips_per_hour": 12}
"""The monitor's settings: short clips, square (a quicker render on a shared box)."""


@dataclass
class Context:
    """What the stream worker hands a pipeline, recording what the pipeline reports."""

    monitor_id: str
    workspace_id: str
    url: str | None
    buffer_dir: Path
    settings: object
    options: MonitorSettings = field(default_factory=lambda: MonitorSettings.of(OPTIONS))
    push_port: int | None = None
    stream_key: str | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    reports: list[tuple[str, str | None]] = field(default_factory=list)
    made: int = 0
    events: list[tuple[str, dict]] = field(default_factory=list)
    healths: list[StreamHealth] = field(default_factory=list)

    def report(self, status: MonitorStatus, error: str | None = None) -> bool:
        self.reports.append((status.value, error))
        return True

    def clip_made(self, n: int = 1) -> bool:
        self.made += n
        return True

    def event(self, kind, payload: dict) -> bool:
        self.events.append((kind.value, payload))
    def health(self, health: StreamHealth) -> bool:
        self.healths.append(health)
        return True


@pytest.fixture(scope="module")
def stream_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream_media(tmp_path_factory.mktemp("stream-media") / "live.mp4")


@pytest.fixture
def stream_settings(settings, buckets, tmp_path):
    return settings.model_copy(update={
        "database_url": f"sqlite:///{tmp_path / 'streams.db'}",
        "warm_models": False,
        "url_allow_private": True,
        "url_allowed_domains": ("127.0.0.1",),
        # The synthetic stream is H.264 with 1 s GOPs: copied, without the probe's 6 s.
        "stream_ingest": settings.stream_ingest.model_copy(update={"video": "copy"}),
    })  # fmt: skip


@pytest.fixture
def db(stream_settings) -> Database:
    from clipray.storage import migrate

    migrate.upgrade(stream_settings.resolved_database_url)
    database = Database(stream_settings.resolved_database_url)
    yield database
    database.dispose()


def _workspace(db: Database) -> str:
    with db.session() as s:
        ws = Workspace(slug="live", name="live")
        s.add(ws)
        s.flush()
        return ws.id


def _pcm(path: Path) -> np.ndarray:
    proc = check(run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
                      "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"], text=False),
                 "decode")  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.int16).astype(np.float64) / 32768


def loudest_second(pcm: np.ndarray) -> tuple[float, float]:
    """Start (s) of the loudest second of ``pcm`` (0.1 s steps) and the share of that
    second's energy within 100 Hz of the tone."""
    hop, n = RATE // 10, RATE
    power = np.cumsum(np.concatenate([[0.0], pcm**2]))
    starts = np.arange(0, max(1, len(pcm) - n + 1), hop)
    energy = power[np.minimum(starts + n, len(pcm))] - power[starts]
    best = int(starts[int(np.argmax(energy))])
    spectrum = np.abs(np.fft.rfft(pcm[best:best + n])) ** 2
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    share = spectrum[np.abs(freqs - TONE_HZ) <= 100].sum() / spectrum.sum()
    return best / RATE, float(share)


def check_health(healths: list[StreamHealth], settings) -> None:
    """What the pipeline reported as it went: about once a second, a growing buffer, lags
    that are measured and bounded on a real-time stream."""
    assert len(healths) >= 5, healths
    times = [h.measured_at for h in healths]
    assert times == sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.99, gaps  # throttled to one a second
    last = healths[-1]
    assert last.buffer_seconds > 10.0
    assert last.buffer_bytes > 0
    assert abs(last.buffer_seconds - last.stream_time_s) < 1.0  # nothing evicted yet
    ingest = [h.ingest_lag_s for h in healths if h.ingest_lag_s is not None]
    assert ingest, "no ingest lag: no segment was measured"
    assert all(0.0 <= x < 30.0 for x in ingest), ingest
    heard = [h.transcript_lag_s for h in healths if h.transcript_lag_s is not None]
    assert heard, "no transcript lag: nothing was transcribed"
    # Audio waits for a whole ASR window before it is heard; a loaded box adds to that.
    bound = settings.stream_clips.asr_window_s + 60.0
    assert all(0.0 <= x < bound for x in heard), heard


@pytest.mark.integration
def test_a_live_stream_becomes_clips(stream_media, stream_settings, db, buckets, tmp_path):
    ws = _workspace(db)
    webhooks.subscribe(db, stream_settings, ws, None, "http://127.0.0.1:9/hook",
                       [WebhookEvent.STREAM_CLIP])  # fmt: skip
    live = LiveHls(tmp_path / "hls", stream_media)
    live.up()
    monitor = streams.create(stream_settings, db, ws, None, live.url, OPTIONS).monitor.id
    ctx = Context(monitor, ws, live.url, stream_settings.home_dir / "streams" / monitor,
                  stream_settings)  # fmt: skip
    pipeline = LivePipeline(ctx, db, buckets).start()
    try:
        run_past_tone(pipeline)
    finally:
        pipeline.close()
        live.close()
    assert ("active", None) in ctx.reports
    assert pipeline.clips, f"no clip was made; failures: {pipeline.failures}"
    check_health(ctx.healths, stream_settings)
    assert ctx.made == len(pipeline.clips)
    # Every clip stored was told to the stream's watchers, and the analysis' events first.
    assert sorted(p["id"] for k, p in ctx.events if k == "clip") == sorted(pipeline.clips)
    assert any(k == "event" and p["kind"] == "energy" for k, p in ctx.events)

    with db.session() as s:
        rows = {r.generated_clip_id: (r, s.get(GeneratedClip, r.generated_clip_id))
                for r in s.scalars(select(StreamClip).where(StreamClip.monitor_id == monitor))}
        deliveries = list(s.scalars(select(WebhookDelivery)))
    assert set(rows) == set(pipeline.clips)
    assert all(g.kind is GeneratedKind.STREAM and g.workspace_id == ws for _, g in rows.values())
    # As /api/generated-clips serves them: kind stream, from the stream.
    for _, g in rows.values():
        out = generated_out(g)
        assert (out.kind, out.origin.type, out.origin.id) == ("stream", "stream", monitor)
    assert sorted(d.event for d in deliveries) == ["stream.clip"] * len(rows)
    assert {d.payload["generated_clip_id"] for d in deliveries} == set(rows)

    def kinds(row: StreamClip) -> set[str]:
        return {e["kind"] for e in row.events if "kind" in e}

    # The tone: an energy clip whose loudest second is the tone.
    loud = [(r, g) for r, g in rows.values() if EventKind.ENERGY.value in kinds(r)]
    assert loud, f"no energy clip among {[kinds(r) for r, _ in rows.values()]}"
    row, gen = loud[0]
    video = buckets.generated.scoped(ws).download(gen.storage_key, tmp_path / "tone.mp4")
    pcm = _pcm(video)
    at, share = loudest_second(pcm)
    assert share > 0.5, f"the loudest second ({at:.1f} s into the clip) is not the tone"
    [tone] = [e for e in row.events if e.get("kind") == "energy"][:1]
    clip_start = next(d.payload["clip_start"] for d in deliveries
                      if d.payload["generated_clip_id"] == gen.id)  # fmt: skip
    # Where the analysis placed the loud moment is where the clip's audio is loudest.
    assert abs((clip_start + at) - tone["t_start"]) < 1.0
    assert row.stream_start <= tone["t_start"]
    assert tone["t_end"] <= row.stream_end
    assert row.received_start < row.received_end
    assert 10.0 - 0.1 <= gen.duration_s <= 20.0 + 0.1

    # The keyword: its own clip, with a keyword event naming it.
    spoken = [r for r, _ in rows.values() if EventKind.KEYWORD.value in kinds(r)]
    assert spoken, f"no keyword clip among {[kinds(r) for r, _ in rows.values()]}"
    assert any(KEYWORD.lower() in str(e.get("detail", "")).lower()
               for r in spoken for e in r.events)  # fmt: skip

    # The same window again (a recreated worker): the first clip, nothing new.
    start, end = pipeline.analyzer.planner.emitted[row.window_key]
    again = assemble(stream_settings, db, buckets, pipeline.target,
                     ClipWindow(row.window_key, start, end, 0.5, ()), pipeline.ring)
    assert (again.created, again.generated_clip_id) == (False, row.generated_clip_id)

    # A window assembled twice from the buffer: one clip, one object, one webhook.
    lo, _ = pipeline.ring.span()
    fresh = ClipWindow(f"{monitor}:manual", lo + 1.0, lo + 7.0, 0.5, ())
    first = assemble(stream_settings, db, buckets, pipeline.target, fresh, pipeline.ring)
    second = assemble(stream_settings, db, buckets, pipeline.target, fresh, pipeline.ring)
    assert first.created
    assert not second.created
    assert second.generated_clip_id == first.generated_clip_id
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(StreamClip).where(
            StreamClip.window_key == fresh.key)) == 1  # fmt: skip
        assert s.scalar(select(func.count()).select_from(GeneratedClip).where(
            GeneratedClip.candidate_id == fresh.key)) == 1  # fmt: skip
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == len(rows) + 1
    names = [Path(o.key).name for o in buckets.generated.list_all()
             if o.key.startswith(f"{ws}/clips/{first.generated_clip_id}/")]  # fmt: skip
    assert sorted(names) == ["clip.mp4", "thumbnail.jpg"]


@pytest.mark.integration
def test_a_refused_window_leaves_nothing(stream_media, stream_settings, db, buckets, tmp_path):
    """At the workspace's cap the window is refused before anything is cut or stored."""
    from clipray.domain.errors import CodedError
    from clipray.streams.ring import RingBuffer
    from tests.streams.conftest import fill, segment_file

    ws = _workspace(db)
    ring = RingBuffer(tmp_path / "ring")
    fill(ring, segment_file(stream_media, tmp_path / "segs"))
    monitor = streams.create(stream_settings, db, ws, None, "http://127.0.0.1:9/x.m3u8").monitor.id
    target = StreamTarget(monitor, ws, "1:1")
    capped = stream_settings.model_copy(update={"generated_clips_max_live": 0})
    with pytest.raises(CodedError) as info:
        assemble(capped, db, buckets, target, ClipWindow(f"{monitor}:x", 2.0, 8.0, 0.5, ()), ring)
    assert info.value.code == "GENERATED_CLIP_LIMIT"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(StreamClip)) == 0
    assert [o.key for o in buckets.generated.list_all() if o.key.startswith(f"{ws}/")] == []


@pytest.mark.unit
@pytest.mark.parametrize(("url", "channel"), [
    pytest.param("https://www.twitch.tv/somechannel", "somechannel", id="page"),
    pytest.param("https://twitch.tv/other/videos", "other", id="bare-host"),
    pytest.param("https://cdn.example.com/live.m3u8", None, id="hls"),
    pytest.param("https://nottwitch.tv/x", None, id="lookalike"),
    pytest.param(None, None, id="push"),
])  # fmt: skip
def test_twitch_channel(url, channel):
    assert twitch_channel(url) == channel


@pytest.mark.unit
def test_the_monitor_settings_layer_onto_the_analysis_overrides():
    from clipray.config import Settings
    from clipray.streams.clip_settings import StreamClipSettings

    cfg = Settings(stream_clips=StreamClipSettings(
        analysis={"window": {"pre_roll_s": 2.0}, "energy": {"z_threshold": 4}}))
    out = analysis_overrides(cfg, MonitorSettings(min_duration=12, max_duration=30))
    assert out["window"] == {"pre_roll_s": 2.0, "min_duration": 12, "max_duration": 30,
                             "max_clips_per_hour": 12}  # fmt: skip
    assert out["energy"] == {"z_threshold": 4}


@pytest.mark.integration
def test_a_chat_spike_makes_a_clip(stream_media, stream_settings, db, buckets, tmp_path):
    """Chat read from a local server speaking Twitch's IRC dialect: a steady message a
    second, then a flood of ten a second for three seconds; the spike becomes a clip."""
    from clipray.live_chat.twitch import TwitchChatConfig
    from tests.live_chat.twitch_server import FakeTwitchIrc

    ws = _workspace(db)
    live = LiveHls(tmp_path / "hls", stream_media)
    live.up()
    monitor = streams.create(stream_settings, db, ws, None, live.url,
                             {**OPTIONS, "keywords": []}).monitor.id  # fmt: skip
    ctx = Context(monitor, ws, live.url, stream_settings.home_dir / "streams" / monitor,
                  stream_settings)  # fmt: skip
    stop = threading.Event()
    with FakeTwitchIrc() as irc:
        cfg = TwitchChatConfig(host="127.0.0.1", port=irc.port, tls=False, poll_s=0.05)
        pipeline = LivePipeline(ctx, db, buckets, chat=("somechannel", cfg)).start()
        irc.wait_for(lambda: irc.joins >= 1, timeout=30)
        flood_at: list[float] = []

        def chatter() -> None:
            n = 0
            while not stop.is_set():
                irc.privmsg("somechannel", f"viewer{n % 7}", f"message {n}")
                n += 1
                end = pipeline.ring.span()[1]
                if not flood_at and end >= 30.0:
                    flood_at.append(end)
                    for k in range(30):
                        irc.privmsg("somechannel", f"fan{k}", "CLIP IT")
                        time.sleep(0.1)
                stop.wait(1.0)

        thread = threading.Thread(target=chatter, daemon=True)
        thread.start()
        try:
            def advance() -> bool:
                pipeline.step()
                return bool(flood_at) and pipeline.ring.span()[1] >= flood_at[0] + 16.0

            wait_until(advance, 300, "the stream to pass the chat spike", every=0)
            pipeline.drain()
        finally:
            stop.set()
            thread.join(10)
            pipeline.close()
            live.close()
    with db.session() as s:
        rows = list(s.scalars(select(StreamClip).where(StreamClip.monitor_id == monitor)))
    chat = [r for r in rows if any(e.get("kind") == EventKind.CHAT.value for e in r.events)]
    assert chat, f"no chat clip among {[[e.get('kind') for e in r.events] for r in rows]}"
    [spike] = [e for e in chat[0].events if e.get("kind") == "chat"][:1]
    # The spike lies where the flood was sent, on the stream clock (chat reacts late: the
    # event starts reaction_s before the spike).
    assert flood_at[0] - 10.0 <= spike["t_end"] <= flood_at[0] + 10.0
