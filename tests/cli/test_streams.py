"""``clipray streams``: start (a pulled URL with keywords, and push ingest with its URL),
list, stop, watch (a stream's feed as it is written, until the stream stops), as a user
runs them on a home ``clipray up`` brought up; a refused URL, the fourth stream and an
unknown stream are ``error: CODE: message`` with exit code 2."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import MonitorStatus
from clipray.services import streams
from clipray.storage import stream_events as feed
from clipray.storage.orm import utcnow

# Unmarked: integration (subprocesses, embedded S3, SQLite).
ENV = {"CLIPRAY_URL_ALLOWED_DOMAINS": '["localhost"]', "CLIPRAY_URL_ALLOW_PRIVATE": "true"}


def test_start_list_stop(up_home):
    res = up_home.run("streams", "start", "http://localhost:8080/live.m3u8", "-k", "goal",
                      "--keywords", "wow", "--max-duration", "30", "--json", env=ENV)  # fmt: skip
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert made["status"] == "idle"
    assert made["ingest_url"] is None
    row = streams.get(up_home.db, up_home.workspace_id, made["id"])
    assert row.settings["keywords"] == ["goal", "wow"]
    assert row.settings["max_duration"] == 30.0

    push = up_home.run("streams", "start", "rtmp-push", env=ENV)
    assert push.returncode == 0, push.stderr
    assert "push to: rtmp://127.0.0.1:" in push.stdout

    listed = json.loads(up_home.run("streams", "list", "--json", env=ENV).stdout)
    assert listed["total"] == 2
    assert {d["push"] for d in listed["data"]} == {True, False}

    stop = up_home.run("streams", "stop", made["id"], "--json", env=ENV)
    assert stop.returncode == 0, stop.stderr
    assert json.loads(stop.stdout)["status"] == "stopped"
    assert streams.get(up_home.db, up_home.workspace_id, made["id"]).status is (
        MonitorStatus.STOPPED)

    again = up_home.run("streams", "stop", made["id"], env=ENV)
    assert again.returncode == 2
    assert again.stderr.strip().startswith("error: STREAM_NOT_STOPPABLE:")


def test_refusals_are_coded(up_home):
    bad = up_home.run("streams", "start", "ftp://localhost/x", env=ENV)
    assert bad.returncode == 2
    assert "error: URL_SCHEME_NOT_ALLOWED:" in bad.stderr
    for n in range(3):
        ok = up_home.run("streams", "start", f"http://localhost/{n}.m3u8", env=ENV)
        assert ok.returncode == 0, ok.stderr
    fourth = up_home.run("streams", "start", "http://localhost/4.m3u8", env=ENV)
    assert fourth.returncode == 2
    assert "error: STREAM_QUOTA_EXCEEDED:" in fourth.stderr


def _watch(up_home, *args: str) -> subprocess.Popen[str]:
    """``clipray streams watch`` running, its stdout read line by line."""
    env = {**os.environ, "CLIPRAY_HOME": str(up_home.path), "CLIPRAY_STREAM_EVENTS_POLL_S": "0.1",
           **ENV}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "clipray", "streams", "watch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def _lines(proc: subprocess.Popen[str], n: int, timeout: float = 60) -> list[str]:
    """The next ``n`` lines the command prints, waited for on a thread with a deadline."""
    got: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [got.put(proc.stdout.readline()) for _ in range(n)],
                     daemon=True).start()  # fmt: skip
    out = []
    for _ in range(n):
        try:
            out.append(got.get(timeout=timeout))
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"watch printed {out} and then nothing for {timeout:g} s: "
                                 f"{proc.stderr.read()}") from None  # fmt: skip
    return out


def test_watch_prints_a_stream_s_events_as_they_happen(up_home):
    monitor = streams.create(up_home.settings, up_home.db, up_home.workspace_id, None,
                             "rtmp-push").monitor.id  # fmt: skip

    def write(type_: StreamEventType, **payload) -> None:  # as the stream's worker does
        with up_home.db.session() as s:
            assert feed.append(s, monitor, type_, payload, utcnow()) is not None

    write(StreamEventType.STATUS, status="active", error=None)
    write(StreamEventType.EVENT, kind="energy", t_start=38.0, t_end=39.5, strength=0.9,
          detail={})  # fmt: skip
    proc = _watch(up_home, monitor, "--json")
    try:
        first = [json.loads(line) for line in _lines(proc, 2)]
        assert [(m["type"], m["seq"]) for m in first] == [("status", 1), ("event", 2)]
        assert first[1]["kind"] == "energy"
        # A clip stored while it watches is printed as it comes.
        write(StreamEventType.CLIP, id="c" * 32, stream_start=30.0, stream_end=50.0,
              score=0.62, available_at="2026-12-06T18:00:00Z")  # fmt: skip
        [clip] = [json.loads(line) for line in _lines(proc, 1)]
        assert (clip["type"], clip["seq"], clip["id"]) == ("clip", 3, "c" * 32)
        # Stopping the stream ends the command, after its last messages.
        streams.control(up_home.settings, up_home.db, up_home.workspace_id, monitor,
                        streams.Control.STOP)  # fmt: skip
        last = [json.loads(line) for line in _lines(proc, 2)]
        assert last == [{"type": "status", "seq": 4, "at": last[0]["at"], "status": "stopped",
                         "error": None}, {"type": "end", "status": "stopped"}]  # fmt: skip
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()

    # The stopped stream's whole feed, for people, one line each; resumed with --after.
    res = up_home.run("streams", "watch", monitor, env=ENV)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [line.split()[1] for line in lines[:4]] == ["status", "event", "clip", "status"]
    assert "energy 38.0-39.5 s strength 0.90" in lines[1]
    assert f"{'c' * 32} 30.0-50.0 s score 0.62" in lines[2]
    assert lines[-1] == "stream stopped: no more events"
    resumed = up_home.run("streams", "watch", monitor, "--after", "3", "--json", env=ENV)
    assert [json.loads(line)["type"] for line in resumed.stdout.splitlines()] == ["status", "end"]
    other = up_home.run("streams", "watch", "0" * 32, env=ENV)
    assert other.returncode == 2
    assert other.stderr.strip().startswith("error: STREAM_NOT_FOUND:")


def test_ctrl_c_ends_watch_cleanly(up_home):
    monitor = streams.create(up_home.settings, up_home.db, up_home.workspace_id, None,
                             "rtmp-push").monitor.id  # fmt: skip
    with up_home.db.session() as s:
        feed.append(s, monitor, StreamEventType.STATUS, {"status": "active", "error": None},
                    utcnow())  # fmt: skip
    proc = _watch(up_home, monitor)
    try:
        [line] = _lines(proc, 1)  # it follows the live stream now
        assert line.split()[1:] == ["status", "active"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
