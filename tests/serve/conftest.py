"""Fixtures of the API tests: the plain FastAPI app (no Serve) on ``api_settings``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from clipray.serve.app import create_api


@pytest.fixture(scope="module")
def client(api_settings) -> Iterator[TestClient]:
    """A TestClient of the app, its startup and shutdown run once per module, as a server
    runs them. A module that needs other settings or a clean-up defines its own."""
    with TestClient(create_api(api_settings)) as c:
        yield c
