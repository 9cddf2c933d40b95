"""The retention sweep of the app-owned bucket and of abandoned uploads: one use case, run
by the retention keeper actor on its interval (``actors/retention.py``) and by
``clipray retention sweep`` by hand.

Each available generated clip whose ``expires_at`` has passed loses its objects first (the
video and its sibling files), then its row is marked purged and its candidate's link
cleared, one row at a time. Kept and published clips are never touched. A reconciliation
pass then deletes objects under the generated prefix that no live row owns and that are
older than the grace period: what a crash between an upload and its row, or between a
delete and its row, left. On the media bucket it deletes each upload whose presign expired
more than ``retention_upload_grace_s`` ago without a confirm, object first, then its quota
reservation; and upload objects no reservation holds once older than the presign lifetime
plus that grace (a confirm that crashed between releasing and deleting).

Stopping at any point loses nothing: objects are deleted before their row changes, and
deleting a missing object is not an error, so the next sweep finishes what the last one
started. A finished sweep is recorded, so a keeper that starts after a long pause sweeps
at once.

    >>> report = Sweeper(settings).sweep(now)     # doctest: +SKIP
    >>> report.purged, report.freed_bytes         # doctest: +SKIP
    (3, 12345678)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipray.clips.retention import (
    StoredObject,
    abandoned_cutoff,
    generated_prefix,
    orphans,
    seconds_until_sweep,
    stray_uploads,
)
from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.storage.db import Database
from clipray.storage.generated import due, live_keys, mark_purged
from clipray.storage.objects import NO_GENERATED_BUCKET, Buckets, ObjectStore
from clipray.storage.orm import utcnow
from clipray.storage.uploads import (
    abandoned,
    drop_reservation,
    last_sweep,
    record_sweep,
    reserved_keys,
    workspace_ids,
)

KEEPER_NAME = "clipray-retention"
"""The sweep's name in the database's record of sweeps (and the keeper actor's name)."""
BATCH = 100
"""Rows read per query while sweeping: a large backlog is purged in bounded transactions."""
log = logging.getLogger("clipray.retention")


@dataclass
class SweepReport:
    now: str
    purged: int = 0
    freed_bytes: int = 0
    orphans: int = 0
    orphan_bytes: int = 0
    uploads: int = 0
    """Unconfirmed uploads deleted (expired reservations and stray upload objects)."""
    upload_bytes: int = 0
    skipped: str | None = None
    """Why no generated clip was swept (no app-owned bucket configured)."""


class Sweeper:
    """The sweep over the configured storage. ``buckets`` replaces it (tests inject faults
    into it); by default each sweep opens the configured buckets."""

    def __init__(self, settings: Settings, db: Database | None = None,
                 buckets: Buckets | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.db = db or open_database(settings)
        self.buckets = buckets

    def first_wait(self) -> float:
        """Seconds until the next sweep is due, from the last sweep recorded."""
        try:
            with self.db.session() as s:
                last = last_sweep(s, KEEPER_NAME)
        except Exception:  # the database briefly away, or not migrated yet: sweep at once
            log.exception("cannot read the last retention sweep; sweeping now")
            last = None
        return seconds_until_sweep(last, utcnow(), self.settings.retention_interval_s)

    def sweep(self, now: datetime) -> SweepReport:
        """One sweep at ``now``, recorded with the wall-clock time it finished (not ``now``:
        a sweep by hand "eight days ahead" must not postpone the next one by days). A sweep
        that fails is not recorded, so a restarted keeper sweeps again at once."""
        report = SweepReport(now=now.isoformat())
        buckets = self.buckets or open_storage(self.settings)
        store = buckets.generated
        if store is None:
            report.skipped = NO_GENERATED_BUCKET
        else:
            self._purge(store, now, report)
            self._reconcile(store, now, report)
        self._clear_uploads(buckets.media, now, report)
        with self.db.session() as s:
            record_sweep(s, KEEPER_NAME, utcnow())
        log.info("retention sweep at %s: %s", now.isoformat(), report)
        return report

    def _purge(self, store: ObjectStore, now: datetime, report: SweepReport) -> None:
        while True:
            with self.db.session() as s:
                batch = [(r.id, r.workspace_id, r.storage_key) for r in due(s, now, BATCH)]
            if not batch:
                break
            for row_id, workspace_id, key in batch:
                prefix = generated_prefix(key)
                scoped = store.scoped(workspace_id)
                # Objects first: a crash after this leaves a row that the next sweep purges.
                objects = scoped.delete_prefix(prefix) if prefix else []
                if not prefix:
                    scoped.delete(key)
                with self.db.session() as s:
                    purged = mark_purged(s, row_id, now)
                if purged:
                    freed = sum(o.size for o in objects)
                    report.purged += 1
                    report.freed_bytes += freed

    def _reconcile(self, store: ObjectStore, now: datetime, report: SweepReport) -> None:
        with self.db.session() as s:
            live = {p for k in live_keys(s) if (p := generated_prefix(k))}
        found = [StoredObject(o.key, o.size, o.last_modified) for o in store.list_all()]
        grace = timedelta(seconds=self.settings.retention_orphan_grace_s)
        for obj in orphans(found, live, now, grace):
            store.scoped(obj.key.split("/", 1)[0]).delete(obj.key)
            report.orphans += 1
            report.orphan_bytes += obj.size

    def _clear_uploads(self, media: ObjectStore, now: datetime, report: SweepReport) -> None:
        grace = timedelta(seconds=self.settings.retention_upload_grace_s)
        cutoff = abandoned_cutoff(now, grace)
        while True:
            with self.db.session() as s:
                batch = [(r.id, r.workspace_id, r.storage_key)
                         for r in abandoned(s, cutoff, BATCH)]  # fmt: skip
            if not batch:
                break
            for row_id, workspace_id, key in batch:
                scoped = media.scoped(workspace_id)
                found = scoped.head(key)
                # The object first: a crash after this leaves the row, the next sweep's.
                scoped.delete(key)
                with self.db.session() as s:
                    drop_reservation(s, row_id)
                report.uploads += 1
                report.upload_bytes += found.size if found is not None else 0
        with self.db.session() as s:  # read before listing: a newer presign is too young
            held, workspaces = reserved_keys(s), workspace_ids(s)
        max_age = timedelta(seconds=self.settings.presign_expiry_s) + grace
        for workspace_id in workspaces:
            scoped = media.scoped(workspace_id)
            listed = [StoredObject(o.key, o.size, o.last_modified)
                      for o in scoped.list(f"{workspace_id}/uploads/")]  # fmt: skip
            for obj in stray_uploads(listed, held, now, max_age):
                scoped.delete(obj.key)
                report.uploads += 1
                report.upload_bytes += obj.size
