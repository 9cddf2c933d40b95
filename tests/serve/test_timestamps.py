"""Every time the API serves carries a UTC offset and reads the same on every call.

The OpenAPI schema says which fields are ``date-time``; the test walks each response
against its schema, so a field added later is checked without naming it here. Plain
FastAPI app, real SQLite, real S3, real ffprobe (the PostgreSQL side of the column type is
in tests/storage/test_coltypes.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clipray.domain.publications import ClipKind, PublicationStatus
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.app import create_api
from clipray.storage.orm import Clip, ClipStatus, Job, JobStep, Publication, StepStatus, utcnow
from tests.apiclient import Account, register, upload_with_cover
from tests.publish.rows import account as connected_account
from tests.serve.test_generated_clips import make as make_generated

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
)  # the offset is not optional
TIMED_FIELDS = {
    "created_at",
    "started_at",
    "finished_at",
    "kept_at",
    "expires_at",
    "reviewed_at",
    "last_used_at",
}

OWNER = "owner-times@example.com"


@pytest.fixture(scope="module")
def client(api_settings):
    """The API with one platform configured, so that its consent route answers too (it
    builds the consent URL itself: no call reaches the platform)."""
    from cryptography.fernet import Fernet
    from pydantic import SecretStr

    youtube = PlatformSettings(client_id="cid", client_secret=SecretStr("secret"),
                               auth_url="https://accounts.example/o/oauth2/auth")  # fmt: skip
    settings = api_settings.model_copy(update={
        "publish": PublishSettings(youtube=youtube),
        "fernet_keys": SecretStr(Fernet.generate_key().decode()),
        "url_allow_private": True,  # the webhook subscriber is on loopback
        "install_owners": (OWNER,),  # the installation's administration answers too
    })  # fmt: skip
    with TestClient(create_api(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client) -> dict[str, Any]:
    return client.get("/openapi.json").json()


@pytest.fixture(scope="module")
def store(api_settings, s3_server):
    from clipray.storage.objects import open_buckets

    return open_buckets(s3_server, api_settings).generated


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _fits(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    kind = _resolve(spec, schema).get("type")
    json_type = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        type(None): "null",
        int: "integer",
        float: "number",
    }[type(value)]
    return kind is None or kind == json_type or (kind == "number" and json_type == "integer")


def date_times(
    spec: dict[str, Any], schema: dict[str, Any], value: Any, path: str = ""
) -> list[tuple[str, Any]]:
    """``(path, value)`` of every non-null value the schema declares ``date-time``."""
    schema = _resolve(spec, schema)
    if value is None:
        return []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _fits(spec, o, value)]
            return date_times(spec, options[0], value, path) if options else []
    if schema.get("format") == "date-time":
        return [(path, value)]
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found += date_times(spec, sub, value[name], f"{path}.{name}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += date_times(spec, schema["items"], item, f"{path}[{i}]")
    return found


def timed_operations(spec: dict[str, Any]) -> set[str]:
    """``METHOD /path`` of every operation whose success answer can hold a date-time."""

    def holds(schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return name not in seen and holds(spec["components"]["schemas"][name], seen | {name})
        if schema.get("format") == "date-time":
            return True
        subs = [
            *schema.get("properties", {}).values(),
            *schema.get("anyOf", []),
            *schema.get("oneOf", []),
        ]
        if "items" in schema:
            subs.append(schema["items"])
        return any(holds(s, seen) for s in subs)

    out = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status, resp in op.get("responses", {}).items():
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema and holds(schema):
                    out.add(f"{method.upper()} {path}")
    return out


class Walker:
    """Calls the API, checks every date-time of each answer, remembers them by record."""

    def __init__(self, client: TestClient, spec: dict[str, Any], acct: Account) -> None:
        self.client, self.spec, self.acct = client, spec, acct
        self.seen: dict[str, list[tuple[str, str]]] = {}
        self.fields: set[str] = set()
        self.operations: set[str] = set()

    def call(self, method: str, template: str, **params: Any) -> Any:
        body = params.pop("json", None)
        headers = {**self.acct.headers, **params.pop("headers", {})}
        path = template.format(**params)
        resp = self.client.request(method, path, headers=headers, json=body)
        assert resp.status_code < 300, f"{method} {path}: {resp.text}"
        op = self.spec["paths"][template][method.lower()]
        schema = op["responses"][str(resp.status_code)]["content"]["application/json"]["schema"]
        found = date_times(self.spec, schema, resp.json())
        for where, value in found:
            assert isinstance(value, str), (method, path, where, value)
            assert RFC3339.match(value), f"{method} {path}{where}: {value!r} has no offset"
            assert datetime.fromisoformat(value).utcoffset() is not None
            self.fields.add(where.rsplit(".", 1)[-1])
        self.seen[f"{method} {path}"] = found
        self.operations.add(f"{method} {template}")
        return resp.json()

    def twice(self, template: str, **params: Any) -> Any:
        """GET twice: the same instants read back as the same text."""
        first = self.call("GET", template, **params)
        key = f"GET {template.format(**params)}"
        before = self.seen[key]
        self.call("GET", template, **params)
        assert self.seen[key] == before
        return first


def _values(items: list[tuple[str, str]], field: str) -> list[str]:
    return [v for where, v in items if where.endswith(f".{field}")]


def walk_stream_clips_and_health(w: Walker, api_db, store) -> None:
    """A live stream with a clip (recorded by the stream clips' repository, as the clip
    service records one) and its worker's health report: both routes walked."""
    from clipray.domain.enums import GeneratedKind
    from clipray.domain.streams import StreamHealth
    from clipray.services import stream_health
    from clipray.storage import streams as monitors
    from clipray.storage.generated import Generation
    from clipray.storage.keys import object_key
    from clipray.storage.orm import new_id
    from clipray.storage.stream_clips import StreamClipRepo, StreamWindow

    ws = w.acct.workspace_id
    sid = w.call("POST", "/api/streams", json={"url": "rtmp-push"})["id"]
    holder = f"times-{sid}"
    with api_db.session() as s:
        assert sid in monitors.claim_runnable(s, holder, utcnow(), ttl_s=60, limit=1000)
    assert stream_health.record(api_db, sid, holder, StreamHealth(
        utcnow(), 30.0, 30.0, 4096, 1.0, 3.0))  # fmt: skip
    gen_id = new_id()
    key = object_key(ws, "clips", gen_id, "clip.mp4")
    store.scoped(ws).put_bytes(key, b"\0" * 64, "video/mp4")
    with api_db.session() as s:
        monitors.release_claims(s, holder)
        window = StreamWindow(sid, f"{sid}:10-20", 10.0, 20.0, utcnow() - timedelta(seconds=25),
                              utcnow() - timedelta(seconds=15),
                              [{"score": 0.6}, {"kind": "energy", "t_start": 12.0,
                                                "t_end": 13.0, "strength": 0.9}])  # fmt: skip
        StreamClipRepo(s, ws).record(gen_id, Generation(window.window_key, None, key, 64, 10.0,
                                                        "Live moment", GeneratedKind.STREAM),
                                     window, utcnow(), 7.0, 1000)  # fmt: skip
    clips = w.twice("/api/streams/{stream_id}/clips", stream_id=sid)["data"]
    assert [c["id"] for c in clips] == [gen_id]
    seen = w.seen[f"GET /api/streams/{sid}/clips"]
    for field in ("received_start", "received_end", "available_at", "expires_at"):
        assert _values(seen, field), field
    w.twice("/api/streams/{stream_id}/health", stream_id=sid)
    assert _values(w.seen[f"GET /api/streams/{sid}/health"], "measured_at")
    w.call("DELETE", "/api/streams/{stream_id}", stream_id=sid)


