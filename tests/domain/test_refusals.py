"""Every module's refusal is a CodedError carrying the code that the API and the job records
show, the HTTP status the one handler answers with, and whether a retry can help; and it
survives Ray's pickling with all of them."""

from __future__ import annotations

import pickle

import pytest

from clipray.clips.proxy import ProxyError
from clipray.clips.reel import ReelError
from clipray.clips.render import RenderError
from clipray.domain.enums import JobStatus
from clipray.domain.errors import CodedError
from clipray.jobs.machine import Event, InvalidTransitionError, transition
from clipray.media.ffmpeg import FfmpegError
from clipray.models.embed import WeightsUnavailableError
from clipray.pipelines.analyze import AnalysisError
from clipray.pipelines.demo import DemoError
from clipray.pipelines.fetch import DownloadError, UrlRefusedError
from clipray.pipelines.ingest import IngestError, SourceBusyError, StorageQuotaError
from clipray.pipelines.stages.decode import ProbeError
from clipray.pipelines.validate import MediaRejectedError, RejectCode
from clipray.storage.generated import GeneratedLimitError
from clipray.storage.index import IndexUnavailableError
from clipray.storage.keys import UnsafeKeyError, check_key
from clipray.storage.objects import ObjectNotFoundError, StorageError
from clipray.storage.repos import InvalidSlugError, check_slug

pytestmark = pytest.mark.unit

CASES = [
    pytest.param(UrlRefusedError("URL_INVALID", "m"), "URL_INVALID", 400, False, id="url-refused"),
    pytest.param(DownloadError("DOWNLOAD_FAILED", "m"), "DOWNLOAD_FAILED", 502, True,
                 id="download-failed"),
    pytest.param(DownloadError("DOWNLOAD_TOO_LARGE", "m"), "DOWNLOAD_TOO_LARGE", 413, False,
                 id="download-too-large"),
    pytest.param(MediaRejectedError(RejectCode.CORRUPT, "m"), "MEDIA_CORRUPT", 422, False,
                 id="media-rejected"),
    pytest.param(IngestError("m"), "INGEST_FAILED", 422, False, id="ingest"),
    pytest.param(StorageQuotaError("m"), "QUOTA_STORAGE", 413, False, id="quota"),
    pytest.param(SourceBusyError("m"), "SOURCE_BUSY", 409, True, id="source-busy"),
    pytest.param(ProbeError("m"), "MEDIA_NOT_A_VIDEO", 422, False, id="probe"),
    pytest.param(FfmpegError("m"), "FFMPEG_FAILED", 500, False, id="ffmpeg"),
    pytest.param(ProxyError("m"), "PROXY_FAILED", 500, False, id="proxy"),
    pytest.param(RenderError("m"), "RENDER_FAILED", 500, False, id="render"),
    pytest.param(ReelError("REEL_EMPTY", "m"), "REEL_EMPTY", 422, False, id="reel-empty"),
    pytest.param(ReelError("REEL_FFMPEG", "m"), "REEL_FFMPEG", 500, False, id="reel-ffmpeg"),
    pytest.param(WeightsUnavailableError("m"), "VISUAL_SEARCH_UNAVAILABLE", 409, False,
                 id="weights"),
    pytest.param(GeneratedLimitError(3, 3), "GENERATED_CLIP_LIMIT", 409, False, id="generated"),
    pytest.param(IndexUnavailableError("m"), "INDEX_UNAVAILABLE", 503, True, id="index"),
    pytest.param(StorageError("m"), "STORAGE_UNAVAILABLE", 503, True, id="storage"),
    pytest.param(ObjectNotFoundError("m"), "OBJECT_NOT_FOUND", 404, False, id="object"),
    pytest.param(AnalysisError("m"), "ANALYSIS_FAILED", 500, False, id="analysis"),
    pytest.param(DemoError("espeak-ng", "apt-get install -y espeak-ng"), "DEPENDENCY_MISSING",
                 503, False, id="demo"),
]


@pytest.mark.parametrize(("exc", "code", "status", "retryable"), CASES)
def test_a_refusal_carries_code_status_and_retryable(exc, code, status, retryable):
    assert isinstance(exc, CodedError)
    assert (exc.code, exc.status, exc.retryable) == (code, status, retryable)
    back = pickle.loads(pickle.dumps(exc))  # noqa: S301  (our own bytes, as Ray does)
    assert type(back) is type(exc)
    assert (back.code, back.status, back.retryable, back.message) == (
        code, status, retryable, exc.message)  # fmt: skip


def test_raised_where_they_are_raised():
    with pytest.raises(InvalidTransitionError) as bad:
        transition(JobStatus.COMPLETED, Event.START)
    assert (bad.value.code, bad.value.status) == ("INVALID_TRANSITION", 409)
    assert bad.value.state is JobStatus.COMPLETED
    with pytest.raises(UnsafeKeyError) as key:
        check_key("../etc/passwd", "0" * 32)
    assert (key.value.code, key.value.status) == ("KEY_INVALID", 400)
    with pytest.raises(InvalidSlugError) as slug:
        check_slug("Not A Slug")
    assert (slug.value.code, slug.value.status) == ("WORKSPACE_SLUG_INVALID", 422)
    limit = GeneratedLimitError(5, 5)
    assert limit.detail == {"live": 5, "cap": 5}
    assert (limit.live, limit.cap) == (5, 5)
