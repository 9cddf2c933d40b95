"""The YouTube adapter against a fake of Google's documented endpoints (``fake_youtube``),
over TCP: a 20 MB clip uploads in 256 KiB-multiple chunks; an upload whose connection drops
mid-way resumes from the offset the server reports and the server receives every byte
once; Google's errors map to clipray's codes; metadata fits YouTube's limits."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipray.publish.base import (
    ClipUpload,
    MediaRejected,
    PlatformRateLimited,
    PlatformSettings,
    PlatformUnavailable,
    PostMetadata,
    TokenExpired,
    Tokens,
)
from clipray.publish.youtube import CHUNK_UNIT, Adapter
from tests.conftest import MEDIA
from tests.publish.fake_youtube import FakeYouTube
from tests.publish.harness import serve_fake

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def clip20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real vertical MP4 of more than 20 MB, made from the shared talking-head video."""
    out = tmp_path_factory.mktemp("yt") / "clip20.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1",
         "-i", str(MEDIA / "talking_head/sadtalker_hdtf/WDA_KatieHill_000.mp4"),
         "-t", "16", "-vf", "scale=720:1280,setsar=1", "-c:v", "mpeg4", "-q:v", "1", "-an",
         "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    assert out.stat().st_size >= 20 * MIB
    return out


@pytest.fixture
def fake() -> Iterator[tuple[FakeYouTube, str]]:
    yt = FakeYouTube()
    with serve_fake(yt.app) as base:
        yield yt, base


def adapter(base: str, chunk: int = 4 * MIB, timeout_s: float = 30.0) -> Adapter:
    return Adapter(PlatformSettings(client_id="yt-client", client_secret="yt-secret",
                                    auth_url=f"{base}/o/oauth2/v2/auth",
                                    token_url=f"{base}/token", api_base=base,
                                    chunk_bytes=chunk, timeout_s=timeout_s))  # fmt: skip


def tokens(yt: FakeYouTube) -> Tokens:
    body = yt._issue(with_refresh=True)
    return Tokens(body["access_token"], body["refresh_token"])


def upload(path: Path, title: str = "Why it matters", duration_s: float = 16.0) -> ClipUpload:
    return ClipUpload(path, path.stat().st_size, "video/mp4",
                      PostMetadata(title=title, description="A clip.", hashtags=("clipray",)),
                      duration_s=duration_s)  # fmt: skip


