"""The job runner's steps on their own: a real download by yt-dlp from a server on loopback
(allowed in this test's settings only), the refusals that must not be retried, and the one
mapping from what a step raised to how it fails."""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clipray.actors.steps import run_step, step_failure
from clipray.cluster.services import open_storage
from clipray.domain.errors import CodedError, Unavailable
from clipray.pipelines.fetch import DownloadError, UrlRefusedError
from clipray.pipelines.ingest import IngestError, StorageQuotaError
from clipray.pipelines.validate import MediaRejectedError
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

    def make(url: str, kind: str = "url") -> tuple[str, str]:
        with db.session() as s:
            user = UserRepo(s).ensure("steps@example.com")
            ws, _ = WorkspaceRepo(s).ensure("steps-ws", owner=user)
            job = Job(workspace_id=ws.id, kind="clips", status=JobStatus.INGESTING,
                      params={"source": {"kind": kind, "value": url}, "settings": {}})  # fmt: skip
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
    with pytest.raises(CodedError) as err:
        run_step(cfg, job_id, ws_id, "ingest")
    assert err.value.code == code
    assert err.value.retryable is False


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        pytest.param("id", "0" * 32, "SOURCE_NOT_FOUND", id="missing-source"),
        pytest.param("ftp", "x", "BAD_JOB", id="unknown-kind"),
        pytest.param("key", "nowhere/none.mp4", "INGEST_FAILED", id="missing-object"),
    ],
)
def test_a_bad_source_fails_the_ingest_step_for_good(api_settings, url_job, kind, value, code):
    make, _ = url_job
    job_id, ws_id = make(value, kind)
    with pytest.raises(CodedError) as err:
        run_step(api_settings, job_id, ws_id, "ingest")
    assert (err.value.code, err.value.retryable) == (code, False)


# --- the one failure mapping ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "code", "retryable"),
    [
        pytest.param(Unavailable("STORAGE_UNAVAILABLE", "s3 is down"), "STORAGE_UNAVAILABLE",
                     True, id="coded/retryable"),
        pytest.param(CodedError("BAD_JOB", "no"), "BAD_JOB", False, id="coded/final"),
        pytest.param(CodedError("X", "retry me", retryable=True), "X", True,
                     id="coded/instance-retryable"),
        pytest.param(UrlRefusedError("URL_SCHEME_NOT_ALLOWED", "ftp"), "URL_SCHEME_NOT_ALLOWED",
                     False, id="legacy/url-refused"),
        pytest.param(MediaRejectedError("MEDIA_NOT_A_VIDEO", "text"), "MEDIA_NOT_A_VIDEO",
                     False, id="legacy/media-rejected"),
        pytest.param(DownloadError("DOWNLOAD_FAILED", "reset"), "DOWNLOAD_FAILED", True,
                     id="legacy/download-network"),
        pytest.param(DownloadError("DOWNLOAD_TOO_LARGE", "big"), "DOWNLOAD_TOO_LARGE", False,
                     id="legacy/download-too-large"),
        pytest.param(StorageQuotaError("full"), "QUOTA_STORAGE", False, id="legacy/quota"),
        pytest.param(IngestError("no such file"), "INGEST_FAILED", False, id="legacy/ingest"),
        pytest.param(RuntimeError("boom"), "STEP_FAILED", True, id="internal"),
        pytest.param(KeyError("k"), "STEP_FAILED", True, id="internal/key-error"),
    ],
)  # fmt: skip
@pytest.mark.unit
def test_step_failure_maps_every_error_to_a_code_and_a_retry_rule(exc, code, retryable):
    failure = step_failure(exc)
    assert (failure.code, failure.retryable) == (code, retryable)
    assert str(exc) in failure.message
    # What the step task raises crosses Ray pickled: the runner must read the same failure.
    back = pickle.loads(pickle.dumps(failure))  # noqa: S301  (our own bytes, as Ray does)
    assert (back.code, back.message, back.retryable) == (code, failure.message, retryable)
    assert step_failure(back).code == code


@pytest.mark.unit
def test_a_coded_error_is_its_own_step_failure():
    exc = Unavailable("STORAGE_UNAVAILABLE", "s3 is down")
    assert step_failure(exc) is exc
