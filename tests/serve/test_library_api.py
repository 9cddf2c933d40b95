"""The workspace library over HTTP (the plain FastAPI app, real SQLite and S3, no Ray):
adding sources as B-roll or sound effects, listing, retagging and removing them, every
refusal with its code, who may do what, and one workspace never seeing another's items.

Sources are written behind the API as ingest records them (what ffprobe found), so each
kind of source (video, sound only, long, short) exists without running an upload."""

from __future__ import annotations

import uuid

import pytest

from clipray.storage.orm import LibraryItem, Source, SourceOrigin
from tests.apiclient import Account, register
from tests.serve.test_api import assert_error

pytestmark = pytest.mark.integration


def _source(db, acct: Account, name: str, duration: float, video: bool = True,
            audio: bool = True) -> str:  # fmt: skip
    """A source as ingest records it (``video``: a video stream, ``audio``: a sound one)."""
    with db.session() as s:
        src = Source(workspace_id=acct.workspace_id, origin=SourceOrigin.UPLOAD,
                     origin_uri=f"{name}.mp4" if video else f"{name}.wav",
                     storage_key=f"{acct.workspace_id}/sources/{uuid.uuid4().hex}/{name}",
                     sha256=uuid.uuid4().hex * 2, size_bytes=100_000, duration_s=duration,
                     width=1920 if video else None, height=1080 if video else None,
                     video_codec="h264" if video else None,
                     audio_codec="aac" if audio else None)  # fmt: skip
        s.add(src)
        s.flush()
        return src.id


@pytest.fixture(scope="module")
def owner(client) -> Account:
    return register(client, "librarian")


@pytest.fixture(scope="module")
def sources(owner, api_db) -> dict[str, str]:
    return {
        "city": _source(api_db, owner, "city_night-drone", 12.0),
        "whoosh": _source(api_db, owner, "whoosh", 1.2, video=False),
        "podcast": _source(api_db, owner, "episode", 640.0, video=False),
        "flash": _source(api_db, owner, "flash", 1.0),
        "mute": _source(api_db, owner, "mute", 8.0, audio=False),
    }  # fmt: skip


def _add(client, acct, source_id, kind, tags, headers=None):
    return client.post("/api/library", headers=headers or acct.headers,
                       json={"source_id": source_id, "kind": kind, "tags": tags})  # fmt: skip


def test_add_list_retag_and_remove(client, owner, sources, api_db):
    made = _add(client, owner, sources["city"], "broll", ["City", "night", "city", "drone"])
    assert made.status_code == 201, made.text
    item = made.json()
    assert set(item) == {"id", "source_id", "kind", "tags", "title", "duration_s", "created_at"}
    assert (item["source_id"], item["kind"], item["tags"]) == (sources["city"], "broll",
                                                             ["city", "night", "drone"])
    assert (item["title"], item["duration_s"]) == ("city_night-drone", 12.0)
    sound = _add(client, owner, sources["whoosh"], "sfx", ["whoosh", "fast"])
    assert sound.status_code == 201, sound.text
    # a source may be both kinds, but 12 s of footage is too long to be a sound effect
    both = _add(client, owner, sources["city"], "sfx", ["traffic"])
    assert_error(both, 422, "LIBRARY_KIND_MISMATCH")
    everything = client.get("/api/library", headers=owner.headers).json()["data"]
    assert [i["id"] for i in everything] == [sound.json()["id"], item["id"]]  # newest first
    only = client.get("/api/library?kind=broll", headers=owner.headers).json()["data"]
    assert [i["id"] for i in only] == [item["id"]]
    changed = client.patch(f"/api/library/{item['id']}", headers=owner.headers,
                           json={"tags": ["Skyline", "lights"]})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["tags"] == ["skyline", "lights"]
    listed = client.get("/api/library?kind=broll", headers=owner.headers).json()["data"]
    assert listed[0]["tags"] == ["skyline", "lights"]
    gone = client.delete(f"/api/library/{item['id']}", headers=owner.headers)
    assert gone.status_code == 204
    assert client.get("/api/library?kind=broll", headers=owner.headers).json()["data"] == []
    # the source stays
    assert client.get(f"/api/sources/{sources['city']}", headers=owner.headers).status_code == 200
    again = _add(client, owner, sources["city"], "broll", ["city"])
    assert again.status_code == 201, again.text  # and can be added again


