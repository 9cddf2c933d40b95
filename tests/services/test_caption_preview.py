"""The caption styler's preview route: a door onto ``services/caption_preview.py``.

Real S3, SQLite, FFmpeg and libass; the source's analysis stored as the pipeline stores it
(``tests/analysis_doc.py``), so no model runs. A preview is a frame drawn by the render's
filters with the ``.ass`` a re-render in that style would burn in.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clipray.clips.captions import STYLES
from clipray.clips.render import ASPECTS
from clipray.cluster.services import open_storage
from clipray.serve.app import create_api
from clipray.storage.orm import ClipStatus, new_id
from tests.apiclient import Account, register, upload
from tests.services.test_rerender import _clip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(api_settings):
    with TestClient(create_api(api_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def acct(client) -> Account:
    return register(client, "preview")


@pytest.fixture(scope="module")
def clip_id(client, acct, short_talk, api_settings, api_db) -> str:
    """A rendered-looking clip (0.3 to 10.5 s, 9:16, highlighted words) of an analysed source."""
    from tests.analysis_doc import store_analysis

    sid = upload(client, acct, short_talk).json()["source_id"]
    doc = store_analysis(api_settings, open_storage(api_settings), api_db, sid)
    return _clip(api_settings, api_db, acct, sid, doc, ClipStatus.RENDERED, new_id())


def _pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_the_styles_listed_are_the_render_codes(client, acct):
    resp = client.get("/api/caption-styles", headers=acct.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"styles": list(STYLES), "aspects": list(ASPECTS)}
    assert client.get("/api/caption-styles").status_code == 401


def test_each_style_is_previewed_on_the_same_frame(client, acct, clip_id):
    frames = {}
    for style in ("highlight_word", "karaoke", "pop_in", "none"):
        resp = client.get(f"/api/clips/{clip_id}/caption-preview", headers=acct.headers,
                          params={"style": style})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "image/png"
        frames[style] = _pixels(resp.content)
        assert frames[style].shape == (1920, 1080, 3)  # the clip's own 9:16
    bare = frames["none"]
    for style in ("highlight_word", "karaoke", "pop_in"):
        drawn = np.abs(frames[style] - bare).max(axis=2) > 40
        assert drawn.mean() > 0.002, f"{style}: no captions on the frame"
        rows = np.nonzero(drawn.any(axis=1))[0]
        assert rows.min() > 1920 * 0.4, (style, rows.min())  # in the lower part, as burned in
    differ = (np.abs(frames["karaoke"] - frames["pop_in"]).max(axis=2) > 40).mean()
    assert differ > 0.0005

    square = client.get(f"/api/clips/{clip_id}/caption-preview", headers=acct.headers,
                        params={"style": "karaoke", "aspect": "1:1", "at": 1.0})  # fmt: skip
    assert square.status_code == 200, square.text
    assert _pixels(square.content).shape == (1080, 1080, 3)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        pytest.param({"style": "comic_sans"}, 422, "UNKNOWN_CAPTION_STYLE", id="unknown-style"),
        pytest.param({"style": "karaoke", "aspect": "4:3"}, 422, "UNKNOWN_ASPECT", id="aspect"),
        pytest.param({"style": "karaoke", "at": 99}, 422, "BAD_TIME", id="past-the-end"),
        pytest.param({}, 422, "VALIDATION_ERROR", id="no-style"),
    ],
)
def test_bad_preview_requests_are_refused_with_a_code(client, acct, clip_id, params, status,
                                                      code):  # fmt: skip
    resp = client.get(f"/api/clips/{clip_id}/caption-preview", headers=acct.headers,
                      params=params)  # fmt: skip
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


def test_another_workspace_cannot_preview_the_clip(client, clip_id):
    other = register(client, "stranger")
    resp = client.get(f"/api/clips/{clip_id}/caption-preview", headers=other.headers,
                      params={"style": "karaoke"})  # fmt: skip
    assert resp.status_code in (403, 404), resp.text
    assert resp.headers["content-type"].startswith("application/json")
