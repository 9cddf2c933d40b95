"""Uploads: a presigned POST straight to the bucket, then a confirm that validates the video
and registers it as a source. The API never carries the bytes of a presigned upload.

Routes parse, call ``services/uploads.py`` (which reserves and frees the storage quota and
validates the video) and format."""

from __future__ import annotations

from fastapi import APIRouter

from clipray.serve.deps import Caller, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas import ConfirmIn, ConfirmOut, PresignIn, PresignOut
from clipray.services import uploads

router = APIRouter(prefix="/api/upload", tags=["uploads"])


@router.post("/presign")
def presign(body: PresignIn, who: Caller, svc: ServicesDep) -> PresignOut:
    """A presigned POST for one video: the signed policy limits its size (the ``size`` you
    declare) and its content type, so the bucket itself refuses anything else."""
    who.require(Action.UPLOAD)
    up = uploads.presign(svc.settings, svc.buckets, svc.db, who.workspace_id, body.size,
                         body.content_type)  # fmt: skip
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
    done = uploads.confirm(svc.settings, svc.buckets, svc.db, who.workspace_id, body.key)
    return ConfirmOut(source_id=done.source.id, duration=done.info.duration,
                      width=done.info.width, height=done.info.height)  # fmt: skip
