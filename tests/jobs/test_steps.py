"""The ingest step on its own: a real download by yt-dlp from a server on loopback (allowed
in this test's settings only), and the refusals that must not be retried."""

from __future__ import annotations

import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clipray.cluster.services import open_storage
from clipray.jobs.steps import StepError, run_step
from clipray.storage.db import Database
from clipray.storage.orm import Job, JobStatus, Source, SourceOrigin
from clipray.storage.repos import UserRepo, WorkspaceRepo
from tests.conftest import MEDIA

VIDEO = "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"


@pytest.fixture(scope="module")
def media_server():
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(MEDIA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def url_job(api_settings, media_server):
    db = Database(api_settings.resolved_database_url)

    def make(url: str) -> tuple[str, str]:
        with db.session() as s:
            user = UserRepo(s).ensure("steps@example.com")
            ws, _ = WorkspaceRepo(s).ensure("steps-ws", owner=user)
            job = Job(workspace_id=ws.id, kind="clips", status=JobStatus.INGESTING,
                      params={"source": {"kind": "url", "value": url}, "settings": {}})  # fmt: skip
            s.add(job)
        return job.id, ws.id

    yield make, db
    db.dispose()


def test_ingest_downloads_a_url_with_yt_dlp(api_settings, media_server, url_job):
    make, db = url_job
    loopback = api_settings.model_copy(
        update={"url_allowed_domains": ("127.0.0.1",), "url_allow_private": True}
    )
    url = f"{media_server}/{VIDEO}"
    job_id, ws_id = make(url)
    detail = run_step(loopback, job_id, ws_id, "ingest")
    with db.session() as s:
        job = s.get(Job, job_id)
        source = s.get(Source, detail["source_id"])
        assert job.source_id == source.id
        assert (source.origin, source.origin_uri) == (SourceOrigin.URL, url)
        assert source.sha256 == hashlib.sha256((MEDIA / VIDEO).read_bytes()).hexdigest()
        key = source.storage_key
    stored = open_storage(api_settings).media.scoped(ws_id).read_bytes(key)
    assert stored == (MEDIA / VIDEO).read_bytes()


@pytest.mark.parametrize(
    ("loopback_allowed", "code"),
    [
        pytest.param(False, "URL_DOMAIN_NOT_ALLOWED", id="default-settings"),
        pytest.param(True, "URL_ADDRESS_NOT_ALLOWED", id="allowlisted-but-private"),
    ],
)
def test_ingest_refuses_loopback_unless_allowed(api_settings, media_server, url_job,
                                                loopback_allowed, code):  # fmt: skip
    make, _ = url_job
    cfg = api_settings
    if loopback_allowed:
        cfg = api_settings.model_copy(update={"url_allowed_domains": ("127.0.0.1",)})
    job_id, ws_id = make(f"{media_server}/{VIDEO}")
    with pytest.raises(StepError) as err:
        run_step(cfg, job_id, ws_id, "ingest")
    assert err.value.code == code
    assert err.value.retryable is False
