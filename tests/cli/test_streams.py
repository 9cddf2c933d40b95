"""``clipray streams``: start (a pulled URL with keywords, and push ingest with its URL),
list, stop, as a user runs them on a home ``clipray up`` brought up; a refused URL and the
fourth stream are ``error: CODE: message`` with exit code 2."""

from __future__ import annotations

import json

from clipray.domain.streams import MonitorStatus
from clipray.services import streams

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
