"""Signed thumbnail links (``services/search.ThumbnailLinks``): the same frame searched again
soon after gets the same link (the browser's cached picture), which still lives its TTL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from clipray.domain.errors import CodedError
from clipray.services.search import ThumbnailLinks

pytestmark = pytest.mark.unit


def _exp(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["exp"][0])


def test_links_made_within_a_step_are_the_same_and_live_at_least_their_ttl():
    links = ThumbnailLinks("secret", ttl_s=3600, step_s=300)
    start = 1_800_000_000.0  # a multiple of the step: the next link is in the next step
    urls = [links.url("a" * 32, 2.5, now=start + dt) for dt in (0.1, 1.0, 150.0, 299.9)]
    assert len(set(urls)) == 1
    assert _exp(urls[0]) == start + 3600 + 300
    later = links.url("a" * 32, 2.5, now=start + 300.1)
    assert _exp(later) == start + 3600 + 600
    for now in (start + 0.1, start + 299.9, start + 300.1):
        url = links.url("a" * 32, 2.5, now=now)
        assert now + 3600 <= _exp(url) <= now + 3600 + 300
        q = parse_qs(urlsplit(url).query)
        links.verify("a" * 32, 2.5, int(q["exp"][0]), q["sig"][0], now=now + 3599)


def test_a_link_past_its_expiry_is_refused():
    links = ThumbnailLinks("secret", ttl_s=60, step_s=1)
    url = links.url("a" * 32, 1.0, now=1000.0)
    q = parse_qs(urlsplit(url).query)
    with pytest.raises(CodedError) as exc:
        links.verify("a" * 32, 1.0, int(q["exp"][0]), q["sig"][0], now=1061.0)
    assert exc.value.code == "THUMBNAIL_LINK_EXPIRED"
