"""The main job's rendered clips: list, edit, versions, download, delete.

The HTTP routes (``/api/clips``) load a clip with their ownership check and call these;
re-rendering is ``services/rerender.py``. A rendered clip's files live on the app-owned
bucket under ``{workspace}/clips/{clip}/``, one generated clip per render.

    >>> rows, total = list_clips(session, ws_id, None, None, page=1, limit=20)  # doctest: +SKIP
    >>> url = download_url(buckets, clip, "video")                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from clipray.clips.thumbs import THUMBNAIL_CANDIDATES, candidate_name
from clipray.domain.errors import CodedError, Conflict, NotFound
from clipray.services.generated import store as generated_store
from clipray.storage.generated import GeneratedRepo
from clipray.storage.objects import Buckets, download_name
from clipray.storage.orm import Clip, ClipStatus, ReviewStatus, utcnow
from clipray.storage.repos import ClipRepo, fetch_page

__all__ = ["FILES", "delete_clips", "download_url", "edit_clip", "list_clips", "thumbnail_keys",
           "versions"]

FILES = {"video": ("video_key", "mp4"), "thumbnail": ("thumbnail_key", "jpg"),
         "fcpxml": ("fcpxml_key", "fcpxml"), "edl": ("edl_key", "edl")}  # fmt: skip
"""A rendered clip's files: the row's key column and the download name's extension."""


def list_clips(session: Session, workspace_id: str, job_id: str | None,
               status: ClipStatus | None, page: int, limit: int,
               review: ReviewStatus | None = None) -> tuple[Sequence[Clip], int]:  # fmt: skip
    """One page of the workspace's clips, best first, and how many there are."""
    q = select(Clip).where(Clip.workspace_id == workspace_id)
    if job_id is not None:
        q = q.where(Clip.job_id == job_id)
    if status is not None:
        q = q.where(Clip.status == status)
    if review is not None:
        q = q.where(Clip.review == review)
    return fetch_page(session, q, limit, (page - 1) * limit, Clip.score.desc(), Clip.id)


def edit_clip(session: Session, clip: Clip, title: str | None, description: str | None,
              review: ReviewStatus | None = None) -> Clip:  # fmt: skip
    """Change the title, the description or the review state (the video is not touched);
    None keeps it. A review change stamps ``reviewed_at``; the same state again does not."""
    if title is not None:
        clip.title = title
    if description is not None:
        clip.description = description
    if review is not None and review is not clip.review:
        clip.review = review
        clip.reviewed_at = utcnow()
    session.flush()
    return clip


def versions(session: Session, clip: Clip) -> Sequence[Clip]:
    """Every rendered version of the clip's moment, oldest first."""
    return ClipRepo(session, clip.workspace_id).versions(clip.moment_id)


def thumbnail_keys(clip: Clip) -> list[str]:
    """The keys of the clip's thumbnail candidates, ``thumbnail.jpg`` (the row's key) first;
    the others sit beside it. Empty without a thumbnail."""
    key = clip.thumbnail_key
    if not key:
        return []
    folder = key.rpartition("/")[0]
    return [key, *(f"{folder}/{candidate_name(n)}" for n in range(1, THUMBNAIL_CANDIDATES))]


def download_url(buckets: Buckets, clip: Clip, file: str = "video", n: int | None = None) -> str:
    """A short-lived presigned URL of one of the clip's files, saved under its title; ``n``
    picks one of the thumbnail candidates (0, the default, is the best).

    Raises:
        Unavailable: 503 ``GENERATED_STORAGE_UNAVAILABLE``, no app-owned bucket.
        Conflict: 409 ``CLIP_NOT_READY`` until the clip is rendered.
        CodedError: 422 ``THUMBNAIL_N_INVALID``, ``n`` with another file or out of range.
        NotFound: 404 ``THUMBNAIL_NOT_FOUND``, a clip rendered before it had candidates.
    """
    if n is not None and (file != "thumbnail" or not 0 <= n < THUMBNAIL_CANDIDATES):
        raise CodedError("THUMBNAIL_N_INVALID", f"n picks one of the {THUMBNAIL_CANDIDATES} "
                         f"thumbnails (0 to {THUMBNAIL_CANDIDATES - 1}) with file=thumbnail",
                         status=422)  # fmt: skip
    attr, ext = FILES[file]
    key = getattr(clip, attr)
    store = generated_store(buckets, clip.workspace_id)
    if clip.status is not ClipStatus.RENDERED or not key:
        raise Conflict("CLIP_NOT_READY", f"the clip is {clip.status.value}, not rendered")
    if n:
        key = thumbnail_keys(clip)[n]
        if store.head(key) is None:
            raise NotFound("THUMBNAIL_NOT_FOUND", f"the clip has no thumbnail {n}: it was "
                           "rendered with one; render it again for three")  # fmt: skip
    suffix = f"-{n}" if n else ""
    name = download_name(clip.title, f"-v{clip.version}{suffix}.{ext}")
    return store.presign_get(key, download_name=name)


def delete_clips(session: Session, buckets: Buckets, workspace_id: str, clips: list[Clip]) -> int:
    """Delete clips, their generated clips' rows and their files; committed. Rows go first:
    a file left by a failed delete is garbage, not a broken row."""
    GeneratedRepo(session, workspace_id).purge_for_clips([c.id for c in clips], utcnow())
    for c in clips:
        session.delete(c)
    session.commit()
    if buckets.generated is not None:
        store = buckets.generated.scoped(workspace_id)
        for c in clips:
            for attr, _ in FILES.values():
                if key := getattr(c, attr):
                    store.delete(key)
            for key in thumbnail_keys(c)[1:]:
                store.delete(key)
    return len(clips)
