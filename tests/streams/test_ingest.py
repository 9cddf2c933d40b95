"""Pull ingest from a real live HLS stream (ffmpeg ``-re`` behind a local HTTP server): it
reaches ``active`` and fills the ring, drains on stop, reconnects when the source comes back,
and reports ``error`` with the reason when it stays down."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from clipray.cluster.procs import free_ports
from clipray.streams.ingest import Ingest, IngestState
from clipray.streams.ring import SEGMENTS, RingBuffer
from clipray.streams.settings import IngestSettings
from tests.streams.conftest import (
    LiveHls,
    Recorder,
    frame_md5s,
    listening,
    streams_of,
    wait_until,
)

ACTIVE, CONNECTING = IngestState.ACTIVE, IngestState.CONNECTING
ERROR, STOPPED = IngestState.ERROR, IngestState.STOPPED

FAST = IngestSettings(segment_s=1.0, probe_s=3.0, stall_timeout_s=4.0, rw_timeout_s=2.0,
                      backoff_initial_s=0.3, backoff_max_s=1.0, max_failures=30,
                      stop_grace_s=5.0)  # fmt: skip
"""1 s segments and quick retries, so each test stays short on a shared box."""


def contiguous(ring: RingBuffer) -> bool:
    segs = ring.segments()
    return all(b.start_s == pytest.approx(a.end_s) for a, b in itertools.pairwise(segs))


def test_ingest_from_live_hls_reaches_active_fills_the_ring_and_drains(
    tmp_path: Path, live_hls: LiveHls
):
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    ingest = Ingest(live_hls.url, ring, segment_s=1.0, on_status=rec.status,
                    on_segment=rec.segment, settings=FAST).start()  # fmt: skip
    try:
        rec.wait(lambda r: r.index(ACTIVE) is not None and len(r.segments) >= 4, 45,
                 "active and four segments")  # fmt: skip
        assert rec.statuses[0].state is CONNECTING
        # H.264 with 1 s keyframes and AAC: copied, no encode.
        assert ingest.modes == ("copy", "copy")
        segs = ring.segments()
        assert [s.seq for s in segs] == list(range(len(segs)))
        # Cut at each keyframe past 1 s: one GOP each (the last may be cut short later).
        assert [s.duration_s for s in segs[:3]] == pytest.approx([1.0] * 3, abs=0.041)
        assert contiguous(ring)
        out = ring.window(segs[0].start_s, segs[2].end_s, tmp_path / "w.mp4")
        assert len(frame_md5s(out)) == 75
        assert set(streams_of(out)) == {"video", "audio"}
    finally:
        held = len(ring)
        final = ingest.stop()
    assert final.state is STOPPED
    assert rec.statuses[-1].state is STOPPED
    # Drained: the segment open when stop() was called was closed and landed.
    assert len(ring) > held
    assert ring.segments()[-1].end_s == pytest.approx(ring.span()[1])
    assert list((ring.root / "incoming").iterdir()) == []
    assert {p.name for p in (ring.root / SEGMENTS).iterdir()} == {
        s.name for s in ring.segments()}  # fmt: skip


def test_the_source_drops_and_comes_back_and_the_ingest_goes_on(
    tmp_path: Path, live_hls: LiveHls
):
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    with Ingest(live_hls.url, ring, on_status=rec.status, on_segment=rec.segment,
                settings=FAST):  # fmt: skip
        rec.wait(lambda r: r.index(ACTIVE) is not None and len(r.segments) >= 2, 45,
                 "active")  # fmt: skip
        first_active = rec.index(ACTIVE)
        assert first_active is not None

        live_hls.down()
        rec.wait(lambda r: r.index(CONNECTING, first_active) is not None, 30, "a reconnect")
        dropped = rec.index(CONNECTING, first_active)
        assert dropped is not None
        assert rec.statuses[dropped].reason  # what ended the connection
        # Failed attempts while it is down are counted and carry the cause.
        rec.wait(lambda r: any(s.attempt >= 1 for s in r.statuses[dropped:]), 30,
                 "a failed reconnect")  # fmt: skip
        failed = next(s for s in rec.statuses[dropped:] if s.attempt >= 1)
        assert "5XX" in (failed.reason or "")
        before = len(rec.segments)

        live_hls.up()
        rec.wait(lambda r: r.index(ACTIVE, dropped) is not None
                 and len(r.segments) >= before + 3, 45, "active again")  # fmt: skip
    # One clock across both connections: the new segments continue the old ones.
    assert contiguous(ring)
    assert ring.segments()[before].start_s == pytest.approx(rec.segments[before - 1].end_s)
    assert rec.statuses[-1].state is STOPPED


def test_a_source_that_stays_down_is_an_error_with_the_reason(
    tmp_path: Path, live_hls: LiveHls
):
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    settings = FAST.model_copy(update={"max_failures": 3, "backoff_initial_s": 0.2})
    ingest = Ingest(live_hls.url, ring, on_status=rec.status, on_segment=rec.segment,
                    settings=settings).start()  # fmt: skip
    try:
        rec.wait(lambda r: r.index(ACTIVE) is not None and len(r.segments) >= 3, 45,
                 "active for three segments")  # fmt: skip
        live_hls.down()
        rec.wait(lambda r: r.index(ERROR) is not None, 45, "error")
        assert ingest.wait(10)  # the ingest gave up: its thread ended
    finally:
        ingest.stop()
    error = rec.statuses[rec.index(ERROR)]
    assert error.attempt == 3
    assert error.reason is not None
    assert error.reason.startswith("3 connections failed in a row")
    assert "Server returned 5XX" in error.reason
    assert rec.statuses[-1].state is ERROR  # stop() after an error reports nothing more
    assert ingest.status.state is ERROR
    assert len(ring) >= 1  # what was received before the drop stays in the buffer


def test_a_playlist_that_stops_advancing_is_a_stall_and_then_an_error(
    tmp_path: Path, live_hls: LiveHls
):
    """The encoder dies but the server goes on serving its last playlist: ffmpeg would wait
    for new segments forever; the watchdog drops the connection, reconnects (starting at
    the newest segment) get nothing new, and after two the ingest reports the stall."""
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    settings = FAST.model_copy(update={"max_failures": 2, "stall_timeout_s": 3.0})
    with Ingest(live_hls.url, ring, on_status=rec.status, on_segment=rec.segment,
                settings=settings) as ingest:  # fmt: skip
        rec.wait(lambda r: len(r.segments) >= 3, 45, "three segments")
        live_hls.freeze()
        rec.wait(lambda r: r.index(ERROR) is not None, 45, "error")
        assert ingest.wait(10)
    stalls = [s for s in rec.statuses if "stalled" in (s.reason or "")]
    assert stalls[0].state is CONNECTING
    error = rec.statuses[rec.index(ERROR)]
    assert error.reason is not None
    assert error.reason.startswith("2 connections failed in a row")
    assert "no segment for 3 s: the source stalled" in error.reason
    # Nothing was received twice: no segment landed after the stall was noticed.
    assert all(seg.received_at < stalls[0].at for seg in ring.segments())
    assert contiguous(ring)


def test_an_ended_playlist_is_not_replayed_into_the_buffer(tmp_path: Path, live_hls: LiveHls):
    """After the broadcast ends, the same URL serves the finished playlist: reconnecting
    reads all of it at once. That media is already in the buffer, so it is held back and
    dropped, and the connections count as failed until the ingest reports the end."""
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    settings = FAST.model_copy(update={"max_failures": 2})
    with Ingest(live_hls.url, ring, on_status=rec.status, on_segment=rec.segment,
                settings=settings) as ingest:  # fmt: skip
        rec.wait(lambda r: len(r.segments) >= 3, 45, "three segments")
        live_hls.end()
        rec.wait(lambda r: r.index(ERROR) is not None, 45, "error")
        assert ingest.wait(10)
    ended = next(s for s in rec.statuses if s.reason == "the source ended")
    assert ended.state is CONNECTING
    assert all(seg.received_at < ended.at for seg in ring.segments())  # nothing replayed
    error = rec.statuses[rec.index(ERROR)]
    assert error.reason is not None
    assert error.reason.startswith("2 connections failed in a row; the last: the source ended")
    assert "at once and did not advance" in error.reason
    assert list((ring.root / "incoming").iterdir()) == []
    assert contiguous(ring)


@pytest.mark.parametrize(("scheme", "serve"), [
    pytest.param("tcp", ["-f", "flv", "-listen", "1", "rtmp://127.0.0.1:{port}/live/cam"],
                 id="rtmp"),
    pytest.param("udp", ["-f", "mpegts", "srt://127.0.0.1:{port}?mode=listener"], id="srt"),
])  # fmt: skip
def test_ingest_pulls_rtmp_and_srt(tmp_path: Path, small_talk: Path, scheme: str,
                                   serve: list[str]):  # fmt: skip
    """A one-client ffmpeg server plays the talk in real time; the ingest connects and
    segments come out. The source's GOP is known here, so ``video=copy`` skips the probe,
    which would take the server's only connection. MPEG-TS over SRT declares no streams up
    front: ffmpeg reads up to 5 s of it (its analyzeduration) before the first segment, so
    the stall timeout is longer than the other tests'."""
    port = free_ports(1)[0]
    server = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(small_talk), "-c", "copy",
         *(a.format(port=port) for a in serve)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = {"tcp": f"rtmp://127.0.0.1:{port}/live/cam", "udp": f"srt://127.0.0.1:{port}"}[scheme]
    wait_until(lambda: listening(port, scheme), 20, "the server")
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    try:
        with Ingest(url, ring, on_status=rec.status, on_segment=rec.segment,
                    settings=FAST.model_copy(update={"video": "copy",
                                                     "stall_timeout_s": 12.0})):  # fmt: skip
            rec.wait(lambda r: r.index(ACTIVE) is not None and len(r.segments) >= 3, 45,
                     "three segments")  # fmt: skip
    finally:
        server.kill()
        server.wait()
    segs = ring.segments()
    assert [s.duration_s for s in segs[1:3]] == pytest.approx([1.0, 1.0], abs=0.041)
    out = ring.window(segs[0].start_s, segs[2].end_s, tmp_path / "w.mp4")
    assert set(streams_of(out)) == {"video", "audio"}


