"""Push ingest: ffmpeg publishes RTMP as OBS does, segments come out; a wrong stream key or
application is refused before anything is recorded, and the port listens again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipray.cluster.procs import free_ports
from clipray.domain.errors import CodedError
from clipray.streams.ingest import IngestState, PushIngest
from clipray.streams.ring import RingBuffer
from clipray.streams.settings import IngestSettings
from tests.streams.conftest import Recorder, listening, streams_of, wait_until

KEY = "k3y_0f-th1s-stream"
FAST = IngestSettings(segment_s=1.0, stall_timeout_s=5.0, backoff_initial_s=0.3,
                      stop_grace_s=5.0)  # fmt: skip


def push(source: Path, port: int, path: str, seconds: float = 8) -> subprocess.Popen[bytes]:
    """Publish ``source`` in real time to ``rtmp://127.0.0.1:port/{path}`` (H.264 and AAC
    with 1 s keyframes, copied, as OBS sends them)."""
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-t", f"{seconds:g}", "-i", str(source),
         "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{port}/{path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


@pytest.fixture
def port() -> int:
    return free_ports(1)[0]


def test_a_pushed_stream_comes_out_as_segments(tmp_path: Path, small_talk: Path, port: int):
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    with PushIngest(port, KEY, ring, host="127.0.0.1", on_status=rec.status,
                    on_segment=rec.segment, settings=FAST) as ingest:  # fmt: skip
        assert rec.statuses[0].state is IngestState.CONNECTING
        wait_until(lambda: listening(port), 20, "the RTMP listener")
        pusher = push(small_talk, port, f"live/{KEY}")
        try:
            rec.wait(lambda r: r.index(IngestState.ACTIVE) is not None and len(r.segments) >= 3,
                     40, "three segments")  # fmt: skip
        finally:
            pusher.kill()
            pusher.wait()
        # The publisher left: the ingest listens again rather than failing.
        active = rec.index(IngestState.ACTIVE)
        rec.wait(lambda r: r.index(IngestState.CONNECTING, active) is not None, 30,
                 "listening again")  # fmt: skip
        assert ingest.refusals == 0
    segs = ring.segments()
    assert [s.duration_s for s in segs[:2]] == pytest.approx([1.0, 1.0], abs=0.041)
    out = ring.window(segs[0].start_s, segs[1].end_s, tmp_path / "w.mp4")
    streams = streams_of(out)
    assert set(streams) == {"video", "audio"}
    assert streams["video"] == pytest.approx(2.0, abs=0.1)
    assert rec.statuses[-1].state is IngestState.STOPPED


@pytest.mark.parametrize("path", [
    pytest.param("live/not-the-key", id="wrong-key"),
    pytest.param(f"other/{KEY}", id="wrong-app"),
])  # fmt: skip
def test_a_wrong_stream_key_is_refused(tmp_path: Path, small_talk: Path, port: int, path: str):
    ring = RingBuffer(tmp_path / "ring")
    rec = Recorder()
    with PushIngest(port, KEY, ring, host="127.0.0.1", on_status=rec.status,
                    on_segment=rec.segment, settings=FAST) as ingest:  # fmt: skip
        wait_until(lambda: listening(port), 20, "the RTMP listener")
        intruder = push(small_talk, port, path, seconds=4)
        rec.wait(lambda r: any("refused" in (s.reason or "") for s in r.statuses), 30,
                 "the refusal")  # fmt: skip
        assert intruder.wait(20) != 0  # its connection was cut
        refusal = next(s for s in rec.statuses if "refused" in (s.reason or ""))
        assert refusal.state is IngestState.CONNECTING  # a refusal is not the stream's error
        assert KEY not in (refusal.reason or "")
        assert ingest.refusals == 1
        # Nothing of the intruder was recorded.
        assert len(ring) == 0
        assert rec.segments == []
        assert list((ring.root / "incoming").iterdir()) == []

        # The right publisher gets in afterwards.
        wait_until(lambda: listening(port), 20, "the listener again")
        pusher = push(small_talk, port, f"live/{KEY}", seconds=4)
        try:
            rec.wait(lambda r: len(r.segments) >= 2, 40, "segments from the right key")
        finally:
            pusher.kill()
            pusher.wait()
    assert ingest.refusals == 1


def test_a_stream_key_that_is_not_url_safe_is_refused(tmp_path: Path):
    with pytest.raises(CodedError) as err:
        PushIngest(1935, "short", RingBuffer(tmp_path / "ring"))
    assert err.value.code == "STREAM_KEY_INVALID"
    with pytest.raises(CodedError) as err:
        PushIngest(1935, "../../etc/passwd-x", RingBuffer(tmp_path / "ring"))
    assert err.value.code == "STREAM_KEY_INVALID"