def test_a_20mb_clip_uploads_in_chunks(fake, clip20):
    yt, base = fake
    post = adapter(base, chunk=4 * MIB).publish(tokens(yt), upload(clip20))
    up = next(iter(yt.uploads.values()))
    assert yt.received() == clip20.read_bytes()
    assert up.resent_bytes == 0
    assert up.puts == -(-clip20.stat().st_size // (4 * MIB))  # one PUT per 4 MiB chunk
    assert post.platform_post_id == up.video_id
    assert post.url == f"https://youtube.com/shorts/{up.video_id}"
    meta = yt.videos[up.video_id]
    assert meta["status"]["privacyStatus"] == "private"
    assert "#Shorts" in meta["snippet"]["description"]
    assert "#clipray" in meta["snippet"]["description"]


def test_the_chunk_size_is_rounded_to_256_kib(fake, clip20):
    yt, base = fake
    adapter(base, chunk=3 * MIB + 1000).publish(tokens(yt), upload(clip20))
    up = next(iter(yt.uploads.values()))
    assert yt.received() == clip20.read_bytes()
    assert up.puts == -(-clip20.stat().st_size // (3 * MIB))
    assert (3 * MIB) % CHUNK_UNIT == 0


@pytest.mark.parametrize("drop_at", [pytest.param(9 * MIB + 12345, id="mid-chunk"),
                                     pytest.param(8 * MIB, id="chunk-boundary")])  # fmt: skip
def test_a_dropped_upload_resumes_and_every_byte_arrives_once(fake, clip20, drop_at):
    yt, base = fake
    yt.drop_at = drop_at
    adapter(base, chunk=4 * MIB).publish(tokens(yt), upload(clip20))
    up = next(iter(yt.uploads.values()))
    assert yt.drop_at is None, "the fake never dropped the connection"
    assert yt.received() == clip20.read_bytes()
    assert up.resent_bytes == 0
    # the chunks, one status query after the drop, and the chunk it interrupted again
    assert up.puts >= -(-clip20.stat().st_size // (4 * MIB)) + 1


def test_5xx_answers_are_retried_from_the_servers_offset(fake, clip20):
    yt, base = fake
    yt.fail_chunks = 2
    adapter(base).publish(tokens(yt), upload(clip20))
    up = next(iter(yt.uploads.values()))
    assert yt.received() == clip20.read_bytes()
    assert up.resent_bytes == 0
    assert yt.fail_chunks == 0


def test_a_server_that_keeps_failing_is_unavailable(fake, clip20):
    yt, base = fake
    yt.fail_chunks = 100
    with pytest.raises(PlatformUnavailable) as err:
        adapter(base).publish(tokens(yt), upload(clip20))
    assert err.value.code == "PLATFORM_UNAVAILABLE"
    assert err.value.retryable


def test_an_expired_token_is_platform_token_expired(fake, clip20):
    yt, base = fake
    yt.expire_tokens = True
    with pytest.raises(TokenExpired) as err:
        adapter(base).publish(tokens(yt), upload(clip20))
    assert (err.value.code, err.value.status) == ("PLATFORM_TOKEN_EXPIRED", 401)


def test_429_is_rate_limited_with_the_retry_time(fake, clip20):
    yt, base = fake
    yt.rate_limit_s = 42
    with pytest.raises(PlatformRateLimited) as err:
        adapter(base).publish(tokens(yt), upload(clip20))
    assert err.value.code == "PLATFORM_RATE_LIMITED"
    assert err.value.retry_after_s == 42
    assert err.value.headers["Retry-After"] == "42"


def test_quota_exceeded_is_rate_limited(fake, clip20):
    yt, base = fake
    yt.quota_exceeded = True
    with pytest.raises(PlatformRateLimited):
        adapter(base).account(tokens(yt))


def test_a_file_that_is_not_a_video_is_rejected(fake, tmp_path):
    yt, base = fake
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 40_000)
    with pytest.raises(MediaRejected) as err:
        adapter(base).publish(tokens(yt), upload(junk))
    assert err.value.code == "PLATFORM_MEDIA_REJECTED"
    assert yt.received() == junk.read_bytes()  # it arrived whole; YouTube refused it


def test_an_unreachable_platform_is_unavailable(clip20):
    with serve_fake(FakeYouTube().app) as base:
        pass  # stopped: nothing listens there any more
    with pytest.raises(PlatformUnavailable):
        adapter(base, timeout_s=2).publish(Tokens("ya29.x"), upload(clip20))


def test_metadata_fits_youtubes_limits(fake, tmp_path):
    yt, base = fake
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    long = ClipUpload(clip, clip.stat().st_size, "video/mp4",
                      PostMetadata(title="<b>" + "t" * 300 + "</b>", description="é" * 4000,
                                   hashtags=("#one", "two words")),
                      duration_s=600.0)  # fmt: skip
    post = adapter(base).publish(tokens(yt), long)
    video = yt.videos[post.platform_post_id]
    title, desc = video["snippet"]["title"], video["snippet"]["description"]
    assert len(title) <= 100
    assert not set("<>") & set(title + desc)
    assert len(desc.encode()) <= 5000
    assert desc.endswith("#one #twowords")
    assert "#Shorts" not in desc  # ten minutes is no Short
    assert post.url == f"https://www.youtube.com/watch?v={post.platform_post_id}"


def test_account_analytics_and_revoke(fake, clip20):
    yt, base = fake
    tok = tokens(yt)
    a = adapter(base)
    info = a.account(tok)
    assert (info.platform_account_id, info.name) == (yt.channel["id"], yt.channel["title"])
    post = a.publish(tok, upload(clip20))
    assert a.analytics(tok, post.platform_post_id) == {"views": 1234, "likes": 56,
                                                       "comments": 7}  # fmt: skip
    assert a.revoke(tok) is True
    assert yt.revoked == [tok.refresh_token]
    with pytest.raises(TokenExpired):  # the refresh token no longer works
        a.refresh(tok)
