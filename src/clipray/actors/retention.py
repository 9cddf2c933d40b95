"""The retention keeper: a named, detached Ray actor that sweeps the app-owned bucket and the
abandoned uploads every ``retention_interval_s`` (the sweep itself: ``services/retention.py``).

Ray restarts it (``max_restarts=-1``); the time of the last finished sweep is in the
database, so a keeper that starts after a longer pause sweeps at once instead of waiting
another interval. Counts and freed bytes are Ray metrics.

    >>> keeper = ensure_retention_keeper(settings)                   # doctest: +SKIP
    >>> ray.get(keeper.sweep.remote("2026-12-01T00:00:00+00:00"))    # doctest: +SKIP
    {'purged': 3, 'freed_bytes': 12345678, 'orphans': 0, ...}
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import ray

from clipray.actors import ensure_detached, named
from clipray.config import Settings
from clipray.services.retention import KEEPER_NAME, Sweeper, SweepReport, log
from clipray.storage.objects import Buckets
from clipray.storage.orm import utcnow

__all__ = ["KEEPER_NAME", "RetentionKeeper", "SweepReport", "ensure_retention_keeper",
           "retention_keeper"]  # fmt: skip


class _Metrics:
    def __init__(self) -> None:
        from ray.util.metrics import Counter

        self.purged = Counter("clipray_retention_purged", "Generated clips purged")
        self.freed = Counter("clipray_retention_freed_bytes", "Bytes freed on the app bucket")
        self.orphans = Counter("clipray_retention_orphans", "Orphaned objects deleted")
        self.uploads = Counter("clipray_retention_uploads", "Unconfirmed uploads deleted")
        self.upload_bytes = Counter("clipray_retention_upload_bytes",
                                    "Unconfirmed upload bytes freed")  # fmt: skip

    def record(self, report: SweepReport) -> None:
        for counter, value in ((self.purged, report.purged), (self.orphans, report.orphans),
                               (self.freed, report.freed_bytes + report.orphan_bytes),
                               (self.uploads, report.uploads),
                               (self.upload_bytes, report.upload_bytes)):  # fmt: skip
            if value:
                counter.inc(value)


class RetentionKeeper:
    """The sweep on its interval; :func:`ensure_retention_keeper` runs it as the detached
    actor. ``buckets`` replaces the configured storage (tests inject faults into it)."""

    def __init__(self, settings: Settings, *, loop: bool = True,
                 buckets: Buckets | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.sweeper = Sweeper(settings, buckets=buckets)
        self.lock = threading.Lock()
        self.last: SweepReport | None = None
        self.metrics = _Metrics() if ray.is_initialized() else None
        """Ray metrics where this runs in Ray (the actor); ``clipray retention sweep`` by
        hand runs it in the CLI's process, which exports none."""
        self._stop = threading.Event()
        self.next_sweep_at: datetime | None = None
        """When the loop sweeps next (None without a loop)."""
        if loop:
            first = self.sweeper.first_wait()
            self.next_sweep_at = utcnow() + timedelta(seconds=first)
            threading.Thread(target=self._loop, args=(first,), name="retention",
                             daemon=True).start()  # fmt: skip

    def _loop(self, wait: float) -> None:
        while not self._stop.wait(wait):
            try:
                self.sweep()
            except Exception:  # the bucket or the database briefly away: next interval
                log.exception("retention sweep failed")
            wait = self.settings.retention_interval_s
            self.next_sweep_at = utcnow() + timedelta(seconds=wait)

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {
            "last": asdict(self.last) if self.last else None,
            "next_sweep_at": self.next_sweep_at.isoformat() if self.next_sweep_at else None,
        }

    def sweep(self, now: str | datetime | None = None) -> dict[str, Any]:
        """One sweep at ``now`` (ISO-8601 or a datetime; default the current time)."""
        at = datetime.fromisoformat(now) if isinstance(now, str) else now or utcnow()
        with self.lock:  # the loop and a manual sweep never interleave
            report = self.sweeper.sweep(at)
        if self.metrics is not None:
            self.metrics.record(report)
        self.last = report
        return asdict(report)


RetentionKeeperActor = ray.remote(RetentionKeeper)


def ensure_retention_keeper(settings: Settings) -> Any:
    """The keeper actor, started if it is not running. Ray restarts it if it dies."""
    return ensure_detached(RetentionKeeperActor, KEEPER_NAME, settings)


def retention_keeper() -> Any | None:
    """The running keeper's handle, or None."""
    return named(KEEPER_NAME)
