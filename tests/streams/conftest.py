"""Real live sources for the stream tests: ffmpeg-made media, a live HLS stream served over a
local HTTP server thread, and helpers that wait on events with a deadline."""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from clipray.media.ffmpeg import ffprobe_json, run, run_ffmpeg
from clipray.streams.ingest import IngestState, IngestStatus
from clipray.streams.ring import RingBuffer, Segment
from tests.conftest import MEDIA

T = TypeVar("T")

TALK = MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"
"""8 s, 512x512, 25 fps, speech: a face and a voice, so windows have video and audio."""

SMALL = ["-vf", "scale=160:160", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "64k", "-ar", "48000"]  # fmt: skip
"""H.264 with a keyframe every second and AAC: what a platform sends, small enough for a
shared 2-core box."""


def wait_until(check: Callable[[], T], timeout: float, what: str, every: float = 0.1) -> T:
    """``check()`` once it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class Recorder:
    """Collects an ingest's statuses and segments; tests wait on them with deadlines."""

    def __init__(self) -> None:
        self.statuses: list[IngestStatus] = []
        self.segments: list[Segment] = []
        self._cond = threading.Condition()

    def status(self, status: IngestStatus) -> None:
        with self._cond:
            self.statuses.append(status)
            self._cond.notify_all()

    def segment(self, seg: Segment) -> None:
        with self._cond:
            self.segments.append(seg)
            self._cond.notify_all()

    def wait(self, pred: Callable[[Recorder], object], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: pred(self), timeout):
                seen = [(s.state.value, s.reason) for s in self.statuses]
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                     f"statuses: {seen}; segments: {len(self.segments)}")

    def index(self, state: IngestState, after: int = -1) -> int | None:
        """Position of the first status in ``state`` after position ``after``."""
        return next((i for i, s in enumerate(self.statuses)
                     if i > after and s.state is state), None)  # fmt: skip


@pytest.fixture(scope="session")
def small_talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The talking head at 160x160, H.264 with 1 s GOPs and AAC (8 s)."""
    out = tmp_path_factory.mktemp("streams-media") / "talk.mp4"
    run_ffmpeg(["-i", TALK, *SMALL, out], what="small talk")
    return out


def segment_file(source: Path, out_dir: Path, segment_s: float = 2.0) -> list[tuple[Path, float]]:
    """``source`` cut by the segment muxer as the ingest cuts it (copy, reset timestamps),
    as fast as it goes: each file with its duration from the segment list."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = run_ffmpeg(["-i", source, "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
                       "-f", "segment", "-segment_format", "mpegts",
                       "-segment_time", f"{segment_s:g}", "-reset_timestamps", "1",
                       "-segment_list", "pipe:1", "-segment_list_type", "csv",
                       out_dir / "s%03d.ts"], what="segment")  # fmt: skip
    out = []
    for line in proc.stdout.splitlines():
        name, start, end = line.split(",")
        out.append((out_dir / name, float(end) - float(start)))
    return out


def fill(ring: RingBuffer, parts: list[tuple[Path, float]]) -> list[Segment]:
    return [ring.add(path, duration_s=dur) for path, dur in parts]


def streams_of(path: Path) -> dict[str, float]:
    """``{"video": seconds, "audio": seconds}`` as ffprobe reads ``path``."""
    info = ffprobe_json(path, "-show_entries", "stream=codec_type,duration")
    return {s["codec_type"]: float(s["duration"]) for s in info["streams"]}


def frame_md5s(path: Path) -> list[str]:
    """The MD5 of every decoded video frame of ``path``, in order."""
    proc = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
                "-fps_mode", "passthrough",  # every decoded frame once, none made up
                "-f", "framemd5", "-"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [line.rsplit(",", 1)[1].strip() for line in proc.stdout.splitlines()
            if line and not line.startswith("#")]  # fmt: skip


def listening(port: int, kind: str = "tcp") -> bool:
    """Whether something listens on ``port`` (TCP), or has bound it (UDP, SRT's transport),
    found without connecting, which would take the one connection an ffmpeg listener
    accepts."""
    return any(c.laddr and c.laddr.port == port
               and (kind == "udp" or c.status == psutil.CONN_LISTEN)
               for c in psutil.net_connections(kind=kind))  # fmt: skip


class LiveHls:
    """A live HLS stream: ffmpeg (``-re``, looping the talking head) writes 1 s segments
    into a directory that a local HTTP server serves; ``down()`` stops both the encoder and
    the server's answers (503), ``up()`` starts a fresh stream, as a restarted encoder does."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root, self.source = root, source
        root.mkdir(parents=True, exist_ok=True)
        self.available = True
        self._proc: subprocess.Popen[bytes] | None = None
        self._gen = 0
        live = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                if not live.available:
                    self.send_error(503, "stream offline")
                    return
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self._handler = Handler
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
            Handler, directory=str(root)))  # fmt: skip
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The same URL across restarts, as a platform's is."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/live.m3u8"

    def up(self, wait_segments: int = 2) -> None:
        self._gen += 1
        playlist = self.root / "live.m3u8"
        playlist.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i",
             str(self.source), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "hls",
             "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
             "-hls_segment_filename", str(self.root / f"g{self._gen}_%04d.ts"),
             str(playlist)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        self.available = True
        wait_until(lambda: playlist.is_file() and len(re.findall(
            r"\.ts", playlist.read_text())) >= wait_segments, 30, "the HLS playlist")  # fmt: skip

    def freeze(self) -> None:
        """The encoder dies; the server goes on answering with its last playlist."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def end(self) -> None:
        """The broadcast ends: the encoder stops and the playlist is closed (ENDLIST), as
        an origin does; the URL keeps serving the finished playlist."""
        self.freeze()
        with (self.root / "live.m3u8").open("a") as playlist:
            playlist.write("#EXT-X-ENDLIST\n")

    def down(self) -> None:
        self.available = False
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        self.down()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_hls(tmp_path: Path, small_talk: Path) -> Iterator[LiveHls]:
    live = LiveHls(tmp_path / "hls", small_talk)
    try:
        live.up()
        yield live
    finally:
        with contextlib.suppress(Exception):
            live.close()
