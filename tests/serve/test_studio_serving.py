"""The ingress serves the web studio's build at ``/`` and ``/assets/``; without a build, ``/``
is a 503 naming the build command; the API's own paths keep their JSON answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clipray.serve.app import create_api

pytestmark = pytest.mark.integration

INDEX = '<!doctype html><html><body><div id="root"></div><script src="/assets/app-1a2b.js"></script></body></html>'  # noqa: E501


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    (root / "assets").mkdir()
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text("console.log('studio')")
    (root / "assets" / "app-1a2b.css").write_text("body{margin:0}")
    (root.parent / "secret.txt").write_text("not for the web")
    return root


@pytest.fixture(scope="module")
def client(api_settings, dist):
    with TestClient(create_api(api_settings, studio=dist)) as c:
        yield c


def test_the_studio_page_and_its_assets(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert page.text == INDEX
    js = client.get("/assets/app-1a2b.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "immutable" in js.headers["cache-control"]
    assert client.get("/assets/app-1a2b.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/assets/missing.js", "/assets/../index.html",
                                  "/assets/%2e%2e/%2e%2e/secret.txt", "/nope",
                                  "/api/nope"])  # fmt: skip
def test_other_paths_are_the_json_404(client, path):
    resp = client.get(path)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"].endswith("NOT_FOUND")
    assert "not for the web" not in resp.text


def test_the_api_and_its_docs_stay_where_they_were(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/api/jobs" in paths


def test_without_a_build_the_studio_is_503_naming_the_build_command(api_settings, tmp_path):
    with TestClient(create_api(api_settings, studio=tmp_path / "absent")) as c:
        resp = c.get("/")
        assert resp.status_code == 503, resp.text
        err = resp.json()["error"]
        assert err["code"] == "STUDIO_NOT_BUILT"
        assert "bash scripts/build-studio.sh" in err["message"]
        assert err["detail"]["build_command"] == "bash scripts/build-studio.sh"
        assert c.get("/assets/app.js").status_code == 404
        assert c.get("/healthz").status_code == 200
