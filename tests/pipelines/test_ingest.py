"""Ingest against the real S3 server and database: validated, stored once, nothing orphaned."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from clipray.pipelines.ingest import IngestContext, IngestError, ingest, parse_s3_uri
from clipray.storage.keys import workspace_prefix
from clipray.storage.orm import SourceOrigin
from clipray.storage.repos import SourceRepo, WorkspaceRepo

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
TESTVIDEO = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"


@pytest.fixture
def ctx(buckets, sqlite_db) -> IngestContext:
    with sqlite_db.session() as s:
        ws, _ = WorkspaceRepo(s).ensure(f"ingest-{uuid.uuid4().hex[:8]}")
    return IngestContext(buckets=buckets, db=sqlite_db, workspace_id=ws.id)


def _stored(ctx: IngestContext) -> list[str]:
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    return [o.key for o in media.list(workspace_prefix(ctx.workspace_id))]


def test_a_video_is_probed_stored_and_recorded_once(ctx):
    first = ingest(ctx, str(TESTVIDEO))
    assert first.created
    src = first.source
    assert src.origin is SourceOrigin.LOCAL
    assert abs(src.duration_s - 24.0) < 0.1
    assert (src.width, src.height) == (1280, 720)
    assert src.size_bytes == TESTVIDEO.stat().st_size
    assert src.storage_key == f"{ctx.workspace_id}/sources/{src.id}/original.mp4"
    assert src.container == "mov,mp4,m4a,3gp,3g2,mj2"
    head = ctx.buckets.media.scoped(ctx.workspace_id).head(src.storage_key)
    assert head is not None
    assert head.size == src.size_bytes

    again = ingest(ctx, str(TESTVIDEO))
    assert not again.created
    assert again.source.id == src.id
    assert _stored(ctx) == [src.storage_key]


@pytest.mark.parametrize(
    ("ext", "cover", "stored", "content_type"),
    [pytest.param("flac", False, "flac", "audio/flac", id="flac"),
     pytest.param("mp3", True, "mp3", "audio/mpeg", id="mp3/cover-art"),
     pytest.param("m4a", True, "m4a", "audio/mp4", id="m4a/cover-art")],
)  # fmt: skip
def test_a_podcast_episode_is_an_audio_only_source(ctx, tmp_path, ext, cover, stored,
                                                   content_type):  # fmt: skip
    from tests.podcast import episode

    got = ingest(ctx, str(episode(tmp_path, ext, cover=cover)))
    src = got.source
    assert (got.info.has_video, got.info.has_cover) == (False, cover)
    assert (src.audio_only, src.width, src.height, src.video_codec) == (True, None, None, None)
    assert abs(src.duration_s - 11.0) < 0.1
    assert src.storage_key.endswith(f"/original.{stored}")
    head = ctx.buckets.media.scoped(ctx.workspace_id).head(src.storage_key)
    assert head is not None
    assert head.content_type == content_type


def test_a_file_that_is_not_a_video_leaves_nothing_behind(ctx, tmp_path):
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(IngestError, match="not a readable video"):
        ingest(ctx, str(bogus))
    assert _stored(ctx) == []
    with ctx.db.session() as s:
        assert SourceRepo(s, ctx.workspace_id).list() == []


def test_a_missing_file_is_a_clear_error(ctx, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        ingest(ctx, str(tmp_path / "nope.mp4"))


def test_a_bucket_object_is_ingested(ctx):
    landing = f"landing-{uuid.uuid4().hex[:8]}"
    client = ctx.buckets.media.client
    client.create_bucket(Bucket=landing)
    client.upload_file(str(TESTVIDEO), landing, "drop/my video.mp4")
    got = ingest(ctx, f"s3://{landing}/drop/my video.mp4")
    assert got.source.origin is SourceOrigin.BUCKET
    assert got.source.origin_uri == f"s3://{landing}/drop/my video.mp4"
    assert "my video" not in got.source.storage_key  # user names never reach a key
    with pytest.raises(IngestError, match="cannot be read"):
        ingest(ctx, f"s3://{landing}/drop/missing.mp4")


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket", "s3://bucket/", "http://x/y"])
def test_bad_bucket_uris(uri):
    with pytest.raises(IngestError):
        parse_s3_uri(uri)


def test_a_failed_insert_deletes_the_uploaded_object(buckets, sqlite_db):
    ghost = IngestContext(buckets=buckets, db=sqlite_db, workspace_id=uuid.uuid4().hex)
    with pytest.raises(IntegrityError):  # the workspace row does not exist
        ingest(ghost, str(TESTVIDEO))
    assert _stored(ghost) == []
