"""The ingress app shell with a TestClient (through real Serve: test_serve_e2e.py)."""

import pytest
from fastapi.testclient import TestClient

from clipray import __version__
from clipray.serve.app import api

pytestmark = pytest.mark.unit


def test_healthz():
    resp = TestClient(api).get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "version": __version__}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("get", "/no-such-route", 404, "NOT_FOUND", id="unknown-route"),
        pytest.param("post", "/healthz", 405, "METHOD_NOT_ALLOWED", id="wrong-method"),
    ],
)
def test_errors_have_one_json_shape(method, path, status, code):
    resp = getattr(TestClient(api), method)(path)
    assert resp.status_code == status
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_openapi_documents_the_error_shape():
    spec = TestClient(api).get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "/healthz" in spec["paths"]
