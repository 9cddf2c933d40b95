"""The caption and beat settings at the API (plain FastAPI app, real database and S3):
``beat_sync`` without ``music`` is 422 ``BEAT_SYNC_NEEDS_MUSIC`` and records no job; an
unknown ``safe_area`` is a validation error; the settings a job was given are echoed."""

from __future__ import annotations

import pytest

from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def acct(client) -> Account:
    return register(client, "captions")


def _jobs(client, acct) -> int:
    return client.get("/api/jobs", headers=acct.headers).json()["total"]


def test_beat_sync_without_music_is_refused(client, acct):
    before = _jobs(client, acct)
    body = {"source_id": "s" * 32, "settings": {"beat_sync": True, "emoji": True}}
    err = assert_error(client.post("/api/jobs", headers=acct.headers, json=body), 422,
                       "BEAT_SYNC_NEEDS_MUSIC")  # fmt: skip
    assert "music" in err["message"]
    assert _jobs(client, acct) == before
    # with music the settings pass; the made-up source is what is refused then
    body["settings"]["music"] = "music/bed.mp3"
    assert_error(client.post("/api/jobs", headers=acct.headers, json=body), 404,
                 "SOURCE_NOT_FOUND")  # fmt: skip


def test_an_unknown_safe_area_is_a_validation_error(client, acct):
    body = {"source_id": "s" * 32, "settings": {"safe_area": "snapchat"}}
    err = assert_error(client.post("/api/jobs", headers=acct.headers, json=body), 422,
                       "VALIDATION_ERROR")  # fmt: skip
    assert ["body", "settings", "safe_area"] in [f["loc"] for f in err["detail"]]


def test_a_rerender_of_a_missing_clip_with_beat_sync_is_not_found(client, acct):
    resp = client.post(f"/api/clips/{'c' * 32}/rerender", headers=acct.headers,
                       json={"beat_sync": True, "safe_area": "reels"})  # fmt: skip
    assert_error(resp, 404, "CLIP_NOT_FOUND")
