"""What the publication tests share: X's fake behind a script of planned answers (503, 429
with a retry time, a hang) served over TCP, settings pointing at it with a database and an
app-owned bucket of their own, a connected account made through the real OAuth flow, and
clips and publication rows inserted through the ORM.

    world = World.make(settings, s3_server, tmp_path_factory, ...)
    pub_id = world.publication(world.rendered_clip())
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from clipray.config import Settings
from clipray.domain.publications import ClipKind, PublicationStatus
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.serve.app import create_api
from clipray.services import connections
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets, S3Endpoint, open_buckets
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    GeneratedClip,
    GeneratedStatus,
    Publication,
    Source,
    SourceOrigin,
    new_id,
    utcnow,
)
from tests.apiclient import Account, register
from tests.publish.fake_x import FakeX
from tests.publish.harness import serve_fake

CLIP = Path("/work/shared/media/scene_cuts/pyscenedetect/testvideo.mp4")
SHARED_CLIP = (Path(__file__).resolve().parents[3]
               / "shared/media/scene_cuts/pyscenedetect/testvideo.mp4")
FERNET_KEY = "Tm8tb25lLXNob3VsZC11c2UtdGhpcy1rZXktZXZlci0="
INITIALIZE = "/2/media/upload/initialize"


def clip_file() -> Path:
    for candidate in (SHARED_CLIP, CLIP):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("the shared test media are not here (scene_cuts/pyscenedetect)")


class Scripted:
    """An ASGI wrapper that answers requests to ``path`` from a plan before the fake sees
    them: ``(status, headers)`` answers that status, ``"hang"`` holds the request until
    :attr:`release` is set (as a platform that stopped answering); an empty plan passes
    every request through."""

    def __init__(self, app: Any, path: str) -> None:
        self.app, self.path = app, path
        self.plan: list[tuple[int, dict[str, str]] | str] = []
        self.seen = 0
        """Requests to ``path`` so far."""
        self.hung = 0
        self.hanging = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        self.seen += 1
        if not self.plan:
            await self.app(scope, receive, send)
            return
        answer = self.plan.pop(0)
        if answer == "hang":
            self.hung += 1
            self.hanging.set()
            deadline = time.monotonic() + 300
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            answer = (503, {})
        assert isinstance(answer, tuple)
        status, headers = answer
        body = b'{"title": "scripted", "detail": "scripted answer", "status": %d}' % status
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]
                    + [(k.encode(), v.encode()) for k, v in headers.items()]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


@dataclass
class World:
    settings: Settings
    db: Database
    buckets: Buckets
    fake: FakeX
    script: Scripted
    owner: Account
    account_id: str
    subscribers: list[str] = field(default_factory=list)

    # --- rows ----------------------------------------------------------------------------
    def source(self) -> str:
        with self.db.session() as s:
            src = Source(workspace_id=self.owner.workspace_id, origin=SourceOrigin.UPLOAD,
                         storage_key="k", sha256=uuid.uuid4().hex, size_bytes=1,
                         duration_s=60.0)  # fmt: skip
            s.add(src)
            s.flush()
            return src.id

    def rendered_clip(self, title: str = "The launch", generated_id: str | None = None) -> str:
        """A rendered clip whose video (the shared test video) is on the app-owned bucket
        (``generated_id``'s object, as a render stores it, when given)."""
        ws = self.owner.workspace_id
        clip_id = new_id()
        key = object_key(ws, "clips", clip_id, "clip.mp4")
        if generated_id is None:
            self.buckets.generated.scoped(ws).put_file(key, clip_file(), "video/mp4")
        else:
            with self.db.session() as s:
                gen = s.get(GeneratedClip, generated_id)
                assert gen is not None
                key = gen.storage_key
        source_id = self.source()
        with self.db.session() as s:
            s.add(Clip(id=clip_id, workspace_id=ws, source_id=source_id, moment_id=new_id(),
                       status=ClipStatus.RENDERED, start_s=3.0, end_s=10.0, score=0.9,
                       title=title, description="What we shipped.", hashtags=["launch"],
                       spec_hash=uuid.uuid4().hex, video_key=key,
                       generated_clip_id=generated_id))  # fmt: skip
        return clip_id

    def generated_clip(self, expires_at: datetime | None, status: str = "available") -> str:
        ws = self.owner.workspace_id
        cand = new_id()
        key = object_key(ws, "clips", cand, "clip.mp4")
        self.buckets.generated.scoped(ws).put_file(key, clip_file(), "video/mp4")
        with self.db.session() as s:
            row = GeneratedClip(workspace_id=ws, candidate_id=cand, storage_key=key,
                                size_bytes=clip_file().stat().st_size, duration_s=7.0,
                                title="A reel", status=GeneratedStatus(status),
                                expires_at=expires_at)  # fmt: skip
            s.add(row)
            s.flush()
            return row.id

    def publication(self, clip_id: str, kind: ClipKind = ClipKind.CLIP, *,
                    not_before: datetime | None = None,
                    scheduled_at: datetime | None = None) -> str:  # fmt: skip
        at = not_before or scheduled_at or utcnow()
        with self.db.session() as s:
            row = Publication(
                workspace_id=self.owner.workspace_id, clip_id=clip_id, clip_kind=kind,
                account_id=self.account_id, platform="x",
                status=PublicationStatus.SCHEDULED if scheduled_at else PublicationStatus.PENDING,
                meta={"title": "Launch day", "hashtags": ["clipray"]},
                scheduled_at=scheduled_at, not_before=at, requested_by=self.owner.id,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return row.id

    def row(self, publication_id: str) -> Publication:
        with self.db.session() as s:
            row = s.get(Publication, publication_id)
            assert row is not None
            s.expunge(row)
            return row

    def wait_for(self, publication_id: str, statuses: set[PublicationStatus],
                 timeout_s: float = 180) -> Publication:  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            row = self.row(publication_id)
            if row.status in statuses:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"publication {publication_id} stayed {row.status} "
                                     f"(error {row.error_code}: {row.error}) for {timeout_s} s")
            time.sleep(0.2)


def x_settings(base: str, chunk_bytes: int, timeout_s: float) -> PublishSettings:
    return PublishSettings(x=PlatformSettings(
        client_id="xc", client_secret=SecretStr("xs"), auth_url=f"{base}/i/oauth2/authorize",
        token_url=f"{base}/2/oauth2/token", api_base=base, chunk_bytes=chunk_bytes,
        timeout_s=timeout_s))  # fmt: skip


@contextmanager
def make_world(settings: Settings, s3_server: S3Endpoint, tmp: Path,
               **overrides: Any) -> Iterator[World]:  # fmt: skip
    """X's fake served, settings of a database and a bucket of their own, a user with a
    connected X account."""
    fake = FakeX()
    script = Scripted(fake.app, INITIALIZE)
    with serve_fake(script) as base:
        url = f"sqlite:///{tmp / 'publish.db'}"
        migrate.upgrade(url)
        pset = settings.model_copy(update={
            "database_url": url, "generated_bucket": f"test-pub-{uuid.uuid4().hex[:8]}",
            "jwt_secret": SecretStr("test-secret-" + "x" * 40),
            "rate_limit_login_per_minute": 10_000, "rate_limit_register_per_hour": 10_000,
            "fernet_keys": SecretStr(FERNET_KEY),
            "publish": x_settings(base, 512 * 1024, 60.0), "publish_backoff_s": 2.0,
            **overrides,
        })  # fmt: skip
        buckets = open_buckets(s3_server, pset)
        buckets.ensure()
        db = Database(url)
        try:
            with TestClient(create_api(pset)) as client:
                owner = register(client, "publisher")
            account_id = connect_x(pset, db, owner)
            yield World(pset, db, buckets, fake, script, owner, account_id)
        finally:
            script.release.set()
            db.dispose()


def connect_x(settings: Settings, db: Database, owner: Account) -> str:
    """Connect the owner's X account through the real consent flow against the fake."""
    consent = connections.start(settings, db, owner.id, owner.workspace_id, "x",
                                "http://127.0.0.1:9/cb")  # fmt: skip
    back = httpx.get(consent.url, follow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    q = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    return connections.complete(settings, db, "x", q["state"], q["code"]).id
