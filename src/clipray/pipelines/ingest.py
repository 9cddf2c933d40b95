"""Ingest: a local file or a bucket object becomes a validated, stored ``sources`` row.

Order matters for "nothing lost, nothing half-written": the bytes are hashed and probed
first (a file that is not a video is refused before anything is written), then uploaded,
then recorded; if recording fails the uploaded object is deleted again. The same bytes
ingested twice into one workspace give the same source, and are uploaded once.

    >>> src = ingest(ctx, "talk.mp4")            # doctest: +SKIP
    >>> src.source.id, src.local_path
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.jobs.quota import check_storage
from clipray.pipelines.stages.decode import ProbeError, VideoInfo, probe
from clipray.pipelines.validate import RejectCode
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets, ObjectNotFoundError, ObjectStore, StorageError
from clipray.storage.orm import Source, SourceOrigin, Workspace, new_id, utcnow
from clipray.storage.repos import SourceMeta, SourceRepo
from clipray.storage.uploads import UploadRepo

# Container extension for the stored original: chosen by clipray, never the user's name.
_EXTENSIONS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "mkv", "avi": "avi",
               "mp3": "mp3", "flac": "flac", "wav": "wav", "ogg": "ogg"}  # fmt: skip
_CONTENT_TYPES = {"mp4": "video/mp4", "mkv": "video/x-matroska", "avi": "video/x-msvideo",
                  "mp3": "audio/mpeg", "flac": "audio/flac", "wav": "audio/wav",
                  "ogg": "audio/ogg", "m4a": "audio/mp4"}  # fmt: skip


class IngestError(CodedError):
    """The input cannot become a source: missing, unreadable (422 ``INGEST_FAILED``), or not
    a video (``MEDIA_NOT_A_VIDEO``, the code validation gives the same file)."""

    code = "INGEST_FAILED"

    def __init__(self, message: str, *, code: str | None = None, **kw: Any) -> None:
        super().__init__(code or type(self).code, message, **kw)


@dataclass(frozen=True)
class IngestContext:
    """What ingest writes to: the buckets, the database, one workspace."""

    buckets: Buckets
    db: Database
    workspace_id: str
    ffprobe_bin: str = "ffprobe"
    quota_storage_bytes: int | None = None
    """Bytes of sources the workspace may hold unless it has its own limit; None: no limit."""

    @classmethod
    def of(cls, settings: Settings, buckets: Buckets, db: Database, workspace_id: str
           ) -> IngestContext:  # fmt: skip
        """The context with the configured ffprobe and storage quota."""
        return cls(buckets, db, workspace_id, settings.ffprobe_bin, settings.quota_storage_bytes)


class StorageQuotaError(IngestError):
    """A new source would take the workspace over its storage quota (413)."""

    code = "QUOTA_STORAGE"
    status = 413


@dataclass(frozen=True)
class Ingested:
    source: Source
    info: VideoInfo
    created: bool
    """False when the same bytes were already a source of the workspace."""


def sha256_file(path: Path, chunk: int = 4 * 1024 * 1024) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); raises :class:`IngestError` otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise IngestError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


@contextmanager
def local_copy(uri: str, buckets: Buckets) -> Iterator[tuple[Path, SourceOrigin]]:
    """A local path for ``uri``: the file itself, or a temporary download of a bucket object."""
    if not uri.startswith("s3://"):
        path = Path(uri).expanduser()
        if not path.is_file():
            raise IngestError(f"{uri}: no such file")
        yield path, SourceOrigin.LOCAL
        return
    bucket, key = parse_s3_uri(uri)
    client = buckets.media.client
    fd, tmp = tempfile.mkstemp(prefix="clipray-ingest-", suffix=".bin")
    os.close(fd)
    try:
        try:
            client.download_file(bucket, key, tmp)
        except Exception as exc:  # botocore raises ClientError or connection errors
            raise IngestError(f"{uri}: cannot be read from the bucket ({exc})") from exc
        yield Path(tmp), SourceOrigin.BUCKET
    finally:
        Path(tmp).unlink(missing_ok=True)


def ingest_path(ctx: IngestContext, path: Path, origin: SourceOrigin, origin_uri: str) -> Ingested:
    """Validate, store and record the video at ``path`` (see the module docstring)."""
    sha = sha256_file(path)
    try:
        info = probe(path, ctx.ffprobe_bin)
    except ProbeError as exc:
        raise IngestError(f"{origin_uri}: not a readable video or audio file ({exc})",
                          code=RejectCode.NOT_A_VIDEO) from exc  # fmt: skip
    if info.duration <= 0 or (info.has_video and info.width <= 0):
        raise IngestError(f"{origin_uri}: the media has no duration or no picture",
                          code=RejectCode.NOT_A_VIDEO)  # fmt: skip

    with ctx.db.session() as s:
        existing = SourceRepo(s, ctx.workspace_id).by_sha256(sha)
    if existing is not None:
        return Ingested(existing, info, created=False)

    check_storage_for(ctx, path.stat().st_size)
    container = info.container
    ext = _EXTENSIONS.get(container, "bin")
    if ext == "mp4" and not info.has_video:
        ext = "m4a"  # an MP4 holding sound only is a podcast's .m4a
    source_id = new_id()
    key = object_key(ctx.workspace_id, "sources", source_id, f"original.{ext}")
    media: ObjectStore = ctx.buckets.media.scoped(ctx.workspace_id)
    media.put_file(key, path, content_type=_CONTENT_TYPES.get(ext, "application/octet-stream"))
    meta = SourceMeta(
        origin=origin,
        origin_uri=origin_uri,
        storage_key=key,
        sha256=sha,
        size_bytes=path.stat().st_size,
        duration_s=info.duration,
        fps=info.fps or None,
        width=info.width or None,  # None: audio-only (so is video_codec)
        height=info.height or None,
        container=container or None,
        video_codec=info.video_codec or None,
        audio_codec=info.audio_codec,
    )
    try:
        with ctx.db.session() as s:
            source = SourceRepo(s, ctx.workspace_id).add(meta, source_id=source_id)
    except Exception:
        media.delete(key)  # no orphaned object
        raise
    return Ingested(source, info, created=True)


def storage_limit(ctx: IngestContext) -> int | None:
    """The workspace's own storage limit, else the context's default (None: unlimited)."""
    with ctx.db.session() as s:
        ws = s.get(Workspace, ctx.workspace_id)
        own = ws.max_storage_bytes if ws is not None else None
    return own if own is not None else ctx.quota_storage_bytes


def check_storage_for(ctx: IngestContext, incoming: int) -> None:
    """Raise :class:`StorageQuotaError` if ``incoming`` more bytes of sources do not fit
    beside the workspace's sources and its reserved uploads."""
    limit = storage_limit(ctx)
    if limit is None:
        return
    with ctx.db.session() as s:
        used = SourceRepo(s, ctx.workspace_id).stored_bytes()
        reserved = UploadRepo(s, ctx.workspace_id).reserved_bytes(utcnow())
    over = check_storage(used, incoming, limit, reserved)
    if over is not None:
        raise StorageQuotaError(over.message)