def test_every_date_time_has_an_offset_and_reads_the_same_on_every_call(
    client, spec, api_db, store, short_talk
):
    acct = register(client, "times")
    w = Walker(client, spec, acct)
    sid = upload_with_cover(client, acct, short_talk, api_db, 400, "25/1", [200])

    # a job, with a step that ran, and one of its clips
    job_id = w.call("POST", "/api/jobs", json={"source_id": sid})["id"]
    with api_db.session() as s:
        job = s.get(Job, job_id)
        job.started_at = utcnow() - timedelta(seconds=30)
        s.add(
            JobStep(
                job_id=job_id,
                name="analyze",
                status=StepStatus.SUCCEEDED,
                started_at=utcnow() - timedelta(seconds=20),
                finished_at=utcnow(),
            )
        )
        clip = Clip(
            workspace_id=acct.workspace_id,
            source_id=sid,
            job_id=job_id,
            moment_id="c" * 32,
            status=ClipStatus.PENDING,
            start_s=1.0,
            end_s=9.0,
            score=0.5,
            title="a moment",
            render_spec={},
            spec_hash="d" * 64,
        )
        s.add(clip)
        s.flush()
        clip_id = clip.id
    listed = w.twice("/api/jobs")
    detail = w.twice("/api/jobs/{job_id}", job_id=job_id)
    assert [j["created_at"] for j in listed["data"] if j["id"] == job_id] == [detail["created_at"]]
    assert _values(w.seen[f"GET /api/jobs/{job_id}"], "finished_at")

    w.twice("/api/clips")
    w.twice("/api/clips/{clip_id}", clip_id=clip_id)
    w.call("PATCH", "/api/clips/{clip_id}", clip_id=clip_id, json={"title": "renamed"})
    w.twice("/api/clips/{clip_id}/versions", clip_id=clip_id)

    # sources, their clips, cuts and groups
    w.twice("/api/sources")
    source = w.twice("/api/sources/{source_id}", source_id=sid)
    page = w.seen["GET /api/sources"]
    assert source["created_at"] in _values(page, "created_at")
    # the source as B-roll in the workspace's library
    item = w.call("POST", "/api/library",
                  json={"source_id": sid, "kind": "broll", "tags": ["talk"]})  # fmt: skip
    assert [i["created_at"] for i in w.twice("/api/library")["data"]] == [item["created_at"]]
    cover = w.twice("/api/sources/{source_id}/clips", source_id=sid)
    vid = cover["clips"][0]["id"]
    reviewed = w.call(
        "PATCH",
        "/api/sources/{source_id}/clips/{clip_id}",
        source_id=sid,
        clip_id=vid,
        json={"review": "skipped"},
    )["reviewed_at"]
    assert (
        w.twice("/api/sources/{source_id}/clips/{clip_id}", source_id=sid, clip_id=vid)[
            "reviewed_at"
        ]
        == reviewed
    )
    w.call("POST", "/api/sources/{source_id}/cuts", source_id=sid, json={"frame": 100})
    w.twice("/api/sources/{source_id}/cuts/history", source_id=sid)
    group = w.call(
        "POST",
        "/api/sources/{source_id}/groups",
        source_id=sid,
        json={"name": "best", "hashtags": ["talk"]},
    )
    w.call(
        "PATCH",
        "/api/sources/{source_id}/groups/{group_id}",
        source_id=sid,
        group_id=group["id"],
        json={"title": "The best"},
    )
    assert [g["created_at"] for g in w.twice("/api/sources/{source_id}/groups", source_id=sid)] == [
        group["created_at"]
    ]

    # generated clips: kept_at reads the same from the keep call and from a later GET
    gid = make_generated(api_db, store, acct)
    w.twice("/api/generated-clips")
    assert w.twice("/api/generated-clips/{generated_id}", generated_id=gid)["expires_at"]
    kept = w.call("POST", "/api/generated-clips/{generated_id}/keep", generated_id=gid)["kept_at"]
    assert w.twice("/api/generated-clips/{generated_id}", generated_id=gid)["kept_at"] == kept

    # a highlight reel (queued: no runner here) and API tokens
    reel = w.call(
        "POST",
        "/api/highlights/export",
        json={"moments": [{"source_id": sid, "start": 1.0, "end": 3.0}]},
    )
    assert (
        w.twice("/api/highlights/jobs/{reel_id}", reel_id=reel["id"])["created_at"]
        == reel["created_at"]
    )
    listed = w.twice("/api/highlights")["data"]
    assert [r["created_at"] for r in listed if r["id"] == reel["id"]] == [reel["created_at"]]
    made = w.call("POST", "/api/tokens", json={"name": "ci", "scopes": ["read"]})
    w.client.get("/api/jobs", headers={"Authorization": f"Bearer {made['token']}"})
    tokens = w.twice("/api/tokens")
    assert [t["last_used_at"] is not None for t in tokens if t["id"] == made["id"]] == [True]

    # connected accounts, a consent on its way, the audit log, webhook subscriptions
    consent = w.call("GET", "/api/auth/{platform}/login", platform="youtube",
                     headers={"Accept": "application/json"})  # fmt: skip
    expires = datetime.fromisoformat(consent["expires_at"])
    assert timedelta(minutes=5) < expires - utcnow() <= timedelta(minutes=10)
    w.twice("/api/auth/accounts")
    logged = w.twice("/api/audit")["data"]
    assert {r["action"] for r in logged} >= {"job.created", "cut.edited", "clip.kept"}
    hook = w.call("POST", "/api/webhooks/subscribe",
                  json={"url": "http://127.0.0.1:9/hook", "events": ["clip.ready"]})  # fmt: skip
    assert [h["created_at"] for h in w.twice("/api/webhooks/subscriptions")["data"]] == [
        hook["created_at"]]
    w.twice("/api/webhooks/subscriptions/{subscription_id}/deliveries",
            subscription_id=hook["id"])  # fmt: skip

    # a live stream monitor (push ingest: no source URL to check), stopped
    stream = w.call("POST", "/api/streams", json={"url": "rtmp-push"})
    shown = w.twice("/api/streams/{stream_id}", stream_id=stream["id"])
    assert [m["created_at"] for m in w.twice("/api/streams")["data"]] == [shown["created_at"]]
    stopped = w.call("DELETE", "/api/streams/{stream_id}", stream_id=stream["id"])["stopped_at"]
    assert w.twice("/api/streams/{stream_id}", stream_id=stream["id"])["stopped_at"] == stopped
    walk_stream_clips_and_health(w, api_db, store)
    # a scheduled publication of the kept clip: created, read alone, listed, on the calendar
    to = connected_account(api_db, acct.workspace_id, "youtube")
    at = (utcnow() + timedelta(days=1)).isoformat()
    pub = w.call("POST", "/api/publish/schedule",
                 json={"clip_ids": [gid], "account_ids": [to], "scheduled_at": at})["data"][0]
    got = w.twice("/api/publish/{publication_id}", publication_id=pub["id"])
    assert (got["scheduled_at"], got["created_at"]) == (pub["scheduled_at"], pub["created_at"])
    w.twice("/api/publish")
    days = w.twice("/api/publish/calendar")["days"]
    assert [p["scheduled_at"] for d in days for p in d["publications"]] == [pub["scheduled_at"]]

    # a published publication with its pulled stats (the publisher writes these rows)
    with api_db.session() as s:
        s.add(Publication(workspace_id=acct.workspace_id, clip_id=clip_id,
                          clip_kind=ClipKind.CLIP, platform="youtube",
                          status=PublicationStatus.PUBLISHED, meta={}, published_at=utcnow(),
                          stats={"views": 5, "likes": 1, "comments": 0}, stats_at=utcnow()))
    w.twice("/api/publish/analytics")
    assert _values(w.seen["GET /api/publish/analytics"], "stats_at")

    # the installation's administration: a global flag switched off, and its audit row
    password = "correct horse battery staple"
    reg = client.post("/api/auth/register", json={"email": OWNER, "password": password})
    assert reg.status_code == 201, reg.text
    tokens = client.post("/api/auth/login", json={"email": OWNER, "password": password}).json()
    admin = Walker(client, spec, Account(reg.json()["id"], OWNER, password,
                                         reg.json()["workspace_id"], tokens["access_token"],
                                         tokens["refresh_token"]))  # fmt: skip
    admin.call("PATCH", "/api/admin/flags", json={"name": "publish.tiktok", "enabled": False})
    assert _values(admin.seen["PATCH /api/admin/flags"], "updated_at")
    admin.twice("/api/admin/flags")
    admin.twice("/api/admin/audit")
    assert _values(admin.seen["GET /api/admin/audit"], "at")
    w.operations |= admin.operations
    w.fields |= admin.fields

    # a brand kit, changed after it was made
    kit = w.call("POST", "/api/brand", json={"name": "Main"})
    changed = w.call("PATCH", "/api/brand/{kit_id}", kit_id=kit["id"], json={"logo_size": 0.2})
    shown = w.twice("/api/brand/{kit_id}", kit_id=kit["id"])
    assert (shown["created_at"], shown["updated_at"]) == (kit["created_at"], changed["updated_at"])
    assert [k["updated_at"] for k in w.twice("/api/brand")["data"]] == [changed["updated_at"]]

    # the walk reached every kind of time, and every operation that reads one
    assert w.fields >= TIMED_FIELDS
    reads = {op for op in timed_operations(spec) if op.startswith("GET ")}
    assert reads - w.operations == set()
