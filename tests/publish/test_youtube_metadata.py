"""YouTube's metadata rules, the PKCE pair and Google's error mapping, as pure functions."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from clipray.publish.base import (
    MediaRejected,
    PlatformRateLimited,
    PlatformUnavailable,
    PostMetadata,
    TokenExpired,
)
from clipray.publish.youtube import raise_for, video_resource
from clipray.services.connections import pkce_pair

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("duration", "shorts"), [pytest.param(59.0, True, id="59s"),
                                                  pytest.param(180.0, True, id="3min"),
                                                  pytest.param(181.0, False, id="over-3min"),
                                                  pytest.param(None, False, id="unknown")])
def test_shorts_are_tagged_up_to_three_minutes(duration, shorts):
    res = video_resource(PostMetadata(title="t"), duration)
    assert ("#Shorts" in res["snippet"]["description"]) is shorts
    assert ("Shorts" in res["snippet"]["tags"]) is shorts


def test_private_by_default_and_the_users_choice_otherwise():
    assert video_resource(PostMetadata(title="t"), 30)["status"]["privacyStatus"] == "private"
    public = video_resource(PostMetadata(title="t", privacy="unlisted"), 30)
    assert public["status"]["privacyStatus"] == "unlisted"


def test_limits_title_100_chars_description_5000_bytes_no_angle_brackets():
    res = video_resource(PostMetadata(title="<x>" + "é" * 200, description="<p>" + "€" * 3000,
                                      hashtags=("#a", "b")), 20)  # fmt: skip
    title, desc = res["snippet"]["title"], res["snippet"]["description"]
    assert len(title) == 100
    assert title.endswith("…")
    assert len(desc.encode()) <= 5000
    assert not set("<>") & set(title + desc)
    assert desc.endswith("#a #b #Shorts")
    assert video_resource(PostMetadata(), 20)["snippet"]["title"] == "Untitled"


def test_the_pkce_challenge_is_the_s256_of_the_verifier():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge == digest.decode()
    assert pkce_pair()[0] != verifier


def _resp(status: int, reason: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(("resp", "kind", "code"), [
    pytest.param(_resp(401, "authError"), TokenExpired, "PLATFORM_TOKEN_EXPIRED", id="401"),
    pytest.param(_resp(429, "", {"Retry-After": "30"}), PlatformRateLimited,
                 "PLATFORM_RATE_LIMITED", id="429"),
    pytest.param(_resp(403, "quotaExceeded"), PlatformRateLimited, "PLATFORM_RATE_LIMITED",
                 id="403-quota"),
    pytest.param(_resp(400, "invalidTitle"), MediaRejected, "PLATFORM_MEDIA_REJECTED",
                 id="400-title"),
    pytest.param(_resp(503, "backendError"), PlatformUnavailable, "PLATFORM_UNAVAILABLE",
                 id="503"),
])  # fmt: skip
def test_googles_errors_map_to_codes(resp, kind, code):
    with pytest.raises(kind) as err:
        raise_for(resp, "call")
    assert err.value.code == code
    if resp.status_code == 429:
        assert err.value.retry_after_s == 30
