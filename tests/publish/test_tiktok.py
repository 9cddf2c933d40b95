"""The TikTok adapter against a fake of TikTok's Content Posting API, over TCP."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from clipray.publish.base import PlatformSettings, PostMetadata, PublishError, Tokens
from clipray.publish.tiktok import Adapter
from tests.publish.fake_tiktok import FakeTikTok
from tests.publish.harness import serve_fake
from tests.publish.media import make_clip, upload_of

pytestmark = pytest.mark.integration
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()
CHALLENGE = CHALLENGE.rstrip("=")
REDIRECT = "https://clipray.example/api/auth/tiktok/callback"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory)


@pytest.fixture
def fake() -> Iterator[tuple[FakeTikTok, Adapter]]:
    fake = FakeTikTok()
    with serve_fake(fake.app) as base:
        settings = PlatformSettings(client_id=fake.client_key, client_secret=fake.client_secret,
                                    auth_url=f"{base}/v2/auth/authorize/",
                                    token_url=f"{base}/v2/oauth/token/", api_base=base,
                                    chunk_bytes=6 * 1024 * 1024, timeout_s=20)
        yield fake, Adapter(settings)


def _connect(adapter: Adapter) -> Tokens:
    url = adapter.consent_url("st-1", CHALLENGE, REDIRECT)
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    back = parse_qs(urlsplit(r.headers["location"]).query)
    assert back["state"] == ["st-1"]
    return adapter.exchange_code(back["code"][0], VERIFIER, REDIRECT)


def test_consent_url_has_client_key_scopes_state_and_pkce(fake: tuple[FakeTikTok, Adapter]) -> None:
    _, adapter = fake
    q = parse_qs(urlsplit(adapter.consent_url("st-9", CHALLENGE, REDIRECT)).query)
    assert q["client_key"] == ["ck"]
    assert "client_id" not in q
    assert q["scope"] == ["user.info.basic,video.publish"]
    assert q["redirect_uri"] == [REDIRECT]
    assert q["state"] == ["st-9"]
    assert q["code_challenge"] == [CHALLENGE]
    assert q["code_challenge_method"] == ["S256"]


def test_code_exchange_refresh_account_and_revoke(fake: tuple[FakeTikTok, Adapter]) -> None:
    tiktok, adapter = fake
    tokens = _connect(adapter)
    assert tokens.access_token in tiktok.tokens
    assert tokens.extra["open_id"] == "open-1"
    assert tokens.scopes == ("user.info.basic", "video.publish")
    assert adapter.account(tokens).name == "clipray tester"
    fresh = adapter.refresh(tokens)
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token != tokens.refresh_token
    with pytest.raises(PublishError) as reused:  # TikTok rotates the refresh token
        adapter.refresh(tokens)
    assert reused.value.code == "PLATFORM_TOKEN_EXPIRED"
    assert adapter.revoke(fresh) is True
    with pytest.raises(PublishError) as after:
        adapter.account(fresh)
    assert after.value.code == "PLATFORM_TOKEN_EXPIRED"


def test_a_20MB_clip_uploads_in_chunks_and_posts_privately(
        fake: tuple[FakeTikTok, Adapter], clip: Path) -> None:
    tiktok, adapter = fake
    tokens = _connect(adapter)
    result = adapter.publish(tokens, upload_of(clip))
    (up,) = tiktok.uploads.values()
    assert bytes(up.data) == clip.read_bytes()
    assert up.chunks == list(range(up.total_chunk_count))
    assert up.total_chunk_count == 3
    assert up.privacy == "SELF_ONLY"
    assert up.title.startswith("Launch day 🚀\n\nWhat we shipped.")  # metadata.fit
    assert "#clipray #launch" in up.title
    assert result.platform_post_id.startswith("v_pub_file~")
    assert result.url is None


@pytest.mark.parametrize("fault", ["drop_at_byte", "drop_answer_of_chunk"])
def test_an_interrupted_upload_resumes_and_every_byte_arrives_once(
        fake: tuple[FakeTikTok, Adapter], clip: Path, fault: str) -> None:
    tiktok, adapter = fake
    tokens = _connect(adapter)
    if fault == "drop_at_byte":
        tiktok.drop_at_byte = 9 * 1024 * 1024  # in the middle of the second chunk
    else:
        tiktok.drop_answer_of_chunk = 1  # the chunk arrives, its answer is lost
    friends = PostMetadata(title="t", privacy="MUTUAL_FOLLOW_FRIENDS")
    adapter.publish(tokens, upload_of(clip, friends))
    (up,) = tiktok.uploads.values()
    assert getattr(tiktok, fault) is None, "the fault fired"
    assert bytes(up.data) == clip.read_bytes()
    assert up.chunks == [0, 1, 2], "no chunk stored twice"


def test_a_public_post_has_its_id_url_and_analytics(
        fake: tuple[FakeTikTok, Adapter], clip: Path) -> None:
    tiktok, adapter = fake
    tiktok.privacy_options.append("PUBLIC_TO_EVERYONE")
    tokens = _connect(adapter)
    public = PostMetadata(title="t", privacy="PUBLIC_TO_EVERYONE")
    post = adapter.publish(tokens, upload_of(clip, public))
    assert post.platform_post_id == "7300000000000000001"
    assert post.url == "https://www.tiktok.com/video/7300000000000000001"
    assert adapter.analytics(tokens, post.platform_post_id) == {"views": 1200, "likes": 85,
                                                                "comments": 7}


@pytest.mark.parametrize(("setup", "code", "retry_after"), [
    pytest.param("expired", "PLATFORM_TOKEN_EXPIRED", None, id="401"),
    pytest.param("rate_limited", "PLATFORM_RATE_LIMITED", 60.0, id="429"),
    pytest.param("fail_reason", "PLATFORM_MEDIA_REJECTED", None, id="rejected"),
    pytest.param("drops", "PLATFORM_UNAVAILABLE", None, id="dropped"),
    pytest.param("privacy", "PLATFORM_PRIVACY_REFUSED", None, id="privacy-not-allowed"),
])
def test_errors_map_to_their_codes(fake: tuple[FakeTikTok, Adapter], clip: Path, setup: str,
                                   code: str, retry_after: float | None) -> None:
    tiktok, adapter = fake
    tokens = _connect(adapter)
    meta = PostMetadata(title="t")
    if setup == "expired":
        tiktok.tokens.clear()
    elif setup == "rate_limited":
        tiktok.rate_limited = True
    elif setup == "fail_reason":
        tiktok.fail_reason = "file_format_check_failed"
    elif setup == "privacy":
        meta = PostMetadata(title="t", privacy="PUBLIC_TO_EVERYONE")
    elif setup == "drops":
        tiktok.drop_every_put = True
    with pytest.raises(PublishError) as refused:
        adapter.publish(tokens, upload_of(clip, meta))
    assert refused.value.code == code, refused.value
    assert refused.value.retry_after_s == retry_after
    if code == "PLATFORM_RATE_LIMITED":
        assert refused.value.headers["Retry-After"] == "60"
