"""The fakes' harness serves a real app over TCP and stops it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.publish.harness import serve_fake

pytestmark = pytest.mark.integration


def test_a_fake_answers_over_tcp_and_stops() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with serve_fake(app) as base:
        assert httpx.get(f"{base}/ping").json() == {"pong": "yes"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/ping", timeout=2)
