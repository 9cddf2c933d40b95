"""What a publication needs, written behind the API (no platform is reached): connected
accounts, generated clips and rendered clips with their video on the app-owned bucket, and
settings that turn some platforms on.

    acct = account(db, ws_id, "youtube")
    gid = generated(db, store, ws_id)
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from clipray.config import Settings
from clipray.publish.base import PlatformSettings, PublishSettings
from clipray.storage.connections import ConnectedAccountRepo
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import ObjectStore
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    ConnectionStatus,
    GeneratedClip,
    GeneratedStatus,
    Source,
    SourceOrigin,
    new_id,
    utcnow,
)

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
"""A clip's bytes: only their presence on the bucket is checked before publishing."""
ON = ("youtube", "tiktok", "linkedin")
"""The platforms :func:`with_platforms` turns on; instagram and x stay off."""


def with_platforms(settings: Settings) -> Settings:
    """``settings`` with an OAuth client for each of :data:`ON` (nothing is called)."""
    block = PlatformSettings(client_id="test-client", client_secret=SecretStr("test-secret"))
    return settings.model_copy(update={"publish": PublishSettings(**dict.fromkeys(ON, block))})


def account(db: Database, workspace_id: str, platform: str = "youtube",
            status: ConnectionStatus = ConnectionStatus.ACTIVE) -> str:  # fmt: skip
    with db.session() as s:
        row = ConnectedAccountRepo(s).upsert(
            workspace_id, platform, f"{platform}-{new_id()[:10]}", name=f"{platform} channel",
            status=status, access_token_enc=None if status is ConnectionStatus.REVOKED
            else "sealed", key_version="test", scopes=[],
        )  # fmt: skip
        return row.id


def generated(db: Database, store: ObjectStore, workspace_id: str, *, title: str =
              "Why it matters", status: GeneratedStatus = GeneratedStatus.AVAILABLE,
              life: timedelta | None = timedelta(days=7), upload: bool = True) -> str:  # fmt: skip
    """A generated clip (its video put on the bucket unless ``upload`` is False)."""
    cand = new_id()
    key = object_key(workspace_id, "clips", cand, "clip.mp4")
    if upload:
        store.scoped(workspace_id).put_bytes(key, VIDEO, "video/mp4")
    with db.session() as s:
        row = GeneratedClip(workspace_id=workspace_id, candidate_id=cand, storage_key=key,
                            size_bytes=len(VIDEO), duration_s=12.0, title=title, status=status,
                            expires_at=utcnow() + life if life else None,
                            purged_at=utcnow() if status is GeneratedStatus.PURGED else None)
        s.add(row)
        s.flush()
        return row.id


def rendered(db: Database, store: ObjectStore, workspace_id: str, *,
             title: str = "A rendered moment", status: ClipStatus = ClipStatus.RENDERED,
             upload: bool = True) -> str:  # fmt: skip
    """A rendered clip of ``/api/clips`` on a source of its own."""
    clip_id = new_id()
    key = object_key(workspace_id, "clips", clip_id, "clip.mp4")
    if upload:
        store.scoped(workspace_id).put_bytes(key, VIDEO, "video/mp4")
    with db.session() as s:
        src = Source(workspace_id=workspace_id, origin=SourceOrigin.UPLOAD,
                     storage_key=f"{workspace_id}/sources/{new_id()}.mp4", sha256=new_id() * 2,
                     size_bytes=1000, duration_s=60.0)  # fmt: skip
        s.add(src)
        s.flush()
        s.add(Clip(id=clip_id, workspace_id=workspace_id, source_id=src.id, moment_id=new_id(),
                   status=status, start_s=0.0, end_s=12.0, score=0.9, title=title,
                   spec_hash=new_id() * 2,
                   video_key=key if status is ClipStatus.RENDERED else None))  # fmt: skip
        return clip_id
