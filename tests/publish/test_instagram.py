"""The Instagram adapter against a fake of Facebook Login and the Graph API's Reels
publishing, over TCP; the fake pulls the clip from a presigned-URL stand-in, as Instagram
does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import FileResponse

from clipray.domain.time import utcnow
from clipray.publish.base import PlatformSettings, PostMetadata, PublishError, Tokens
from clipray.publish.instagram import Adapter
from tests.publish.fake_instagram import FakeInstagram
from tests.publish.harness import serve_fake
from tests.publish.media import make_clip, upload_of

pytestmark = pytest.mark.integration
REDIRECT = "https://clipray.example/api/auth/instagram/callback"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory)


@pytest.fixture
def media_url(clip: Path) -> Iterator[tuple[str, list[str]]]:
    """The clip served over HTTP, as the object store's presigned URL serves it; yields the
    URL and the log of requests for it."""
    hits: list[str] = []
    app = FastAPI()

    @app.get("/bucket/clip.mp4")
    def get_clip() -> FileResponse:
        hits.append("GET")
        return FileResponse(clip, media_type="video/mp4")

    with serve_fake(app) as base:
        yield f"{base}/bucket/clip.mp4?X-Amz-Signature=abc", hits


@pytest.fixture
def fake() -> Iterator[tuple[FakeInstagram, Adapter]]:
    fake = FakeInstagram()
    with serve_fake(fake.app) as base:
        settings = PlatformSettings(client_id=fake.client_id, client_secret=fake.client_secret,
                                    auth_url=f"{base}/dialog/oauth",
                                    token_url=f"{base}/oauth/access_token", api_base=base,
                                    timeout_s=20)
        yield fake, Adapter(settings)


def _connect(adapter: Adapter) -> Tokens:
    r = httpx.get(adapter.consent_url("st-ig", None, REDIRECT), follow_redirects=False)
    assert r.status_code == 302, r.text
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["state"] == ["st-ig"]
    return adapter.exchange_code(back["code"][0], None, REDIRECT)


def test_consent_url_has_client_scopes_and_state(fake: tuple[FakeInstagram, Adapter]) -> None:
    _, adapter = fake
    q = parse_qs(urlsplit(adapter.consent_url("st-1", None, REDIRECT)).query)
    assert q["client_id"] == ["fb-app"]
    assert q["redirect_uri"] == [REDIRECT]
    assert q["state"] == ["st-1"]
    assert q["response_type"] == ["code"]
    assert "instagram_content_publish" in q["scope"][0].split(",")


def test_code_exchange_gives_a_long_lived_token_and_the_business_account(
        fake: tuple[FakeInstagram, Adapter]) -> None:
    ig, adapter = fake
    tokens = _connect(adapter)
    assert ig.tokens[tokens.access_token] == "long"
    assert tokens.extra["ig_user_id"] == ig.ig_user  # the Page that has one, not the first
    assert tokens.expires_at is not None
    assert tokens.expires_at - utcnow() > timedelta(days=59)
    assert adapter.account(tokens).name == "clipray.test"
    assert not adapter.needs_refresh(tokens)
    assert adapter.needs_refresh(tokens, now=utcnow() + timedelta(days=55))
    fresh = adapter.refresh(tokens)
    assert fresh.access_token != tokens.access_token
    assert fresh.extra == tokens.extra
    assert adapter.revoke(fresh) is True
    with pytest.raises(PublishError) as after:
        adapter.account(fresh)
    assert after.value.code == "PLATFORM_TOKEN_EXPIRED"


def test_a_20MB_reel_is_pulled_and_published(fake: tuple[FakeInstagram, Adapter], clip: Path,
                                             media_url: tuple[str, list[str]]) -> None:
    ig, adapter = fake
    url, hits = media_url
    tokens = _connect(adapter)
    post = adapter.publish(tokens, upload_of(clip, media_url=url))
    (container,) = ig.containers.values()
    assert container.data == clip.read_bytes()
    assert hits == ["GET"]
    assert container.caption == "Launch day 🚀\n\nWhat we shipped.\n\n#clipray #launch"
    assert ig.media[post.platform_post_id] in ig.containers
    assert post.url == f"https://www.instagram.com/reel/C{post.platform_post_id}/"
    assert adapter.analytics(tokens, post.platform_post_id) == {"views": 4200, "likes": 310,
                                                                "comments": 12}


def test_a_dropped_poll_is_polled_again_without_a_second_container(
        fake: tuple[FakeInstagram, Adapter], clip: Path,
        media_url: tuple[str, list[str]]) -> None:
    ig, adapter = fake
    url, hits = media_url
    tokens = _connect(adapter)
    ig.drop_polls = 2
    adapter.publish(tokens, upload_of(clip, media_url=url))
    assert ig.drop_polls == 0, "the fault fired"
    assert ig.polls >= 3
    assert len(ig.containers) == 1
    assert len(ig.media) == 1
    assert hits == ["GET"]
    (container,) = ig.containers.values()
    assert container.data == clip.read_bytes()


def test_a_clip_without_a_presigned_url_is_refused_before_any_call(
        fake: tuple[FakeInstagram, Adapter], clip: Path) -> None:
    ig, adapter = fake
    tokens = _connect(adapter)
    with pytest.raises(PublishError) as refused:
        adapter.publish(tokens, upload_of(clip))
    assert refused.value.code == "PLATFORM_MEDIA_URL_MISSING"
    assert refused.value.status == 422
    assert ig.containers == {}


@pytest.mark.parametrize(("setup", "code", "retry_after"), [
    pytest.param("expired", "PLATFORM_TOKEN_EXPIRED", None, id="code-190"),
    pytest.param("rate_limited", "PLATFORM_RATE_LIMITED", 420.0, id="code-4-buc-header"),
    pytest.param("quota_full", "PLATFORM_RATE_LIMITED", 86400.0, id="publishing-limit"),
    pytest.param("container_error", "PLATFORM_MEDIA_REJECTED", None, id="container-ERROR"),
    pytest.param("unreachable", "PLATFORM_MEDIA_REJECTED", None, id="unreachable-url"),
    pytest.param("down", "PLATFORM_UNAVAILABLE", None, id="connection-refused"),
])
def test_errors_map_to_their_codes(fake: tuple[FakeInstagram, Adapter], clip: Path,
                                   media_url: tuple[str, list[str]], setup: str, code: str,
                                   retry_after: float | None) -> None:
    ig, adapter = fake
    url, _ = media_url
    tokens = _connect(adapter)
    if setup == "expired":
        ig.tokens.clear()
    elif setup == "rate_limited":
        ig.rate_limited = True
    elif setup == "quota_full":
        ig.quota_usage = ig.quota_total
    elif setup == "container_error":
        ig.container_error = True
    elif setup == "unreachable":
        url = url.replace("/bucket/", "/missing/")  # the pull gets a 404: container ERROR
    elif setup == "down":
        adapter = Adapter(adapter.settings.model_copy(update={"api_base": "http://127.0.0.1:9"}))
    with pytest.raises(PublishError) as refused:
        adapter.publish(tokens, upload_of(clip, PostMetadata(title="t"), media_url=url))
    assert refused.value.code == code, refused.value
    assert refused.value.retry_after_s == retry_after
    if setup in ("expired", "rate_limited", "quota_full"):
        assert ig.containers == {}, "refused before a container was created"
