"""Re-rendering a clip: the HTTP route is a door onto ``services/rerender.py``.

Real S3, SQLite, ffprobe, and a real Ray render task. The source's analysis is stored as
the pipeline stores it (``tests/analysis_doc.py``), so that the test needs no model;
planning, rendering and recording are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from clipray.clips.select import Candidate
from clipray.cluster.services import open_storage
from clipray.domain.analysis import Analysis
from clipray.pipelines.clipjob import RunOptions, plan_moment, planned_row
from clipray.pipelines.ingest import IngestContext, Ingested
from clipray.pipelines.stages.decode import probe
from clipray.serve.app import create_api
from clipray.services.main_job import versions_of
from clipray.services.rerender import plan_rerender
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    GeneratedKind,
    Source,
    new_id,
)
from clipray.storage.repos import ClipRepo
from tests.analysis_doc import JFK, store_analysis
from tests.apiclient import Account, register, upload
from tests.conftest import MEDIA


@pytest.fixture(scope="module")
def client(api_settings, ray_local):
    with TestClient(create_api(api_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def acct(client) -> Account:
    return register(client, "rerender")


def _ctx(settings, db, workspace_id: str) -> IngestContext:
    return IngestContext.of(settings, open_storage(settings), db, workspace_id)


@pytest.fixture(scope="module")
def analysed(client, acct, short_talk, api_settings, api_db) -> tuple[str, dict]:
    """An uploaded source with its analysis stored; returns its id and the document."""
    sid = upload(client, acct, short_talk).json()["source_id"]
    return sid, store_analysis(api_settings, open_storage(api_settings), api_db, sid)


def _clip(settings, db, acct: Account, source_id: str, doc: dict, status: ClipStatus,
          moment: str) -> str:  # fmt: skip
    """A clip row of the moment 0.3-10.5 s, planned the way the main job plans (9:16)."""
    ctx = _ctx(settings, db, acct.workspace_id)
    with db.session() as s:
        source = s.get(Source, source_id)
        media = ctx.buckets.media.scoped(acct.workspace_id)
        item = Ingested(source, probe(media.presign_get(source.storage_key)), created=False)
        m = Candidate(id=moment, start=0.3, end=10.5, text=JFK, title="Ask not",
                      hashtags=("#jfk",), score=0.8, reasons=("question hook",))  # fmt: skip
        p = plan_moment(Analysis.from_json(doc), item, m, RunOptions(), versions_of(settings))
        row = ClipRepo(s, acct.workspace_id).add(planned_row(p, source_id, moment))
        row.status = status
        return row.id


def _wait_rendered(client, acct: Account, clip_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    clip = client.get(f"/api/clips/{clip_id}", headers=acct.headers).json()
    while clip["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)
        clip = client.get(f"/api/clips/{clip_id}", headers=acct.headers).json()
    return clip


def test_a_rerender_through_the_api_renders_the_services_plan(client, acct, analysed,
                                                              api_settings, api_db):  # fmt: skip
    sid, doc = analysed
    moment = new_id()  # the suite's other tests share this database: a moment of its own
    clip_id = _clip(api_settings, api_db, acct, sid, doc, ClipStatus.RENDERED, moment)
    with api_db.session() as s:
        clip, source = s.get(Clip, clip_id), s.get(Source, sid)
    expected = plan_rerender(api_settings, _ctx(api_settings, api_db, acct.workspace_id), clip,
                             source, aspect="1:1")  # fmt: skip

    resp = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers,
                       json={"aspect": "1:1"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    new = resp.json()
    assert (new["version"], new["status"], new["moment_id"]) == (2, "pending", moment)
    with api_db.session() as s:
        row = s.get(Clip, new["id"])
        # the route recorded exactly what the service plans: same spec, captions, NLE files
        assert row.spec_hash == expected.spec_hash
        assert row.render_spec == expected.spec.to_json()
        assert row.render_spec["aspect"] == "1:1"
        assert row.render_spec["captions"] == "highlight_word"  # kept from the clip
        assert row.plan["ass"] == expected.ass
        assert row.plan["edl"] == expected.edl

    done = _wait_rendered(client, acct, new["id"])
    assert done["status"] == "rendered", done
    # linked both ways: the rendered clip names its generated clip, which names its origin
    assert done["generated_clip_id"]
    gen = client.get(f"/api/generated-clips/{done['generated_clip_id']}", headers=acct.headers)
    assert gen.status_code == 200, gen.text
    assert gen.json()["origin"] == {"type": "clip", "id": new["id"]}
    assert gen.json()["kind"] == "heuristic"
    url = client.get(f"/api/clips/{new['id']}/download", headers=acct.headers,
                     follow_redirects=False).headers["location"]  # fmt: skip
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    video = next(st for st in info["streams"] if st["codec_type"] == "video")
    assert (video["width"], video["height"]) == (1080, 1080)
    assert float(info["format"]["duration"]) == pytest.approx(10.2, abs=0.2)

    again = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers,
                        json={"aspect": "1:1"})  # fmt: skip
    assert again.status_code == 202
    assert again.json()["id"] == new["id"]  # the same settings: the existing version
    versions = client.get(f"/api/clips/{clip_id}/versions", headers=acct.headers).json()
    assert [v["version"] for v in versions] == [1, 2]


def test_effects_are_a_new_version_and_taking_them_off_gives_the_plain_one_back(
        client, acct, analysed, api_settings, api_db):  # fmt: skip
    sid, doc = analysed
    clip_id = _clip(api_settings, api_db, acct, sid, doc, ClipStatus.RENDERED, new_id())
    resp = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers,
                       json={"hook": "auto", "captions": "typewriter", "zooms": "pulse",
                             "remove_fillers": True})  # fmt: skip
    assert resp.status_code == 202, resp.text
    hooked = resp.json()
    assert hooked["version"] == 2
    with api_db.session() as s:
        row = s.get(Clip, hooked["id"])
        # the JFK sentence has no filler, no long pause, no keyword or peak: those steps
        # are passthroughs, and only the hook is stored
        assert row.render_spec["effects"] == [{"step": "hook", "text": "Ask not",
                                               "duration": 3.0}]  # fmt: skip
        assert row.render_spec["captions"] == "typewriter"
        assert "Ask not" in row.plan["ass"]
        assert "\\ko" in row.plan["ass"]
    done = _wait_rendered(client, acct, hooked["id"])
    assert done["status"] == "rendered", done
    # the version says what it was asked for (the hook as its text, the passthroughs off),
    # in the shape a re-render takes: what the studio's form starts from
    own = client.get(f"/api/clips/{hooked['id']}", headers=acct.headers).json()["settings"]
    assert (own["hook"], own["zooms"], own["remove_fillers"]) == ("Ask not", None, False)
    assert (own["layout"], own["brand_kit_id"], own["censor"]) == ("auto", None, None)
    assert own["safe_area"] == "all"  # 9:16 with captions
    # the hook taken off again (captions back too): the plain spec, so the first version
    plain = client.post(f"/api/clips/{hooked['id']}/rerender", headers=acct.headers,
                        json={"hook": "", "captions": "highlight_word"})  # fmt: skip
    assert plain.status_code == 202, plain.text
    assert plain.json()["id"] == clip_id


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"zooms": "wobble"}, id="bad-zoom-style"),
        pytest.param({"hook": "x" * 121}, id="hook-too-long"),
        pytest.param({"captions": "wavy"}, id="bad-caption-style"),
        pytest.param({"remove_fillers": "maybe"}, id="not-a-bool"),
    ],
)
def test_bad_rerender_settings_are_refused(client, acct, analysed, api_settings, api_db, body):
    sid, doc = analysed
    clip_id = _clip(api_settings, api_db, acct, sid, doc, ClipStatus.RENDERED, new_id())
    resp = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_clip_still_rendering_is_not_rerendered(client, acct, analysed, api_settings, api_db):
    sid, doc = analysed
    clip_id = _clip(api_settings, api_db, acct, sid, doc, ClipStatus.PENDING, new_id())
    resp = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers,
                       json={"captions": "none"})  # fmt: skip
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "CLIP_NOT_READY"


def test_a_source_without_its_analysis_is_409(client, acct, analysed, api_settings, api_db):
    _, doc = analysed
    other = upload(client, acct, MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4")
    sid = other.json()["source_id"]
    clip_id = _clip(api_settings, api_db, acct, sid, doc, ClipStatus.RENDERED, new_id())
    resp = client.post(f"/api/clips/{clip_id}/rerender", headers=acct.headers,
                       json={"aspect": "16:9"})  # fmt: skip
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "ANALYSIS_MISSING"
    versions = client.get(f"/api/clips/{clip_id}/versions", headers=acct.headers).json()
    assert [v["id"] for v in versions] == [clip_id]  # nothing recorded


def test_a_reel_is_the_origin_of_its_generated_clip(client, acct, api_db):
    with api_db.session() as s:
        row = GeneratedClip(workspace_id=acct.workspace_id, candidate_id="r" * 32,
                            kind=GeneratedKind.HIGHLIGHT_REEL, storage_key="k/reel.mp4",
                            title="best of")  # fmt: skip
        s.add(row)
        s.flush()
        gid = row.id
    body = client.get(f"/api/generated-clips/{gid}", headers=acct.headers).json()
    assert (body["origin"], body["kind"]) == ({"type": "reel", "id": "r" * 32}, "highlight-reel")
