"""Upload reservations on SQLite and PostgreSQL: concurrent presigns cannot overbook a
workspace's storage quota, and an expired reservation stops counting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from clipray.pipelines.ingest import (
    IngestContext,
    StorageQuotaError,
    check_storage_for,
    release_upload,
    reserve_upload,
)
from clipray.storage.keys import object_key
from clipray.storage.orm import Workspace, new_id, utcnow
from clipray.storage.repos import WorkspaceRepo
from clipray.storage.uploads import UploadRepo
from tests.conftest import at_once


@pytest.fixture
def ctx(migrated_db, buckets) -> IngestContext:
    with migrated_db.session() as s:
        ws = WorkspaceRepo(s).create(f"res-{uuid.uuid4().hex[:8]}")
        ws.max_storage_bytes = 1000
        workspace_id = ws.id
    return IngestContext(buckets, migrated_db, workspace_id)


def key(ctx: IngestContext) -> str:
    return object_key(ctx.workspace_id, "uploads", new_id(), "upload.mp4")


def test_concurrent_presigns_take_exactly_what_fits(ctx):
    def presign() -> str:
        try:
            reserve_upload(ctx, key(ctx), 300, utcnow() + timedelta(hours=1))
        except StorageQuotaError:
            return "refused"
        return "reserved"

    outcomes = at_once(*[presign] * 8)
    assert sorted(outcomes) == ["refused"] * 5 + ["reserved"] * 3
    with ctx.db.session() as s:
        assert UploadRepo(s, ctx.workspace_id).reserved_bytes(utcnow()) == 900


def test_reservations_count_until_released_or_expired(ctx):
    held, lapsed = key(ctx), key(ctx)
    reserve_upload(ctx, held, 600, utcnow() + timedelta(hours=1))
    with pytest.raises(StorageQuotaError, match="600 reserved by uploads in progress"):
        check_storage_for(ctx, 401)  # a job storing a source meets the reservation too
    check_storage_for(ctx, 400)
    release_upload(ctx, held)
    reserve_upload(ctx, lapsed, 1000, utcnow() + timedelta(seconds=1))
    with ctx.db.session() as s:  # its presign expires
        row = UploadRepo(s, ctx.workspace_id).get(lapsed)
        row.expires_at = utcnow() - timedelta(seconds=1)
    check_storage_for(ctx, 1000)
    with ctx.db.session() as s:  # a workspace without a limit still records reservations
        s.get(Workspace, ctx.workspace_id).max_storage_bytes = None
    reserve_upload(ctx, key(ctx), 10**12, utcnow() + timedelta(hours=1))
