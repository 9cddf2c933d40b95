"""The source's all-intra proxy over HTTP (plain FastAPI app, real SQLite, real S3, real
FFmpeg): asking for it queues its build (202), the build the job runner's Ray task runs makes
it, then it is a presigned URL of an MP4 with every frame of the grid, each a keyframe."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from clipray.pipelines.export import build_proxy
from tests.apiclient import register, upload, upload_with_cover
from tests.conftest import MEDIA
from tests.serve.test_api import assert_error

pytestmark = pytest.mark.integration

COUNTER = MEDIA / "scene_cuts/pyscenedetect/counter.mp4"
"""3 s at 10 fps: 30 frames, each showing its own number."""


def test_the_proxy_is_queued_then_served_frame_for_frame(client, api_settings, api_db,
                                                         tmp_path):  # fmt: skip
    alice, bob = register(client, "px-alice"), register(client, "px-bob")
    sid = upload_with_cover(client, alice, COUNTER, api_db, 30, "10/1", [10])
    first = client.get(f"/api/sources/{sid}/proxy", headers=alice.headers)
    assert first.status_code == 202, first.text
    assert first.json() == {"status": "pending", "url": None, "frame_count": 30,
                            "frame_rate": "10/1", "error": None}  # fmt: skip
    assert first.headers["retry-after"] == "2"
    assert client.get(f"/api/sources/{sid}", headers=alice.headers).json()["proxy_status"] \
        == "pending"  # fmt: skip
    assert_error(client.get(f"/api/sources/{sid}/proxy", headers=bob.headers), 403, "FORBIDDEN")

    assert build_proxy(api_settings, sid)  # what the runner's Ray task runs
    ready = client.get(f"/api/sources/{sid}/proxy", headers=alice.headers)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert (body["status"], body["frame_count"], body["frame_rate"]) == ("ready", 30, "10/1")
    got = requests.get(body["url"], timeout=60)  # no credentials: a <video> plays it as is
    assert got.status_code == 200
    path = tmp_path / "proxy.mp4"
    path.write_bytes(got.content)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=key_frame", "-of", "json", str(path)],
        capture_output=True, text=True, check=True)  # fmt: skip
    frames = json.loads(probe.stdout)["frames"]
    assert len(frames) == 30
    assert all(f["key_frame"] == 1 for f in frames)  # all-intra: any frame is a seek target


def test_a_source_without_frames_has_no_proxy(client):
    carol = register(client, "px-carol")
    resp = upload(client, carol, COUNTER)
    assert resp.status_code == 200, resp.text
    sid = resp.json()["source_id"]
    assert_error(client.get(f"/api/sources/{sid}/proxy", headers=carol.headers), 409,
                 "NO_FRAME_GRID")  # fmt: skip
    assert_error(client.get("/api/sources/nope/proxy", headers=carol.headers), 404,
                 "SOURCE_NOT_FOUND")  # fmt: skip
