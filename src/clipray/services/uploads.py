"""Uploads: a presigned POST straight to the bucket, then a confirm that validates the video
(or audio-only file: a podcast episode) and registers it as a source. The API never
carries the bytes of a presigned upload.

The presign reserves its declared size against the workspace's storage quota; the confirm
frees the reservation (the source then counts its real size). An upload never confirmed is
deleted with its reservation by the retention keeper once the presign has expired and
``CLIPRAY_RETENTION_UPLOAD_GRACE_S`` has passed. The HTTP routes (``/api/upload``) call
these.

    >>> up = presign(settings, buckets, db, ws_id, 1_000_000, "video/mp4")   # doctest: +SKIP
    >>> confirm(settings, buckets, db, ws_id, up.key).source.id                 # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from clipray.config import Settings
from clipray.domain.errors import CodedError, NotFound, PayloadTooLarge
from clipray.pipelines.ingest import (
    IngestContext,
    ingest_path,
    release_upload,
    reserve_upload,
)
from clipray.pipelines.limits import media_limits
from clipray.pipelines.validate import VideoInfo, validate_file
from clipray.storage.db import Database
from clipray.storage.keys import UnsafeKeyError, check_key, object_key
from clipray.storage.objects import Buckets, ObjectNotFoundError, PresignedUpload
from clipray.storage.orm import Source, SourceOrigin, new_id, utcnow

__all__ = ["EXTENSIONS", "Confirmed", "confirm", "presign"]

EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
              "video/x-matroska": "mkv", "audio/mpeg": "mp3", "audio/mp4": "m4a",
              "audio/x-m4a": "m4a", "audio/aac": "aac", "audio/wav": "wav", "audio/x-wav": "wav",
              "audio/flac": "flac", "audio/x-flac": "flac", "audio/ogg": "ogg",
              "audio/opus": "opus", "audio/webm": "webm"}  # fmt: skip
"""The upload object's extension per content type (``bin`` for any other allowed one)."""


@dataclass(frozen=True)
class Confirmed:
    """A confirmed upload: the source it became (an earlier one for the same bytes) and
    what validation measured."""

    source: Source
    info: VideoInfo


def presign(settings: Settings, buckets: Buckets, db: Database, workspace_id: str, size: int,
            content_type: str) -> PresignedUpload:  # fmt: skip
    """A presigned POST for one video: the signed policy limits its size (the declared
    ``size``) and its content type, so the bucket itself refuses anything else; ``size``
    is reserved against the workspace's storage quota until the confirm.

    Raises:
        PayloadTooLarge: 413 ``UPLOAD_TOO_LARGE`` (over ``CLIPRAY_MAX_UPLOAD_BYTES``), 413
            ``QUOTA_STORAGE``.
        CodedError: 415 ``UPLOAD_TYPE_NOT_ALLOWED``.
    """
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge("UPLOAD_TOO_LARGE", f"{size} bytes is over the limit of "
                              f"{settings.max_upload_bytes}")  # fmt: skip
    if content_type not in settings.upload_content_types:
        raise CodedError("UPLOAD_TYPE_NOT_ALLOWED", f"content type {content_type!r} is not "
                         f"one of {', '.join(settings.upload_content_types)}",
                         status=415)  # fmt: skip
    ctx = IngestContext.of(settings, buckets, db, workspace_id)
    ext = EXTENSIONS.get(content_type, "bin")
    key = object_key(workspace_id, "uploads", new_id(), f"upload.{ext}")
    store = buckets.media.scoped(workspace_id)
    up = store.presign_upload(key, content_type=content_type, max_bytes=size,
                              allowed_content_types=settings.upload_content_types)  # fmt: skip
    # Signing is local: a refused reservation just discards the URL. Taken after signing,
    # the reservation's expiry is never earlier than the URL's.
    expires_at = utcnow() + timedelta(seconds=up.expires_in)
    # The declared size (413 QUOTA_STORAGE); confirm counts the real one.
    reserve_upload(ctx, key, size, expires_at)
    return up


def confirm(settings: Settings, buckets: Buckets, db: Database, workspace_id: str,
            key: str) -> Confirmed:  # fmt: skip
    """Validate the uploaded object (a readable video, at most 4 h and 4K, allowed codecs)
    and register it as a source. The upload object is removed either way: a refused file
    leaves nothing behind, an accepted one lives on as the source.

    Raises:
        CodedError: 400 ``UPLOAD_KEY_INVALID`` (not a key of the workspace's uploads),
            422 ``MEDIA_*`` (see :class:`~clipray.pipelines.validate.RejectCode`), 413
            ``QUOTA_STORAGE``, 503 ``DEPENDENCY_MISSING`` without ffprobe or ffmpeg, 503
            ``STORAGE_UNAVAILABLE``.
        NotFound: 404 ``UPLOAD_NOT_FOUND``.
    """
    try:
        key = check_key(key, workspace_id)
    except UnsafeKeyError as exc:
        raise CodedError("UPLOAD_KEY_INVALID", str(exc), status=400) from exc
    if key.split("/")[1:2] != ["uploads"]:
        raise CodedError("UPLOAD_KEY_INVALID", "not a key returned by /api/upload/presign",
                         status=400)  # fmt: skip
    store = buckets.media.scoped(workspace_id)
    if store.head(key) is None:
        raise NotFound("UPLOAD_NOT_FOUND", "nothing was uploaded under this key")
    ctx = IngestContext.of(settings, buckets, db, workspace_id)
    try:
        with tempfile.TemporaryDirectory(prefix="clipray-upload-") as tmp:
            path = Path(tmp) / Path(key).name
            try:
                store.download(key, path)
            except ObjectNotFoundError as exc:
                raise NotFound("UPLOAD_NOT_FOUND", str(exc)) from exc
            # Accepted or refused, the object goes: its real size counts from here on.
            release_upload(ctx, key)
            info = validate_file(path, media_limits(settings), ffprobe=settings.ffprobe_bin,
                                 ffmpeg=settings.ffmpeg_bin)  # fmt: skip
            got = ingest_path(ctx, path, SourceOrigin.UPLOAD, f"upload:{key}")
    finally:
        store.delete(key)
    return Confirmed(got.source, info)
