"""The Serve ingress: the plain FastAPI app with a TestClient, then once through real Serve."""

import pytest
import requests
from fastapi.testclient import TestClient

from clipray import __version__
from clipray.cluster.procs import free_ports
from clipray.serve.app import api


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


def test_through_real_serve_over_http(ray_local):
    from ray import serve

    from clipray.serve.app import app

    (port,) = free_ports(1)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(app, name="clipray", route_prefix="/")
        resp = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert resp.status_code == 200
        assert resp.json()["version"] == __version__
        missing = requests.get(f"http://127.0.0.1:{port}/nope", timeout=30)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
    finally:
        serve.shutdown()
