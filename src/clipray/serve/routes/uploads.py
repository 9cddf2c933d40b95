"""Uploads: a presigned POST straight to the bucket, then a confirm that validates the video
and registers it as a source. The API never carries the bytes of a presigned upload.

The presign reserves its declared size against the workspace's storage quota; the confirm
frees the reservation (the source then counts its real size). An upload never confirmed is
deleted with its reservation by the retention keeper once the presign has expired and
``CLIPRAY_RETENTION_UPLOAD_GRACE_S`` has passed."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter

from clipray.pipelines.ingest import (
    IngestContext,
    ingest_path,
    release_upload,
    reserve_upload,
)
from clipray.pipelines.limits import media_limits
from clipray.pipelines.validate import validate_file
from clipray.serve.deps import Caller, ServicesDep
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action
from clipray.serve.schemas import ConfirmIn, ConfirmOut, PresignIn, PresignOut
from clipray.storage.keys import UnsafeKeyError, check_key, object_key
from clipray.storage.objects import ObjectNotFoundError
from clipray.storage.orm import SourceOrigin, new_id, utcnow

router = APIRouter(prefix="/api/upload", tags=["uploads"])
_EXT = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
        "video/x-matroska": "mkv"}  # fmt: skip


@router.post("/presign")
def presign(body: PresignIn, who: Caller, svc: ServicesDep) -> PresignOut:
    """A presigned POST for one video: the signed policy limits its size (the ``size`` you
    declare) and its content type, so the bucket itself refuses anything else."""
    who.require(Action.UPLOAD)
    settings = svc.settings
    if body.size > settings.max_upload_bytes:
        raise ApiError(413, "UPLOAD_TOO_LARGE", f"{body.size} bytes is over the limit of "
                       f"{settings.max_upload_bytes}")  # fmt: skip
    if body.content_type not in settings.upload_content_types:
        raise ApiError(415, "UPLOAD_TYPE_NOT_ALLOWED", f"content type {body.content_type!r} "
                       f"is not one of {', '.join(settings.upload_content_types)}")  # fmt: skip
    ctx = IngestContext.of(settings, svc.buckets, svc.db, who.workspace_id)
    ext = _EXT.get(body.content_type, "bin")
    key = object_key(who.workspace_id, "uploads", new_id(), f"upload.{ext}")
    store = svc.buckets.media.scoped(who.workspace_id)
    up = store.presign_upload(key, content_type=body.content_type, max_bytes=body.size,
                              allowed_content_types=settings.upload_content_types)  # fmt: skip
    # Signing is local: a refused reservation just discards the URL. Taken after signing,
    # the reservation's expiry is never earlier than the URL's.
    expires_at = utcnow() + timedelta(seconds=up.expires_in)
    # The declared size (413 QUOTA_STORAGE); confirm counts the real one.
    reserve_upload(ctx, key, body.size, expires_at)
    return PresignOut(key=up.key, url=up.url, method="POST", fields=up.fields, headers={},
                      expires_in=up.expires_in)  # fmt: skip


@router.post("/confirm")
def confirm(body: ConfirmIn, who: Caller, svc: ServicesDep) -> ConfirmOut:
    """Validate the uploaded object (a readable video, at most 4 h and 4K, allowed codecs)
    and register it as a source. The upload object is removed either way: a refused file
    leaves nothing behind, an accepted one lives on as the source.

    Refusals answer with their own status and code: 422 ``MEDIA_*`` (see
    :class:`~clipray.pipelines.validate.RejectCode`), 413 ``QUOTA_STORAGE``, 503
    ``DEPENDENCY_MISSING`` without ffprobe or ffmpeg, 503 ``STORAGE_UNAVAILABLE``."""
    who.require(Action.UPLOAD)
    try:
        key = check_key(body.key, who.workspace_id)
    except UnsafeKeyError as exc:
        raise ApiError(400, "UPLOAD_KEY_INVALID", str(exc)) from exc
    if key.split("/")[1:2] != ["uploads"]:
        raise ApiError(400, "UPLOAD_KEY_INVALID", "not a key returned by /api/upload/presign")
    store = svc.buckets.media.scoped(who.workspace_id)
    if store.head(key) is None:
        raise ApiError(404, "UPLOAD_NOT_FOUND", "nothing was uploaded under this key")
    settings = svc.settings
    ctx = IngestContext.of(settings, svc.buckets, svc.db, who.workspace_id)
    try:
        with tempfile.TemporaryDirectory(prefix="clipray-upload-") as tmp:
            path = Path(tmp) / Path(key).name
            try:
                store.download(key, path)
            except ObjectNotFoundError as exc:
                raise ApiError(404, "UPLOAD_NOT_FOUND", str(exc)) from exc
            # Accepted or refused, the object goes: its real size counts from here on.
            release_upload(ctx, key)
            info = validate_file(path, media_limits(settings), ffprobe=settings.ffprobe_bin,
                                 ffmpeg=settings.ffmpeg_bin)  # fmt: skip
            got = ingest_path(ctx, path, SourceOrigin.UPLOAD, f"upload:{key}")
    finally:
        store.delete(key)
    return ConfirmOut(source_id=got.source.id, duration=info.duration, width=info.width,
                      height=info.height)  # fmt: skip
