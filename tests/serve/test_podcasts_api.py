"""A podcast episode through the HTTP API (plain FastAPI app, the real job runner on a local
Ray, SQLite, S3 and FFmpeg): an M4A with cover art is uploaded by presign and confirm as
``audio/mp4``, becomes an audio-only source, a job makes a 9:16 audiogram of it with its
cover, captions and -14 LUFS, and its words are found by search."""

from __future__ import annotations

import time

import numpy as np
import pytest
import ray
import requests
from fastapi.testclient import TestClient

from clipray.actors.job_runner import ensure_job_runner, job_runner
from clipray.serve.app import create_api
from clipray.services.search import THUMB_WIDTH
from clipray.storage.orm import Job, JobStatus
from tests.apiclient import register, upload
from tests.conftest import cancel_active_jobs
from tests.podcast import COVER_RGB, check_audiogram, episode, frame_rgb
from tests.serve.test_api import assert_error

pytestmark = pytest.mark.timeout(900)
SETTINGS = {"max_clips": 1, "min_duration": 3.0, "max_duration": 10.0}


@pytest.fixture(scope="module")
def runner_settings(api_settings):
    # One job at a time: two analyses would each want the 2 CPUs' model pools.
    return api_settings.model_copy(update={"job_runner_concurrency": 1})


@pytest.fixture(scope="module")
def client(runner_settings, ray_local, api_db):
    cancel_active_jobs(api_db)  # the runner sees only this module's jobs
    handle = ensure_job_runner(runner_settings)
    ray.get(handle.status.remote())
    with TestClient(create_api(runner_settings)) as c:
        yield c
    cancel_active_jobs(api_db)
    ray.kill(job_runner() or handle, no_restart=True)


def _finished(db, job_id: str, timeout: float = 700) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            job = s.get(Job, job_id)
            if job is not None and job.status in (JobStatus.REVIEW, JobStatus.FAILED):
                return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_an_episode_with_cover_art_becomes_a_searchable_audiogram(client, api_db, tmp_path):
    acct = register(client, "podcaster")
    m4a = episode(tmp_path / "in", "m4a", cover=True)
    confirmed = upload(client, acct, m4a, content_type="audio/mp4")
    assert confirmed.status_code == 200, confirmed.text
    sid = confirmed.json()["source_id"]
    source = client.get(f"/api/sources/{sid}", headers=acct.headers).json()
    assert (source["audio_only"], source["width"], source["height"]) == (True, None, None)
    assert source["frame_count"] is None  # no frame grid, so no virtual clips
    assert_error(client.get(f"/api/sources/{sid}/clips", headers=acct.headers), 409,
                 "SOURCE_AUDIO_ONLY")  # fmt: skip

    job = client.post("/api/jobs", headers=acct.headers,
                      json={"source_id": sid, "settings": SETTINGS})  # fmt: skip
    assert job.status_code in (200, 201, 202), job.text
    done = _finished(api_db, job.json()["id"])
    assert done.status is JobStatus.REVIEW, done.error
    clips = client.get(f"/api/clips?job_id={done.id}", headers=acct.headers).json()["data"]
    assert [c["status"] for c in clips] == ["rendered"]
    got = client.get(f"/api/clips/{clips[0]['id']}/download", headers=acct.headers,
                     follow_redirects=False)  # fmt: skip
    assert got.status_code in (302, 307), got.text
    video = tmp_path / "clip.mp4"
    video.write_bytes(requests.get(got.headers["location"], timeout=60).content)

    words = [w for s in client.get(f"/api/sources/{sid}/transcript", headers=acct.headers)
             .json()["segments"] for w in s["words"]]  # fmt: skip
    start, end = clips[0]["start"], clips[0]["end"]
    inside = [(w["start"] + w["end"]) / 2 - start for w in words
              if start + 0.2 <= w["start"] and w["end"] <= end - 0.2]  # fmt: skip
    assert len(inside) >= 2, (start, end, words)
    check_audiogram(video, cover=True, spoken_at=[inside[0], inside[len(inside) // 2]])

    found = client.post("/api/search", headers=acct.headers, json={"query": "Americans"})
    assert found.status_code == 200, found.text
    hits = found.json()["results"]
    assert any(h["source_id"] == sid and "americans" in h["text"].lower() for h in hits), hits
    # a result's picture is the episode's cover art (its one frame)
    link = next(h["thumbnail_url"] for h in hits if h["source_id"] == sid)
    resp = client.get(link, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    jpeg = tmp_path / "thumb.jpg"
    jpeg.write_bytes(requests.get(resp.headers["location"], timeout=60).content)
    pixels = frame_rgb(jpeg, 0.0, (THUMB_WIDTH, THUMB_WIDTH))  # the square cover, scaled
    assert np.abs(pixels[THUMB_WIDTH // 2, THUMB_WIDTH // 2] - np.array(COVER_RGB)).max() <= 16


def test_an_audio_type_outside_the_list_is_refused_at_presign(client):
    acct = register(client, "midi")
    body = {"filename": "song.mid", "content_type": "audio/midi", "size": 1000}
    assert_error(client.post("/api/upload/presign", headers=acct.headers, json=body), 415,
                 "UPLOAD_TYPE_NOT_ALLOWED")  # fmt: skip


def test_a_renamed_text_is_still_not_media(client, tmp_path):
    acct = register(client, "renamed")
    fake = tmp_path / "episode.mp3"
    fake.write_text("not sound at all\n" * 100)
    assert_error(upload(client, acct, fake, content_type="audio/mpeg"), 422, "MEDIA_NOT_A_VIDEO")
