"""Source videos: list, get, delete (with everything derived from them).

The HTTP routes (``/api/sources``) and the CLI (``clipray sources``) call these.

    >>> rows, total = page(session, workspace_id, limit=20, offset=0)  # doctest: +SKIP
    >>> delete(db, buckets, index, workspace_id, source_id)            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from clipray.config import Settings
from clipray.domain.errors import Conflict
from clipray.jobs.machine import ACTIVE
from clipray.services.access import owned
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.objects import Buckets
from clipray.storage.orm import Source
from clipray.storage.repos import SourceRepo
from clipray.storage.vclips import CoverRepo

if TYPE_CHECKING:
    from clipray.pipelines.ingest import IngestContext
    from clipray.storage.index import SearchIndex


class SourceBusyError(Conflict):
    """A job still works on the source: deleting it now would pull the video from under it
    (409; retryable: once the job ends, the same delete succeeds)."""

    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__("SOURCE_BUSY", message)


@dataclass(frozen=True)
class DeletedSource:
    source_id: str
    objects: int
    bytes: int


def ingest_context(settings: Settings, buckets: Buckets, db: Database,
                   workspace_id: str) -> IngestContext:  # fmt: skip
    """Where new sources of the workspace go (the buckets, the database, the configured
    ffprobe and storage quota), as the analysis and main-job services take it.

    Ingest decodes video (the ``ml`` extra), so it is imported here, on first use."""
    from clipray.pipelines.ingest import IngestContext

    return IngestContext.of(settings, buckets, db, workspace_id)


def page(db: Database, workspace_id: str, limit: int, offset: int = 0
         ) -> tuple[list[Source], int]:  # fmt: skip
    """The workspace's sources, newest first, and how many there are."""
    with db.session() as s:
        return SourceRepo(s, workspace_id).page(limit, offset)


def get(db: Database, workspace_id: str, source_id: str) -> Source:
    """The source: 404 ``SOURCE_NOT_FOUND``, 403 when it is another workspace's."""
    with db.session() as s:
        return owned(s, Source, source_id, workspace_id, "source")


def delete(db: Database, buckets: Buckets, index: SearchIndex, workspace_id: str,
           source_id: str) -> DeletedSource:  # fmt: skip
    """Delete a source with everything derived from it: its search rows, its objects (the
    original, proxy, thumbnails, analysis artifacts, exports of its clips) and its records
    (cascading to clips, cuts, analyses). The row goes last, so a failure half-way leaves
    it in place and deleting again finishes the job. Generated clips stay until their
    retention runs out (they are product output, not the source's files).

    Raises:
        SourceBusyError: a job that is not finished works on the source (409 ``SOURCE_BUSY``).
    """
    with db.session() as s:
        owned(s, Source, source_id, workspace_id, "source")
        busy = SourceRepo(s, workspace_id).working_job(source_id, ACTIVE)
        if busy:
            raise SourceBusyError(f"job {busy} still works on this source: cancel it first")
        clip_ids = CoverRepo(s, workspace_id).clip_ids(source_id)
    index.delete_source(workspace_id, source_id)
    media = buckets.media.scoped(workspace_id)
    gone = [
        *media.delete_prefix(object_key(workspace_id, "sources", source_id) + "/"),
        *media.delete_prefix(object_key(workspace_id, "analysis", source_id) + "/"),
    ]
    for clip_id in clip_ids:
        gone += media.delete_prefix(object_key(workspace_id, "exports", clip_id) + "/")
    with db.session() as s:
        row = s.get(Source, source_id)
        if row is not None:
            s.delete(row)
    return DeletedSource(source_id, len(gone), sum(o.size for o in gone))
