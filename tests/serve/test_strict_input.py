"""Bounded, strict input (plain FastAPI app, real SQLite, S3 and ffprobe): each refusal
answers the one error shape with its code and the failing fields, and changes nothing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clipray.serve.app import create_api
from tests.apiclient import Account, register, upload_with_cover
from tests.serve.test_api import assert_error

MiB = 1024**2


@pytest.fixture(scope="module")
def acct(client) -> Account:
    return register(client, "strict")


@pytest.fixture(scope="module")
def source_id(client, acct, short_talk, api_db) -> str:
    return upload_with_cover(client, acct, short_talk, api_db, 400, "25/1", [200])


def refused(resp, *loc: str) -> list[dict]:
    """A 422 ``VALIDATION_ERROR`` naming the field at ``loc`` among its failing fields."""
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    fields = err["detail"]
    assert list(loc) in [f["loc"] for f in fields], fields
    return fields


def _groups(client, acct, sid) -> list[dict]:
    resp = client.get(f"/api/sources/{sid}/groups", headers=acct.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- the inputs of the issue, one test each ----------------------------------------------
def test_a_group_with_thirty_one_mebibyte_hashtags_is_too_large(client, acct, source_id):
    """30 MiB of hashtags: refused by its Content-Length under the default 1 MiB limit,
    before a byte is parsed; and 30 hashtags over the per-hashtag length, small enough to
    pass the body limit, are refused field by field."""
    body = {"name": "huge", "hashtags": ["x" * MiB] * 30}
    resp = client.post(f"/api/sources/{source_id}/groups", headers=acct.headers, json=body)
    err = assert_error(resp, 413, "PAYLOAD_TOO_LARGE")
    assert err["detail"] == {"limit": MiB}
    long_tags = {"name": "long", "hashtags": ["y" * 101] * 30}
    fields = refused(
        client.post(f"/api/sources/{source_id}/groups", headers=acct.headers, json=long_tags),
        "body", "hashtags", "0",
    )  # fmt: skip
    assert len(fields) == 30
    too_many = {"name": "many", "hashtags": ["z"] * 31}
    refused(client.post(f"/api/sources/{source_id}/groups", headers=acct.headers,
                        json=too_many), "body", "hashtags")  # fmt: skip
    assert _groups(client, acct, source_id) == []


def test_a_boolean_is_not_a_number_of_clips(client, acct, source_id):
    before = client.get("/api/jobs", headers=acct.headers).json()["total"]
    body = {"source_id": source_id, "settings": {"max_clips": True}}
    fields = refused(client.post("/api/jobs", headers=acct.headers, json=body),
                     "body", "settings", "max_clips")  # fmt: skip
    assert fields[0]["type"] == "int_type"
    assert client.get("/api/jobs", headers=acct.headers).json()["total"] == before


def test_a_string_is_not_a_frame(client, acct, source_id):
    cuts = client.get(f"/api/sources/{source_id}/cuts", headers=acct.headers).json()
    fields = refused(client.post(f"/api/sources/{source_id}/cuts", headers=acct.headers,
                                 json={"frame": "7"}), "body", "frame")  # fmt: skip
    assert fields[0]["type"] == "int_type"
    assert client.get(f"/api/sources/{source_id}/cuts", headers=acct.headers).json() == cuts


def test_an_unknown_filter_on_sources_is_refused(client, acct):
    fields = refused(client.get("/api/sources?status=nope", headers=acct.headers),
                     "query", "status")  # fmt: skip
    assert fields[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("char", "name"),
    [
        pytest.param("\x1b", "ESC", id="esc"),
        pytest.param("\x07", "BEL", id="bel"),
        pytest.param("\r\n", "CR", id="crlf"),
        pytest.param("\n", "LF", id="lf"),
        pytest.param("\x9b", "CSI", id="c1-csi"),
    ],
)
def test_control_characters_in_a_title_are_refused(client, acct, source_id, char, name):
    title = f"Best{char}[31m moment"
    cover = client.get(f"/api/sources/{source_id}/clips", headers=acct.headers).json()
    clip = cover["clips"][0]
    fields = refused(client.patch(f"/api/sources/{source_id}/clips/{clip['id']}",
                                  headers=acct.headers, json={"title": title}),
                     "body", "title")  # fmt: skip
    assert fields[0]["type"] == "control_character"
    assert f"U+{ord(char[0]):04X}" in fields[0]["msg"]
    after = client.get(f"/api/sources/{source_id}/clips/{clip['id']}", headers=acct.headers)
    assert after.json()["title"] == clip["title"]
    refused(client.post(f"/api/sources/{source_id}/groups", headers=acct.headers,
                        json={"name": "g", "title": title}), "body", "title")  # fmt: skip
    refused(client.post(f"/api/sources/{source_id}/groups", headers=acct.headers,
                        json={"name": "g", "hashtags": ["ok", f"tag{char}"]}),
            "body", "hashtags", "1")  # fmt: skip
    assert _groups(client, acct, source_id) == []


# --- the rules behind them ---------------------------------------------------------------
def test_a_description_keeps_its_lines_but_no_other_control_character(client, acct, source_id):
    url = f"/api/sources/{source_id}/groups"
    refused(client.post(url, headers=acct.headers, json={"name": "d", "description": "a\x1bb"}),
            "body", "description")  # fmt: skip
    made = client.post(url, headers=acct.headers,
                       json={"name": "d", "description": "line one\n\tline two"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["description"] == "line one\n\tline two"
    gone = client.patch(f"{url}/{made.json()['id']}", headers=acct.headers, json={"name": "e"})
    assert gone.status_code == 200, gone.text


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        pytest.param("/api/jobs", {"source_id": "x", "sttings": {}}, ["body", "sttings"],
                     id="unknown-field"),
        pytest.param("/api/jobs", {"source_id": 7}, ["body", "source_id"], id="number-as-id"),
        pytest.param("/api/upload/presign", {"filename": "a.mp4", "content_type": "video/mp4",
                                             "size": "12"}, ["body", "size"],
                     id="string-as-size"),
        pytest.param("/api/search", {"query": "x", "limit": 1.5}, ["body", "limit"],
                     id="float-as-int"),
        pytest.param("/api/highlights/export",
                     {"moments": [{"source_id": "s", "start": 0, "end": 1}] * 501},
                     ["body", "moments"], id="too-many-moments"),
        pytest.param("/api/clips/delete", {"ids": ["a" * 33]}, ["body", "ids", "0"],
                     id="long-id"),
        pytest.param("/api/tokens", {"name": "t", "scopes": ["r" * 51]},
                     ["body", "scopes", "0"], id="long-scope"),
    ],
)  # fmt: skip
def test_strict_bounded_bodies(client, acct, path, body, loc):
    refused(client.post(path, headers=acct.headers, json=body), *loc)


def test_nan_and_infinity_are_not_numbers(client, acct):
    raw = '{"moments": [{"source_id": "s", "start": NaN, "end": Infinity}]}'
    headers = {**acct.headers, "Content-Type": "application/json"}
    fields = refused(client.post("/api/highlights/export", headers=headers, content=raw),
                     "body", "moments", "0", "start")  # fmt: skip
    assert ["body", "moments", "0", "end"] in [f["loc"] for f in fields]


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        pytest.param("/api/clips?status=nope", ["query", "status"], id="clips-status"),
        pytest.param("/api/jobs?status=nope", ["query", "status"], id="jobs-status"),
        pytest.param("/api/generated-clips?status=nope", ["query", "status"],
                     id="generated-status"),
        pytest.param("/api/jobs?pge=2", ["query", "pge"], id="misspelt-page"),
        pytest.param("/api/auth/me?debug=1", ["query", "debug"], id="no-query-at-all"),
    ],
)  # fmt: skip
def test_unknown_query_parameters_and_filter_values(client, acct, path, loc):
    refused(client.get(path, headers=acct.headers), *loc)


def test_declared_query_parameters_still_work(client, acct):
    resp = client.get("/api/jobs?status=created&page=1&limit=5", headers=acct.headers)
    assert resp.status_code == 200, resp.text


# --- the body limit ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(api_settings):
    """An app whose body limit is 2 KiB (``CLIPRAY_MAX_REQUEST_BYTES``)."""
    with TestClient(create_api(api_settings.model_copy(update={"max_request_bytes": 2048}))
                    ) as c:  # fmt: skip
        yield c


def _search_body(size: int) -> bytes:
    """A search request of exactly ``size`` bytes."""
    head = json.dumps({"query": "x", "mode": "transcript"}).encode()
    return head[:-1] + b', "source_id": "' + b"a" * (size - len(head) - 17) + b'"}'


def test_the_limit_is_checked_on_content_length_and_on_a_streamed_body(small, client):
    acct = register(small, "limits")
    headers = {**acct.headers, "Content-Type": "application/json"}
    at_limit = small.post("/api/search", headers=headers, content=_search_body(2048))
    assert at_limit.status_code != 413
    assert_error(small.post("/api/search", headers=headers, content=_search_body(2049)), 413,
                 "PAYLOAD_TOO_LARGE")  # fmt: skip

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        yield b'{"query": "'
        for _ in range(8):
            yield b"a" * 512
        yield b'"}'

    assert_error(small.post("/api/search", headers=headers, content=chunks()), 413,
                 "PAYLOAD_TOO_LARGE")  # fmt: skip
    # before authentication too: an anonymous flood is not parsed either
    assert_error(small.post("/api/auth/login", content=b"{" + b" " * 4096 + b"}",
                            headers={"Content-Type": "application/json"}), 413,
                 "PAYLOAD_TOO_LARGE")  # fmt: skip


def _drive(limit: int, messages: list[dict]) -> tuple[list[dict], list[dict]]:
    """Run one ASGI request through the body limit in front of an app that reads its whole
    body and one more message (a disconnect): what the app received, what was sent."""
    import asyncio

    from clipray.serve.limits import BodyLimitMiddleware

    inbox, received, sent = list(messages), [], []

    async def receive() -> dict:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope, receive, send) -> None:
        while True:
            message = await receive()
            received.append(message)
            if not message.get("more_body"):
                break
        received.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [], "query_string": b"",
             "state": {"trace_id": "t1"}}  # fmt: skip
    asyncio.run(BodyLimitMiddleware(app, lambda: limit)(scope, receive, send))
    return received, sent


def test_a_chunked_body_is_counted_as_it_streams_and_handed_on_whole():
    parts = [{"type": "http.request", "body": b"abcd", "more_body": True},
             {"type": "http.request", "body": b"efgh", "more_body": False}]  # fmt: skip
    got, sent = _drive(8, parts)
    assert got == [{"type": "http.request", "body": b"abcdefgh", "more_body": False},
                   {"type": "http.disconnect"}]  # fmt: skip
    assert sent[0]["status"] == 204

    got, sent = _drive(7, parts)
    assert got == []  # the app never ran
    assert sent[0]["status"] == 413
    body = json.loads(sent[1]["body"])
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert body["error"]["trace_id"] == "t1"