def test_every_refusal_has_its_code_and_writes_nothing(client, owner, sources, api_db):
    with api_db.session() as s:
        before = s.query(LibraryItem).filter_by(workspace_id=owner.workspace_id).count()
    assert_error(_add(client, owner, "0" * 32, "broll", ["x"]), 404, "SOURCE_NOT_FOUND")
    err = assert_error(_add(client, owner, sources["whoosh"], "broll", ["x"]), 422,
                       "LIBRARY_KIND_MISMATCH")  # fmt: skip
    assert "video stream" in err["message"]
    assert_error(_add(client, owner, sources["flash"], "broll", ["x"]), 422,
                 "LIBRARY_KIND_MISMATCH")  # fmt: skip
    err = assert_error(_add(client, owner, sources["podcast"], "sfx", ["x"]), 422,
                       "LIBRARY_KIND_MISMATCH")  # fmt: skip
    assert "10 s" in err["message"]
    assert_error(_add(client, owner, sources["mute"], "sfx", ["x"]), 422, "LIBRARY_KIND_MISMATCH")
    for tags in ([], ["a"] * 0 + [f"w{i}" for i in range(21)], ["two words"], ["x" * 33],
                 ["#hash"], [" "]):  # fmt: skip
        assert_error(_add(client, owner, sources["mute"], "broll", tags), 422,
                     "LIBRARY_TAGS_INVALID")  # fmt: skip
    bad_kind = _add(client, owner, sources["mute"], "music", ["x"])
    assert_error(bad_kind, 422, "VALIDATION_ERROR")
    assert_error(client.get("/api/library?kind=music", headers=owner.headers), 422,
                 "VALIDATION_ERROR")  # fmt: skip
    first = _add(client, owner, sources["mute"], "broll", ["silent"])
    assert first.status_code == 201, first.text
    assert_error(_add(client, owner, sources["mute"], "broll", ["again"]), 409,
                 "LIBRARY_ITEM_EXISTS")  # fmt: skip
    item_id = first.json()["id"]
    for resp in (client.patch(f"/api/library/{'0' * 32}", headers=owner.headers,
                              json={"tags": ["x"]}),
                 client.delete(f"/api/library/{'0' * 32}", headers=owner.headers),
                 client.delete("/api/library/not-an-id", headers=owner.headers)):  # fmt: skip
        assert_error(resp, 404, "LIBRARY_ITEM_NOT_FOUND")
    kept = client.patch(f"/api/library/{item_id}", headers=owner.headers, json={"tags": []})
    assert_error(kept, 422, "LIBRARY_TAGS_INVALID")
    unknown = client.patch(f"/api/library/{item_id}", headers=owner.headers,
                           json={"tags": ["x"], "kind": "sfx"})  # fmt: skip
    assert_error(unknown, 422, "VALIDATION_ERROR")
    listed = client.get("/api/library?kind=broll", headers=owner.headers).json()["data"]
    assert [i["tags"] for i in listed if i["id"] == item_id] == [["silent"]]
    with api_db.session() as s:
        after = s.query(LibraryItem).filter_by(workspace_id=owner.workspace_id).count()
    assert after == before + 1  # only the one accepted


def test_viewers_read_and_editors_write(client, owner, sources):
    made = _add(client, owner, sources["whoosh"], "broll", ["x"])  # refused: no video
    assert made.status_code == 422
    headers = {}
    for role in ("viewer", "editor"):
        member = register(client, role)
        added = client.post(f"/api/workspaces/{owner.workspace_id}/members",
                            headers=owner.headers, json={"email": member.email, "role": role})
        assert added.status_code == 201, added.text
        headers[role] = {**member.headers, "X-Workspace-Id": owner.workspace_id}
    seen = client.get("/api/library", headers=headers["viewer"])
    assert seen.status_code == 200, seen.text
    item_id = seen.json()["data"][0]["id"]
    denied = [
        _add(client, owner, sources["whoosh"], "sfx", ["x"], headers=headers["viewer"]),
        client.patch(f"/api/library/{item_id}", headers=headers["viewer"], json={"tags": ["y"]}),
        client.delete(f"/api/library/{item_id}", headers=headers["viewer"]),
    ]  # fmt: skip
    for resp in denied:
        assert_error(resp, 403, "FORBIDDEN_ROLE")
    assert client.get("/api/library", headers=owner.headers).json()["data"] == seen.json()["data"]
    edited = client.patch(f"/api/library/{item_id}", headers=headers["editor"],
                          json={"tags": ["edited"]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["tags"] == ["edited"]


def test_a_workspace_never_sees_nor_touches_anothers_library(client, owner, sources):
    stranger = register(client, "stranger")
    assert client.get("/api/library", headers=stranger.headers).json() == {"data": []}
    mine = client.get("/api/library", headers=owner.headers).json()["data"]
    assert mine
    item_id = mine[0]["id"]
    theirs = [
        client.patch(f"/api/library/{item_id}", headers=stranger.headers, json={"tags": ["z"]}),
        client.delete(f"/api/library/{item_id}", headers=stranger.headers),
        _add(client, stranger, sources["city"], "broll", ["stolen"]),
    ]  # fmt: skip
    for resp in theirs:
        assert_error(resp, 403, "FORBIDDEN")
    assert client.get("/api/library", headers=owner.headers).json()["data"] == mine
    assert client.get("/api/library", headers=stranger.headers).json() == {"data": []}


def test_the_routes_are_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/library"]) == {"get", "post"}
    assert set(paths["/api/library/{item_id}"]) == {"patch", "delete"}
    post = paths["/api/library"]["post"]
    assert "LIBRARY_KIND_MISMATCH" in post["description"]
    assert post["tags"] == ["library"]


def test_deleting_the_source_takes_its_items_out_of_the_library(client, owner, api_db):
    sid = _source(api_db, owner, "goes-away", 6.0)
    made = _add(client, owner, sid, "broll", ["gone"])
    assert made.status_code == 201, made.text
    deleted = client.delete(f"/api/sources/{sid}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    ids = [i["id"] for i in client.get("/api/library", headers=owner.headers).json()["data"]]
    assert made.json()["id"] not in ids
    assert_error(client.delete(f"/api/library/{made.json()['id']}", headers=owner.headers), 404,
                 "LIBRARY_ITEM_NOT_FOUND")  # fmt: skip
