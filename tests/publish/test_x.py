"""The X adapter against a fake of X's OAuth 2.0 and v2 chunked media upload, over TCP."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clipray.publish.base import PlatformSettings, PostMetadata, PublishError, Tokens
from clipray.publish.x import Adapter
from tests.publish.fake_x import FakeX
from tests.publish.harness import serve_fake
from tests.publish.media import make_clip, upload_of

pytestmark = pytest.mark.integration
VERIFIER = "x" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()
CHALLENGE = CHALLENGE.rstrip("=")
REDIRECT = "https://clipray.example/api/auth/x/callback"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory)


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, Adapter]]:
    fake = FakeX()
    with serve_fake(fake.app) as base:
        settings = PlatformSettings(client_id=fake.client_id, client_secret=fake.client_secret,
                                    auth_url=f"{base}/i/oauth2/authorize",
                                    token_url=f"{base}/2/oauth2/token", api_base=base,
                                    timeout_s=20)
        yield fake, Adapter(settings)


def _connect(adapter: Adapter) -> Tokens:
    r = httpx.get(adapter.consent_url("st-x", CHALLENGE, REDIRECT), follow_redirects=False)
    assert r.status_code == 302, r.text
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["state"] == ["st-x"]
    return adapter.exchange_code(back["code"][0], VERIFIER, REDIRECT)


def test_consent_url_has_client_scopes_state_and_pkce(fake: tuple[FakeX, Adapter]) -> None:
    _, adapter = fake
    url = adapter.consent_url("st-1", CHALLENGE, REDIRECT)
    q = parse_qs(urlsplit(url).query)
    assert url.split("?")[0].endswith("/i/oauth2/authorize")
    assert q["client_id"] == ["xc"]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["tweet.read tweet.write users.read offline.access media.write"]
    assert q["redirect_uri"] == [REDIRECT]
    assert q["state"] == ["st-1"]
    assert q["code_challenge"] == [CHALLENGE]
    assert q["code_challenge_method"] == ["S256"]


def test_code_exchange_refresh_account_and_revoke(fake: tuple[FakeX, Adapter]) -> None:
    x, adapter = fake
    tokens = _connect(adapter)
    assert tokens.access_token in x.tokens
    assert "media.write" in tokens.scopes
    assert adapter.account(tokens).name == "@clipray_test"
    fresh = adapter.refresh(tokens)
    assert fresh.refresh_token != tokens.refresh_token
    with pytest.raises(PublishError) as reused:  # X rotates refresh tokens
        adapter.refresh(tokens)
    assert reused.value.code == "PLATFORM_TOKEN_EXPIRED"
    with pytest.raises(PublishError) as wrong_verifier:
        adapter.exchange_code("xcode-unknown", VERIFIER, REDIRECT)
    assert wrong_verifier.value.code == "PLATFORM_TOKEN_EXPIRED"
    assert adapter.revoke(fresh) is True
    assert fresh.access_token not in x.tokens


def test_a_20MB_clip_uploads_in_segments_and_posts(fake: tuple[FakeX, Adapter], clip: Path) -> None:
    x, adapter = fake
    tokens = _connect(adapter)
    post = adapter.publish(tokens, upload_of(clip))
    (media,) = x.media.values()
    assert media.data() == clip.read_bytes()
    assert len(media.segments) == 6  # 21 MB in 4 MiB segments
    assert max(len(s) for s in media.segments.values()) <= 5 * 1024 * 1024
    assert set(media.appended.values()) == {1}
    body = x.posts[post.platform_post_id]
    assert body["media"]["media_ids"] == [next(iter(x.media))]
    assert body["text"] == "Launch day 🚀\n\nWhat we shipped.\n\n#clipray #launch"
    assert post.url == f"https://x.com/i/web/status/{post.platform_post_id}"
    assert adapter.analytics(tokens, post.platform_post_id) == {"views": 950, "likes": 31,
                                                                "comments": 4}


def test_an_interrupted_upload_resumes_and_every_byte_arrives_once(
        fake: tuple[FakeX, Adapter], clip: Path) -> None:
    x, adapter = fake
    tokens = _connect(adapter)
    x.drop_on_append = 2
    adapter.publish(tokens, upload_of(clip))
    (media,) = x.media.values()
    assert x.drop_on_append is None, "the fault fired"
    assert x.append_calls == 7  # six segments, the third one twice
    assert media.data() == clip.read_bytes()
    assert set(media.appended.values()) == {1}, "every segment stored once"


def test_a_long_text_is_fitted_to_280_weighted_characters(
        fake: tuple[FakeX, Adapter], clip: Path) -> None:
    x, adapter = fake
    tokens = _connect(adapter)
    meta = PostMetadata(title="長いタイトル", description="字" * 400, hashtags=("clipray",))
    post = adapter.publish(tokens, upload_of(clip, meta))
    text = x.posts[post.platform_post_id]["text"]
    assert text.endswith("…\n\n#clipray")
    assert 270 <= 2 * sum(1 for c in text if ord(c) > 4351) + sum(
        1 for c in text if ord(c) <= 4351) <= 280


@pytest.mark.parametrize(("setup", "code"), [
    pytest.param("expired", "PLATFORM_TOKEN_EXPIRED", id="401"),
    pytest.param("rate_limited", "PLATFORM_RATE_LIMITED", id="429"),
    pytest.param("fail_processing", "PLATFORM_MEDIA_REJECTED", id="processing-failed"),
    pytest.param("not_video", "PLATFORM_MEDIA_REJECTED", id="init-refused"),
    pytest.param("down", "PLATFORM_UNAVAILABLE", id="connection-refused"),
])
def test_errors_map_to_their_codes(fake: tuple[FakeX, Adapter], clip: Path, setup: str,
                                   code: str) -> None:
    x, adapter = fake
    tokens = _connect(adapter)
    upload = upload_of(clip)
    if setup == "expired":
        x.tokens.clear()
    elif setup == "rate_limited":
        x.rate_limited = True
    elif setup == "fail_processing":
        x.fail_processing = True
    elif setup == "not_video":
        upload = upload.__class__(**{**upload.__dict__, "content_type": "video/x-msvideo"})
    elif setup == "down":
        adapter = Adapter(adapter.settings.model_copy(update={"api_base": "http://127.0.0.1:9"}))
    with pytest.raises(PublishError) as refused:
        adapter.publish(tokens, upload)
    assert refused.value.code == code, refused.value
    if setup == "rate_limited":
        assert refused.value.retry_after_s is not None
        assert 85 <= refused.value.retry_after_s <= 91  # from x-rate-limit-reset
