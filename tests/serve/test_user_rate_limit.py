"""The per-user rate limit of every authenticated endpoint (``CLIPRAY_RATE_LIMIT_PER_MINUTE``)
through the plain FastAPI app on a real database, time moved by the app's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from clipray.serve.app import create_api
from clipray.storage.orm import utcnow
from tests.apiclient import Account, register

LIMIT = 5
# Authenticated endpoints of several routers: the limit is one count over all of them.
PATHS = ["/api/jobs", "/api/clips", "/api/auth/me", "/api/workspaces", "/api/tokens"]


class Clock:
    """The limiter's clock, moved by the test."""

    def __init__(self) -> None:
        self.at: datetime = utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def _get(client: TestClient, acct: Account, n: int = 0, headers: dict | None = None):
    return client.get(PATHS[n % len(PATHS)], headers=headers or acct.headers)


@pytest.fixture
def limited(api_settings):
    return api_settings.model_copy(update={"rate_limit_per_minute": LIMIT})


def test_request_n_plus_one_is_refused_until_the_window_slides(limited):
    clock = Clock()
    with TestClient(create_api(limited, clock=clock)) as c:
        acct = register(c, "limited")  # register and login have limits of their own
        for n in range(LIMIT):
            assert _get(c, acct, n).status_code == 200, n
            clock.advance(1)
        clock.advance(5)  # the first request was 10 s ago
        over = _get(c, acct)
        assert over.status_code == 429, over.text
        assert over.json()["error"]["code"] == "RATE_LIMITED"
        assert over.json()["error"]["detail"] == {"limit": LIMIT, "window_s": 60}
        assert over.headers["retry-after"] == "50"
        for _ in range(5):  # refusals are not counted: hammering moves nothing
            assert _get(c, acct).headers["retry-after"] == "50"
        clock.advance(50)  # the first request leaves the window, and only it
        assert _get(c, acct).status_code == 200
        again = _get(c, acct)
        assert again.status_code == 429
        assert again.headers["retry-after"] == "1"  # the second one leaves a second later
        # logging in is not a request of the user's: it keeps its own per-address limit
        login = c.post("/api/auth/login", json={"email": acct.email, "password": acct.password})
        assert login.status_code == 200, login.text
        clock.advance(61)
        assert all(_get(c, acct, n).status_code == 200 for n in range(LIMIT))


def test_two_users_are_independent_and_an_api_token_counts_for_its_user(limited):
    clock = Clock()
    with TestClient(create_api(limited, clock=clock)) as c:
        a, b = register(c, "first"), register(c, "second")
        made = c.post("/api/tokens", headers=a.headers, json={"name": "bot", "scopes": ["read"]})
        assert made.status_code == 201, made.text
        bot = {"Authorization": f"Bearer {made.json()['token']}"}
        codes_a = [_get(c, a, n, bot if n % 2 else None).status_code for n in range(LIMIT)]
        assert codes_a == [200] * (LIMIT - 1) + [429]  # the token's request was the first
        assert _get(c, a, headers=bot).status_code == 429
        assert [_get(c, b, n).status_code for n in range(LIMIT)] == [200] * LIMIT
        assert _get(c, b).status_code == 429


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_apps_on_one_database_share_the_count(api_settings, backend, request):
    """Two app instances stand for two Serve replicas: what one admitted, the other sees."""
    if backend == "postgres":
        url = request.getfixturevalue("postgres_db").url
        settings = api_settings.model_copy(update={"database_url": url})
    else:
        settings = api_settings
    settings = settings.model_copy(update={"rate_limit_per_minute": LIMIT})
    clock = Clock()
    with (
        TestClient(create_api(settings, clock=clock)) as one,
        TestClient(create_api(settings, clock=clock)) as two,
    ):
        acct = register(one, "replicas")
        codes = [_get(one if n % 2 else two, acct, n).status_code for n in range(LIMIT)]
        assert codes == [200] * LIMIT
        assert _get(one, acct).status_code == 429
        assert _get(two, acct).status_code == 429
        clock.advance(60)
        assert _get(two, acct).status_code == 200


def test_zero_turns_the_limit_off(api_settings):
    off = api_settings.model_copy(update={"rate_limit_per_minute": 0})
    with TestClient(create_api(off, clock=Clock())) as c:
        acct = register(c, "unlimited")
        assert [_get(c, acct, n).status_code for n in range(3 * LIMIT)] == [200] * (3 * LIMIT)
