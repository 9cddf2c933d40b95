"""Brand kits through the plain FastAPI app (real SQLite, the real S3 server, ffprobe):
the CRUD round trip, every refusal with its code, roles, workspaces kept apart, assets
stored content-addressed (and deleted with what replaced or removed them), and a kit's id
in a job's settings and a re-render's body."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from PIL import Image

from clipray.clips.render import RenderSpec
from clipray.domain.brand import ASSET_MAX_BYTES
from clipray.serve.app import create_api
from clipray.services.brand import KITS_MAX, brand_for
from clipray.storage.keys import object_key
from clipray.storage.orm import BrandKitRow, Clip, ClipStatus, Job, Source
from tests.apiclient import Account, register, upload
from tests.conftest import cancel_active_jobs
from tests.serve.test_api import assert_error

pytestmark = pytest.mark.integration

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def picture(fmt: str, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 32), color).save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def client(api_settings, api_db):
    with TestClient(create_api(api_settings)) as c:
        yield c
    cancel_active_jobs(api_db)  # the job the settings test creates


@pytest.fixture(scope="module")
def owner(client) -> Account:
    return register(client, "brand")


@pytest.fixture(scope="module")
def other(client) -> Account:
    return register(client, "brand-other")


@pytest.fixture(scope="module")
def source_id(client, owner, short_talk) -> str:
    resp = upload(client, owner, short_talk)
    assert resp.status_code == 200, resp.text
    return resp.json()["source_id"]


def make(client, acct: Account, **body: Any) -> dict:
    resp = client.post("/api/brand", headers=acct.headers, json={"name": "Main", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def put(client, acct: Account, kit_id: str, kind: str, data: bytes, ctype: str,
        **headers: str) -> Any:  # fmt: skip
    return client.put(f"/api/brand/{kit_id}/assets/{kind}", content=data,
                      headers={**acct.headers, "Content-Type": ctype, **headers})  # fmt: skip


def row(api_db, kit_id: str) -> BrandKitRow:
    with api_db.session() as s:
        return s.get(BrandKitRow, kit_id)


# --- the round trip ----------------------------------------------------------------------
def test_create_read_list_change_delete(client, owner):
    first = make(client, owner, name="First")
    kit = make(client, owner, name="Launch", logo_position="bottom_left", logo_size=0.2,
               primary_color="#112233", font_family="DejaVu Sans")  # fmt: skip
    assert (kit["logo_position"], kit["logo_size"]) == ("bottom_left", 0.2)
    assert (kit["logo_opacity"], kit["accent_color"]) == (0.9, "#FFD400")  # the defaults
    assert (kit["logo_url"], kit["background_url"], kit["font_name"]) == (None, None, None)
    assert set(kit) == {"id", "name", "logo_position", "logo_size", "logo_opacity",
                        "primary_color", "accent_color", "background_color", "font_family",
                        "intro_source_id", "outro_source_id", "logo_url", "background_url",
                        "font_name", "created_at", "updated_at"}  # fmt: skip
    assert client.get(f"/api/brand/{kit['id']}", headers=owner.headers).json() == kit
    listed = client.get("/api/brand", headers=owner.headers).json()["data"]
    ids = [k["id"] for k in listed]
    assert ids.index(kit["id"]) < ids.index(first["id"])  # newest first

    changed = client.patch(f"/api/brand/{kit['id']}", headers=owner.headers,
                           json={"logo_opacity": 0.5, "font_family": None, "logo_size": None})
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["logo_opacity"], got["font_family"], got["logo_size"]) == (0.5, None, 0.15)
    assert (got["name"], got["primary_color"]) == ("Launch", "#112233")  # absent: kept
    assert got["updated_at"] >= kit["updated_at"]

    assert client.delete(f"/api/brand/{kit['id']}", headers=owner.headers).status_code == 204
    assert_error(client.get(f"/api/brand/{kit['id']}", headers=owner.headers), 404,
                 "BRAND_KIT_NOT_FOUND")  # fmt: skip


# --- refusals ----------------------------------------------------------------------------
MISSING = "0" * 32
REFUSALS = [
    pytest.param("POST", "", {"json": {"name": " "}}, 422, "BRAND_KIT_INVALID", "name",
                 id="blank-name"),
    pytest.param("POST", "", {"json": {"name": "x", "logo_position": "center"}}, 422,
                 "BRAND_KIT_INVALID", "logo_position", id="logo-position"),
    pytest.param("POST", "", {"json": {"name": "x", "logo_size": 0.9}}, 422,
                 "BRAND_KIT_INVALID", "logo_size", id="logo-size"),
    pytest.param("PATCH", "/{kit}", {"json": {"accent_color": "yellow"}}, 422,
                 "BRAND_KIT_INVALID", "accent_color", id="patch-colour"),
    pytest.param("PATCH", "/{kit}", {"json": {"name": None}}, 422,
                 "BRAND_KIT_INVALID", "name", id="patch-null-name"),
    pytest.param("POST", "", {"json": {"name": "x", "intro_source_id": MISSING}}, 422,
                 "BRAND_SOURCE_INVALID", "intro_source_id", id="intro-unknown"),
    pytest.param("PATCH", "/{kit}", {"json": {"outro_source_id": "{other_source}"}}, 422,
                 "BRAND_SOURCE_INVALID", "outro_source_id", id="outro-other-workspace"),
    pytest.param("GET", f"/{MISSING}", {}, 404, "BRAND_KIT_NOT_FOUND", None, id="unknown-kit"),
    pytest.param("PUT", "/{kit}/assets/video", {"content": b"x", "ctype": "image/png"}, 404,
                 "BRAND_ASSET_KIND_UNKNOWN", None, id="asset-kind"),
    pytest.param("PUT", "/{kit}/assets/logo", {"content": b"GIF89a", "ctype": "image/gif"},
                 415, "BRAND_ASSET_TYPE_UNSUPPORTED", None, id="asset-gif"),
    pytest.param("PUT", "/{kit}/assets/font", {"content": b"OTTO", "ctype": "image/png"},
                 415, "BRAND_ASSET_TYPE_UNSUPPORTED", None, id="font-as-png"),
    pytest.param("PUT", "/{kit}/assets/logo",
                 {"content": b"\x89PNG\r\n\x1a\n" + b"\0" * ASSET_MAX_BYTES,
                  "ctype": "image/png"}, 413, "BRAND_ASSET_TOO_LARGE", None, id="asset-large"),
    pytest.param("PUT", "/{kit}/assets/logo", {"content": "{jpeg}", "ctype": "image/png"}, 422,
                 "BRAND_ASSET_UNREADABLE", None, id="jpeg-called-png"),
    pytest.param("PUT", "/{kit}/assets/background", {"content": "{truncated}",
                 "ctype": "image/png"}, 422, "BRAND_ASSET_UNREADABLE", None, id="truncated"),
    pytest.param("PUT", "/{kit}/assets/font", {"content": b"<html>", "ctype": "font/ttf"}, 422,
                 "BRAND_ASSET_UNREADABLE", None, id="font-not-a-font"),
]  # fmt: skip


@pytest.fixture(scope="module")
def other_source(client, other, short_talk) -> str:
    resp = upload(client, other, short_talk)
    assert resp.status_code == 200, resp.text
    return resp.json()["source_id"]


@pytest.mark.parametrize(("method", "path", "req", "status", "code", "field"), REFUSALS)
def test_each_refusal_answers_its_code_and_changes_nothing(client, owner, api_db, buckets,
                                                           other_source, method, path, req,
                                                           status, code, field):  # fmt: skip
    kit = make(client, owner, name="Refusals")
    before = client.get("/api/brand", headers=owner.headers).json()
    json_body = {k: (other_source if v == "{other_source}" else v)
                 for k, v in req.get("json", {}).items()}  # fmt: skip
    content = {"{jpeg}": picture("JPEG"), "{truncated}": picture("PNG")[:40]}.get(
        req.get("content"), req.get("content"))  # type: ignore[arg-type]
    url = "/api/brand" + path.replace("{kit}", kit["id"])
    if method == "PUT":
        resp = put(client, owner, kit["id"] if "{kit}" in path else MISSING, url.split("/")[-1],
                   content, req["ctype"])  # fmt: skip
    else:
        resp = client.request(method, url, headers=owner.headers,
                              json=json_body if "json" in req else None)  # fmt: skip
    err = assert_error(resp, status, code)
    if field is not None:
        assert err["detail"] == {"field": field}
    assert client.get("/api/brand", headers=owner.headers).json() == before
    assert list(buckets.media.list(f"{owner.workspace_id}/brand/{kit['id']}/")) == []
    client.delete(f"/api/brand/{kit['id']}", headers=owner.headers)


def test_the_fifty_first_kit_is_refused(client):
    acct = register(client, "brand-many")
    for i in range(KITS_MAX):
        make(client, acct, name=f"kit {i}")
    assert_error(client.post("/api/brand", headers=acct.headers, json={"name": "one more"}),
                 409, "BRAND_KIT_LIMIT")  # fmt: skip
    assert len(client.get("/api/brand", headers=acct.headers).json()["data"]) == KITS_MAX


# --- who may --------------------------------------------------------------------------------
def test_a_viewer_reads_and_an_editor_writes(client, owner):
    kit = make(client, owner, name="Roles")
    members = {}
    for role in ("viewer", "editor"):
        acct = register(client, f"brand-{role}")
        added = client.post(f"/api/workspaces/{owner.workspace_id}/members",
                            headers=owner.headers, json={"email": acct.email, "role": role})
        assert added.status_code == 201, added.text
        members[role] = {**acct.headers, "X-Workspace-Id": owner.workspace_id}
    viewer, editor = members["viewer"], members["editor"]
    assert client.get(f"/api/brand/{kit['id']}", headers=viewer).json()["name"] == "Roles"
    assert kit["id"] in [k["id"] for k in client.get("/api/brand", headers=viewer).json()["data"]]
    for resp in (
        client.post("/api/brand", headers=viewer, json={"name": "no"}),
        client.patch(f"/api/brand/{kit['id']}", headers=viewer, json={"name": "no"}),
        client.put(f"/api/brand/{kit['id']}/assets/logo", content=picture("PNG"),
                   headers={**viewer, "Content-Type": "image/png"}),
        client.delete(f"/api/brand/{kit['id']}/assets/logo", headers=viewer),
        client.delete(f"/api/brand/{kit['id']}", headers=viewer),
    ):
        assert_error(resp, 403, "FORBIDDEN_ROLE")
    assert client.get(f"/api/brand/{kit['id']}", headers=owner.headers).json() == kit
    made = client.post("/api/brand", headers=editor, json={"name": "By an editor"})
    assert made.status_code == 201, made.text
    assert client.patch(f"/api/brand/{kit['id']}", headers=editor,
                        json={"name": "Renamed"}).json()["name"] == "Renamed"  # fmt: skip


def test_another_workspaces_kit_is_not_found(client, owner, other, buckets):
    kit = make(client, owner, name="Mine")
    for resp in (
        client.get(f"/api/brand/{kit['id']}", headers=other.headers),
        client.patch(f"/api/brand/{kit['id']}", headers=other.headers, json={"name": "theirs"}),
        put(client, other, kit["id"], "logo", picture("PNG"), "image/png"),
        client.delete(f"/api/brand/{kit['id']}/assets/logo", headers=other.headers),
        client.delete(f"/api/brand/{kit['id']}", headers=other.headers),
    ):
        assert_error(resp, 404, "BRAND_KIT_NOT_FOUND")
    assert kit["id"] not in [k["id"] for k in
                             client.get("/api/brand", headers=other.headers).json()["data"]]
    assert client.get(f"/api/brand/{kit['id']}", headers=owner.headers).json() == kit
    assert list(buckets.media.list(f"{owner.workspace_id}/brand/{kit['id']}/")) == []


# --- assets ------------------------------------------------------------------------------
def test_assets_are_content_addressed_and_replaced_ones_deleted(client, owner, api_db,
                                                                buckets):  # fmt: skip
    kit = make(client, owner, name="Assets")
    media = buckets.media.scoped(owner.workspace_id)
    png, jpeg = picture("PNG"), picture("JPEG", "blue")

    def key(kind: str, data: bytes, ext: str) -> str:
        name = f"{kind}-{hashlib.sha256(data).hexdigest()}.{ext}"
        return object_key(owner.workspace_id, "brand", kit["id"], name)

    got = put(client, owner, kit["id"], "logo", png, "image/png")
    assert got.status_code == 200, got.text
    assert row(api_db, kit["id"]).logo_key == key("logo", png, "png")
    assert requests.get(got.json()["logo_url"], timeout=30).content == png
    again = put(client, owner, kit["id"], "logo", png, "image/png")  # the same bytes: kept
    assert again.status_code == 200
    assert media.head(key("logo", png, "png")) is not None

    replaced = put(client, owner, kit["id"], "logo", jpeg, "image/jpeg")
    assert replaced.status_code == 200, replaced.text
    assert row(api_db, kit["id"]).logo_key == key("logo", jpeg, "jpg")
    assert media.head(key("logo", png, "png")) is None  # the old logo is gone
    assert media.head(key("logo", jpeg, "jpg")) is not None

    font = open(FONT, "rb").read()  # noqa: SIM115 (a small file, read once)
    fonted = put(client, owner, kit["id"], "font", font, "font/ttf",
                 **{"Content-Disposition": 'attachment; filename="DejaVuSans.ttf"'})
    assert fonted.status_code == 200, fonted.text
    assert fonted.json()["font_name"] == "DejaVuSans.ttf"
    webp = picture("WEBP", "green")
    bg = put(client, owner, kit["id"], "background", webp, "image/webp")
    assert bg.status_code == 200, bg.text
    assert bg.json()["background_url"]

    off = client.delete(f"/api/brand/{kit['id']}/assets/font", headers=owner.headers)
    assert off.status_code == 200
    assert off.json()["font_name"] is None
    assert media.head(key("font", font, "ttf")) is None
    keys = sorted(o.key for o in buckets.media.list(f"{owner.workspace_id}/brand/{kit['id']}/"))
    assert keys == sorted([key("logo", jpeg, "jpg"), key("background", webp, "webp")])

    assert client.delete(f"/api/brand/{kit['id']}", headers=owner.headers).status_code == 204
    assert list(buckets.media.list(f"{owner.workspace_id}/brand/{kit['id']}/")) == []


# --- kits in jobs and re-renders -----------------------------------------------------------
def test_intro_and_outro_resolve_to_their_sources_keys(client, owner, api_db, source_id):
    kit = make(client, owner, name="Bookends", intro_source_id=source_id,
               outro_source_id=source_id)  # fmt: skip
    assert (kit["intro_source_id"], kit["outro_source_id"]) == (source_id, source_id)
    with api_db.session() as s:
        found, intro, outro = brand_for(s, owner.workspace_id, kit["id"])
        stored = s.get(Source, source_id).storage_key
    assert (found.id, found.name, intro, outro) == (kit["id"], "Bookends", stored, stored)


def test_a_jobs_brand_kit_must_be_the_workspaces(client, owner, other, api_db, source_id):
    kit = make(client, owner, name="For jobs")
    theirs = make(client, other, name="Theirs")

    def jobs() -> int:
        with api_db.session() as s:
            return s.query(Job).filter(Job.workspace_id == owner.workspace_id).count()

    before = jobs()
    for kit_id in (MISSING, theirs["id"]):
        resp = client.post("/api/jobs", headers=owner.headers,
                           json={"source_id": source_id, "settings": {"brand_kit_id": kit_id}})
        assert_error(resp, 404, "BRAND_KIT_NOT_FOUND")
    assert jobs() == before
    ok = client.post("/api/jobs", headers=owner.headers,
                     json={"source_id": source_id, "settings": {"brand_kit_id": kit["id"]}})
    assert ok.status_code == 201, ok.text
    job = client.get(f"/api/jobs/{ok.json()['id']}", headers=owner.headers).json()
    assert job["settings"]["brand_kit_id"] == kit["id"]


def test_a_rerender_takes_a_kit_takes_it_off_or_keeps_the_clips(client, owner, api_db,
                                                                 source_id):  # fmt: skip
    kit = make(client, owner, name="Rerender")
    with api_db.session() as s:
        clip = Clip(workspace_id=owner.workspace_id, source_id=source_id, moment_id="m" * 32,
                    status=ClipStatus.RENDERED, start_s=0.0, end_s=5.0, score=0.5, title="t",
                    render_spec=RenderSpec(source_id, 0.0, 5.0).to_json(),
                    spec_hash="b" * 64)  # fmt: skip
        s.add(clip)
        s.flush()
        clip_id = clip.id
    url = f"/api/clips/{clip_id}/rerender"
    assert_error(client.post(url, headers=owner.headers, json={"brand_kit_id": MISSING}), 404,
                 "BRAND_KIT_NOT_FOUND")  # fmt: skip
    assert_error(client.post(url, headers=owner.headers, json={"brand_kit_id": 7}), 422,
                 "VALIDATION_ERROR")  # fmt: skip
    # A known kit, "" and null pass the brand and reach the moment's analysis (none here:
    # the analysis and the render are tests/services/test_rerender.py's).
    for value in (kit["id"], "", None):
        assert_error(client.post(url, headers=owner.headers, json={"brand_kit_id": value}), 409,
                     "ANALYSIS_MISSING")  # fmt: skip
