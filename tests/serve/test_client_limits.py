"""Who the client is (``X-Forwarded-For`` only from trusted proxies) and the sliding
rate window, pure: golden cases and a property over random request times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from clipray.config import Settings
from clipray.serve.security import client_address, sliding_window_wait, trusted_networks

pytestmark = pytest.mark.unit

PROXIES = trusted_networks(("10.0.0.0/8", "192.0.2.1", "2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        pytest.param("203.0.113.9", ["198.51.100.1"], "203.0.113.9", id="untrusted-peer-ignored"),
        pytest.param("127.0.0.1", ["198.51.100.1"], "127.0.0.1", id="loopback-not-trusted"),
        pytest.param("10.1.2.3", [], "10.1.2.3", id="trusted-peer-no-header"),
        pytest.param("10.1.2.3", ["198.51.100.7"], "198.51.100.7", id="one-proxy"),
        pytest.param("10.1.2.3", ["198.51.100.7, 10.0.0.5"], "198.51.100.7", id="two-proxies"),
        pytest.param("10.1.2.3", ["1.2.3.4, 198.51.100.7"], "198.51.100.7",
                     id="spoofed-left-entry-ignored"),
        pytest.param("10.1.2.3", ["1.2.3.4", "198.51.100.7, 192.0.2.1"], "198.51.100.7",
                     id="several-headers-joined-in-order"),
        pytest.param("10.1.2.3", ["10.9.9.9, 10.0.0.5"], "10.9.9.9", id="all-hops-trusted"),
        pytest.param("10.1.2.3", ["not-an-ip, 10.0.0.5"], "10.0.0.5",
                     id="garbage-ends-at-the-last-trusted-hop"),
        pytest.param("10.1.2.3", ["garbage"], "10.1.2.3", id="garbage-only"),
        pytest.param("10.1.2.3", ["198.51.100.7:4711"], "198.51.100.7", id="v4-with-port"),
        pytest.param("2001:db8::1", ["[2001:db9::5]:443"], "2001:db9::5", id="v6-with-port"),
        pytest.param(None, ["198.51.100.7"], "unknown", id="no-peer"),
        pytest.param("testclient", ["198.51.100.7"], "testclient", id="peer-not-an-ip"),
    ],
)  # fmt: skip
def test_the_client_address(peer, xff, client):
    assert client_address(peer, xff, PROXIES) == client


def test_with_no_trusted_proxies_the_header_is_never_read():
    assert client_address("10.1.2.3", ["198.51.100.7"], trusted_networks(())) == "10.1.2.3"


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.internal", "10.0.0.1, 10.0.0.2"])
def test_a_malformed_trusted_proxy_is_refused_at_startup(bad):
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies=(bad,))


def test_trusted_proxies_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLIPRAY_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.1"]')
    assert Settings().trusted_proxies == ("10.0.0.0/8", "192.0.2.1")


# --- the sliding window --------------------------------------------------------------------
T0 = datetime(2026, 12, 6, 8, 0, 58, tzinfo=UTC)
S = timedelta(seconds=1)


def test_ten_attempts_straddling_a_minute_admit_five():
    """The bug of a clock-aligned window: 5 before and 5 after :00 all got through."""
    admitted: list[datetime] = []
    verdicts = []
    for n in range(10):  # 0.5 s apart, from :58 to :02.5
        now = T0 + n * S / 2
        wait = sliding_window_wait(admitted, 5, 60, now)
        verdicts.append(wait)
        if wait is None:
            admitted.append(now)
    assert verdicts[:5] == [None] * 5
    assert verdicts[5:] == [58, 57, 57, 56, 56]  # until :58 + 60 s, rounded up
    # the first admitted leaves the window 60 s after it came: then there is room again
    assert sliding_window_wait(admitted, 5, 60, T0 + 60 * S) is None
    assert sliding_window_wait(admitted, 5, 60, T0 + 59 * S) == 1


def test_retry_after_points_at_the_hit_whose_exit_frees_a_slot():
    hits = [T0, T0 + 10 * S, T0 + 20 * S]
    assert sliding_window_wait(hits, 3, 60, T0 + 30 * S) == 30  # T0 leaves at +60
    assert sliding_window_wait(hits, 2, 60, T0 + 30 * S) == 40  # two must leave: T0+10 s
    assert sliding_window_wait(hits, 1, 3600, T0 + 30 * S) == 3600 - 10
    assert sliding_window_wait([], 0, 60, T0) == 60  # a zero limit admits nothing


@given(gaps=st.lists(st.integers(0, 40_000), min_size=1, max_size=60),
       limit=st.integers(1, 6))  # fmt: skip
def test_never_more_than_the_limit_in_any_window_and_never_a_needless_refusal(gaps, limit):
    window = 60.0
    now, admitted = T0, []
    for gap_ms in gaps:
        now += timedelta(milliseconds=gap_ms)
        inside = [t for t in admitted if now - t < timedelta(seconds=window)]
        wait = sliding_window_wait(admitted, limit, window, now)
        if wait is None:
            assert len(inside) < limit
            admitted.append(now)
        else:  # refused only when the window is full, and room comes back after ``wait``
            assert len(inside) >= limit
            later = now + timedelta(seconds=wait)
            assert sliding_window_wait(admitted, limit, window, later) is None
    for i, start in enumerate(admitted):  # every window of 60 s holds at most ``limit``
        within = [t for t in admitted[i:] if t - start < timedelta(seconds=window)]
        assert len(within) <= limit