def test_a_long_gop_source_is_transcoded_to_exact_segments(tmp_path: Path, small_talk: Path):
    """A local file with keyframes 8 s apart (``-re``): too long to copy, so the video is
    encoded with a keyframe forced every segment."""
    from clipray.media.ffmpeg import run_ffmpeg

    src = tmp_path / "long-gop.mp4"
    run_ffmpeg(["-i", small_talk, "-t", "5", "-c:v", "libx264", "-preset", "ultrafast",
                "-g", "250", "-keyint_min", "250", "-sc_threshold", "0", "-c:a", "copy",
                src], what="long gop")  # fmt: skip
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    ingest = Ingest(str(src), ring, on_status=rec.status, on_segment=rec.segment,
                    settings=FAST).start()  # fmt: skip
    assert ingest.wait(60), "the file should end the ingest"
    assert ingest.modes == ("transcode", "copy")
    assert rec.statuses[-1].state is STOPPED
    assert rec.statuses[-1].reason == "the file ended"
    durations = [s.duration_s for s in ring.segments()]
    assert len(durations) == 5
    # Every cut on a forced keyframe 1 s apart; the first segment also holds the encoder's
    # two-frame B-frame delay before its first frame.
    assert durations[0] == pytest.approx(1.08, abs=0.041)
    assert durations[1:4] == pytest.approx([1.0] * 3, abs=0.041)
    assert sum(durations) == pytest.approx(5.0, abs=0.1)
    out = ring.window(0.0, ring.span()[1], tmp_path / "all.mp4")
    assert len(frame_md5s(out)) == 125