def reserve_upload(ctx: IngestContext, key: str, size: int, expires_at: datetime) -> None:
    """Hold ``size`` bytes of the workspace's storage quota for the presigned upload ``key``
    until it is confirmed (:func:`release_upload`) or the retention keeper clears it after
    ``expires_at``. Checked and recorded in one locked transaction, so concurrent presigns
    cannot overbook the quota.

    Raises:
        StorageQuotaError: the sources, the other reservations and ``size`` do not fit.
    """
    limit = storage_limit(ctx)
    with ctx.db.session() as s:
        repo = UploadRepo(s, ctx.workspace_id)
        repo.lock()
        if limit is not None:
            used = SourceRepo(s, ctx.workspace_id).stored_bytes()
            over = check_storage(used, size, limit, repo.reserved_bytes(utcnow()))
            if over is not None:
                raise StorageQuotaError(over.message)
        repo.reserve(key, size, expires_at)


def release_upload(ctx: IngestContext, key: str) -> None:
    """Free the reservation of the upload ``key``: it is being confirmed, and from here on
    the quota counts its real size (as a source) or nothing (refused and deleted)."""
    with ctx.db.session() as s:
        UploadRepo(s, ctx.workspace_id).release(key)


def ingest(ctx: IngestContext, uri: str) -> Ingested:
    """Ingest a local path or an ``s3://bucket/key`` URI into the workspace."""
    with local_copy(uri, ctx.buckets) as (path, origin):
        return ingest_path(ctx, path, origin, uri)


@contextmanager
def source_file(ctx: IngestContext, source: Source) -> Iterator[Path]:
    """A local copy of a stored source, for a driver that needs to read it."""
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    fd, tmp = tempfile.mkstemp(prefix="clipray-source-", suffix=Path(source.storage_key).suffix)
    os.close(fd)
    try:
        try:
            media.download(source.storage_key, tmp)
        except (ObjectNotFoundError, StorageError) as exc:
            raise IngestError(f"source {source.id}: stored video missing ({exc})") from exc
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)

