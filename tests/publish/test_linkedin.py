"""The LinkedIn adapter against a fake of LinkedIn's OAuth, Videos and Posts APIs, over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clipray.publish.base import PlatformSettings, PostMetadata, PublishError, Tokens
from clipray.publish.linkedin import Adapter
from tests.publish.fake_linkedin import FakeLinkedIn
from tests.publish.harness import serve_fake
from tests.publish.media import make_clip, upload_of

pytestmark = pytest.mark.integration
REDIRECT = "https://clipray.example/api/auth/linkedin/callback"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory)


@pytest.fixture
def fake() -> Iterator[tuple[FakeLinkedIn, Adapter]]:
    fake = FakeLinkedIn()
    with serve_fake(fake.app) as base:
        settings = PlatformSettings(client_id=fake.client_id, client_secret=fake.client_secret,
                                    auth_url=f"{base}/oauth/v2/authorization",
                                    token_url=f"{base}/oauth/v2/accessToken", api_base=base,
                                    timeout_s=20)
        yield fake, Adapter(settings)


def _connect(adapter: Adapter) -> Tokens:
    r = httpx.get(adapter.consent_url("st-li", None, REDIRECT), follow_redirects=False)
    assert r.status_code == 302, r.text
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["state"] == ["st-li"]
    return adapter.exchange_code(back["code"][0], None, REDIRECT)


def test_consent_url_has_client_scopes_state_and_no_pkce(
        fake: tuple[FakeLinkedIn, Adapter]) -> None:
    _, adapter = fake
    assert Adapter.uses_pkce is False
    q = parse_qs(urlsplit(adapter.consent_url("st-1", "ignored", REDIRECT)).query)
    assert q["client_id"] == ["li-c"]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["openid profile w_member_social"]
    assert q["redirect_uri"] == [REDIRECT]
    assert q["state"] == ["st-1"]
    assert "code_challenge" not in q


def test_code_exchange_finds_the_author_refresh_and_revoke(
        fake: tuple[FakeLinkedIn, Adapter]) -> None:
    li, adapter = fake
    tokens = _connect(adapter)
    assert tokens.extra["person_urn"] == "urn:li:person:782bbtaQ"
    assert tokens.scopes == ("openid", "profile", "w_member_social")
    assert adapter.account(tokens).name == "Clip Ray"
    fresh = adapter.refresh(tokens)
    assert fresh.access_token != tokens.access_token
    assert fresh.extra == tokens.extra
    with pytest.raises(PublishError) as no_refresh:
        adapter.refresh(Tokens("a"))
    assert no_refresh.value.code == "PLATFORM_TOKEN_EXPIRED"
    assert adapter.revoke(fresh) is True
    assert fresh.access_token not in li.tokens


def test_a_20MB_clip_uploads_in_parts_and_posts(
        fake: tuple[FakeLinkedIn, Adapter], clip: Path) -> None:
    li, adapter = fake
    tokens = _connect(adapter)
    meta = PostMetadata(title="Launch", description="50% off (today) #1 *deal*",
                        hashtags=("clipray",))
    post = adapter.publish(tokens, upload_of(clip, meta))
    (video,) = li.videos.values()
    assert video.data() == clip.read_bytes()
    assert len(video.parts) == 6  # 4 MB parts
    assert set(video.stored.values()) == {1}
    body = li.posts[post.platform_post_id]
    assert body["content"]["media"]["title"] == "Launch"
    assert body["commentary"] == "50% off \\(today\\) \\#1 \\*deal\\*\n\n{hashtag|\\#|clipray}"
    assert body["author"] == "urn:li:person:782bbtaQ"
    assert post.url == f"https://www.linkedin.com/feed/update/{post.platform_post_id}/"
    assert adapter.analytics(tokens, post.platform_post_id) == {"likes": 12, "comments": 3}


def test_an_interrupted_upload_resumes_and_every_byte_arrives_once(
        fake: tuple[FakeLinkedIn, Adapter], clip: Path) -> None:
    li, adapter = fake
    tokens = _connect(adapter)
    li.drop_on_put = 3
    adapter.publish(tokens, upload_of(clip))
    (video,) = li.videos.values()
    assert li.drop_on_put is None, "the fault fired"
    assert li.put_calls == 7  # six parts, the fourth one twice
    assert video.data() == clip.read_bytes()
    assert set(video.stored.values()) == {1}, "only the part without an ETag went again"


@pytest.mark.parametrize(("setup", "code"), [
    pytest.param("expired", "PLATFORM_TOKEN_EXPIRED", id="401"),
    pytest.param("rate_limited", "PLATFORM_RATE_LIMITED", id="429"),
    pytest.param("fail_processing", "PLATFORM_MEDIA_REJECTED", id="processing-failed"),
    pytest.param("too_big", "PLATFORM_MEDIA_REJECTED", id="init-refused"),
    pytest.param("down", "PLATFORM_UNAVAILABLE", id="connection-refused"),
])
def test_errors_map_to_their_codes(fake: tuple[FakeLinkedIn, Adapter], clip: Path, setup: str,
                                   code: str) -> None:
    li, adapter = fake
    tokens = _connect(adapter)
    upload = upload_of(clip)
    if setup == "expired":
        li.tokens.clear()
    elif setup == "rate_limited":
        li.rate_limited = True
    elif setup == "fail_processing":
        li.fail_processing = True
    elif setup == "too_big":
        upload = upload.__class__(**{**upload.__dict__, "size": 600 << 20})
    elif setup == "down":
        adapter = Adapter(adapter.settings.model_copy(update={"api_base": "http://127.0.0.1:9"}))
    with pytest.raises(PublishError) as refused:
        adapter.publish(tokens, upload)
    assert refused.value.code == code, refused.value
    if setup == "rate_limited":
        assert refused.value.retry_after_s is not None
        assert 0 < refused.value.retry_after_s <= 86400
