"""Pexels as a B-roll provider, against a local HTTP server that speaks Pexels' documented
``/videos/search`` answer and serves a real MP4 (made by FFmpeg): the file chosen, the
footage ingested into the workspace's media before it is offered (once for the same
bytes), and Pexels' refusals as coded errors."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from clipray.clips.broll import topics
from clipray.cluster.services import open_storage
from clipray.domain.errors import CodedError
from clipray.pipelines.clipjob import RunOptions
from clipray.pipelines.ingest import IngestContext
from clipray.serve.app import create_api
from clipray.services.library import EMPTY_BROLL
from clipray.services.main_job import choose, job_library
from clipray.services.stock_footage import PexelsConfig, PexelsProvider, pexels, pick_file
from clipray.storage.orm import Source
from tests.apiclient import register
from tests.services.test_library_plan import _talk

pytestmark = pytest.mark.integration

KEY = "pexels-test-key"


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("pexels") / "hd.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=duration=3:size=320x180:rate=25", "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", str(out)], check=True)  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def pexels_server(footage) -> Iterator[tuple[str, list[str]]]:
    """The server's base URL and every path it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            asked.append(url.path)
            base = f"http://127.0.0.1:{self.server.server_port}"
            if url.path == "/videos/search":
                if self.headers.get("Authorization") != KEY:
                    self._send(401, b'{"error": "bad key"}', "application/json")
                    return
                q = parse_qs(url.query)
                files = [
                    {"id": 1, "quality": "sd", "file_type": "video/mp4", "width": 640,
                     "height": 360, "link": f"{base}/files/sd.mp4"},
                    {"id": 2, "quality": "hd", "file_type": "video/mp4", "width": 1280,
                     "height": 720, "link": f"{base}/files/hd.mp4"},
                    {"id": 3, "quality": "uhd", "file_type": "video/mp4", "width": 3840,
                     "height": 2160, "link": f"{base}/files/uhd.mp4"},
                ]  # fmt: skip
                videos = [{"id": 101, "width": 3840, "height": 2160, "duration": 3,
                           "url": "https://www.pexels.com/video/101/", "video_files": files},
                          {"id": 102, "duration": 5, "video_files": []}]  # fmt: skip
                n = int(q["per_page"][0])
                body = {"page": 1, "per_page": n, "total_results": 2, "videos": videos[:n],
                        "query": q["query"][0]}  # fmt: skip
                self._send(200, json.dumps(body).encode(), "application/json")
            elif url.path == "/files/hd.mp4":
                self._send(200, footage, "video/mp4")
            else:
                self._send(404, b"", "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def ctx(api_settings, api_db) -> IngestContext:
    with TestClient(create_api(api_settings)) as client:
        acct = register(client, "stock")
    return IngestContext.of(api_settings, open_storage(api_settings), api_db, acct.workspace_id)


def test_the_smallest_file_high_enough_is_chosen():
    files = [{"link": "a", "height": 360, "width": 640, "file_type": "video/mp4"},
             {"link": "b", "height": 1080, "width": 1920, "file_type": "video/mp4"},
             {"link": "c", "height": 720, "width": 1280, "file_type": "video/mp4"},
             {"link": "d", "height": 720, "width": 1280, "file_type": "video/webm"}]  # fmt: skip
    assert pick_file(files, 720)["link"] == "c"
    assert pick_file(files[:1], 720)["link"] == "a"  # none high enough: the highest
    assert pick_file([], 720) is None


def test_footage_is_ingested_before_it_is_offered(pexels_server, ctx, api_db, api_settings):
    base, asked = pexels_server
    provider = PexelsProvider(PexelsConfig(KEY, base), ctx)
    (clip,) = provider.candidates("City lights at night", 2)  # the second video has no file
    assert "/files/hd.mp4" in asked
    assert "/files/uhd.mp4" not in asked
    assert "/files/sd.mp4" not in asked
    with api_db.session() as s:
        source = s.get(Source, clip.id)
        assert source is not None
        assert source.workspace_id == ctx.workspace_id
        assert source.storage_key == clip.key
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    assert media.head(clip.key) is not None
    assert clip.kind == "broll"
    assert clip.tags == ("city", "lights", "at", "night")
    assert clip.duration == pytest.approx(3.0, abs=0.1)
    again = provider.candidates("city lights at night", 1)
    assert [c.key for c in again] == [clip.key]  # the same bytes: the same source
    on = api_settings.model_copy(update={"pexels_api_key": SecretStr(KEY),
                                         "pexels_base_url": base})  # fmt: skip
    assert pexels(api_settings, ctx) is None
    configured = pexels(on, ctx)
    assert configured is not None
    assert configured.cfg.base_url == base


def test_a_refused_key_and_a_dead_server_are_coded_errors(pexels_server, ctx):
    base, _ = pexels_server
    with pytest.raises(CodedError) as refused:
        PexelsProvider(PexelsConfig("wrong", base), ctx).candidates("ocean", 1)
    assert (refused.value.code, refused.value.status) == ("STOCK_FOOTAGE_REFUSED", 502)
    with pytest.raises(CodedError) as down:
        PexelsProvider(PexelsConfig(KEY, "http://127.0.0.1:9", timeout_s=5), ctx
                       ).candidates("ocean", 1)  # fmt: skip
    assert (down.value.code, down.value.status) == ("STOCK_FOOTAGE_UNAVAILABLE", 503)
    assert PexelsProvider(PexelsConfig(KEY, base), ctx).candidates("  ", 3) == []


def test_nothing_is_left_behind_when_the_file_fails(pexels_server, ctx, api_db):
    """A link that answers 404: a coded error, and no source recorded."""
    base, _ = pexels_server
    with api_db.session() as s:
        before = s.query(Source).filter_by(workspace_id=ctx.workspace_id).count()
    provider = PexelsProvider(PexelsConfig(KEY, base), ctx)
    with httpx.Client() as client, pytest.raises(CodedError) as failed:
        provider._store(client, f"{base}/files/uhd.mp4")
    assert failed.value.code == "STOCK_FOOTAGE_UNAVAILABLE"
    with api_db.session() as s:
        assert s.query(Source).filter_by(workspace_id=ctx.workspace_id).count() == before


def test_a_jobs_library_gets_footage_for_the_talks_topics(pexels_server, api_settings, api_db,
                                                         short_talk):  # fmt: skip
    """The JFK talk says "country" most: Pexels' footage for it is ingested and cut to where
    it is said; a key Pexels refuses leaves the library as it was, with a warning."""
    base, _ = pexels_server
    with TestClient(create_api(api_settings)) as client:
        _, ctx, item, analysis = _talk(client, "stock-job", short_talk, api_settings, api_db)
    on = api_settings.model_copy(update={"pexels_api_key": SecretStr(KEY),
                                         "pexels_base_url": base})  # fmt: skip
    opts = RunOptions(max_clips=1, min_duration=5.0, max_duration=15.0, broll=True)
    lib = job_library(on, ctx, opts, analysis)
    assert topics(analysis.words) == ["country", "fellow", "americans"]
    (stock,) = lib.items  # one video for every query: the same source
    assert stock.tags == ("country",)
    assert lib.warnings == ()
    (p,) = choose(on, analysis, item, opts, lib=lib)
    assert p.spec.effects is not None
    assert p.spec.effects.broll is not None
    assert [i.key for i in p.spec.effects.broll.inserts] == [stock.key]
    refused = on.model_copy(update={"pexels_api_key": SecretStr("wrong")})
    empty = job_library(refused, ctx, opts, analysis)
    assert empty.items == ()
    assert empty.warnings[0] == EMPTY_BROLL
    assert "STOCK_FOOTAGE_REFUSED" in empty.warnings[1]
    assert job_library(on, ctx, opts).items == ()  # no analysis, no topics: no search
