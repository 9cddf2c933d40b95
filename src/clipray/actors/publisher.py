"""The publisher: a named, detached Ray actor (one per cluster) that posts publications when
they fall due and pulls their analytics.

Every ``publish_poll_s`` it reaps finished attempts, gives up on an attempt past
``publish_call_timeout_s`` (cancels its Ray task and records a retryable ``PUBLISH_TIMEOUT``),
and starts due publications (``services.publishing.due``: pending ones, scheduled ones whose
time came, retries whose backoff passed) as Ray tasks of ``publish`` resources, up to
``publish_concurrency`` at once. Every ``publish_analytics_interval_s`` it pulls views,
likes and comments of recent posts as one more task.

Durable: the state is the ``publications`` table, not this actor. Ray restarts it
(``max_restarts=-1``); on start it sends what a dead attempt left ``publishing`` back to
``pending`` (``services.publishing.recover``), and a scheduled publication is simply found
due by whichever publisher polls after its time. Never twice: each attempt claims its row
with a conditional update, and only the attempt that holds it records the outcome.

    >>> publisher = ensure_publisher(settings)            # doctest: +SKIP
    >>> ray.get(publisher.status.remote())                # doctest: +SKIP
    {'running': [...], 'recovered': [...], 'counts': {...}}
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import ray

from clipray.actors import ensure_detached, named
from clipray.actors.poller import Poller
from clipray.cluster.resources import actor_options
from clipray.cluster.services import open_database
from clipray.config import Settings
from clipray.services import publishing

PUBLISHER_NAME = "clipray-publisher"
UNSTARTED_FACTOR = 5
"""A task that has not claimed its publication within this many call timeouts (no worker
came, or it hangs before its first query) is cancelled and started again."""
log = logging.getLogger("clipray.publisher")


@dataclass
class _Attempt:
    ref: Any
    started: float
    """``time.monotonic()`` when the task was started (its timeout counts from here)."""


class Publisher:
    """The publisher's logic; :func:`ensure_publisher` runs it as the detached actor."""

    def __init__(self, settings: Settings, *, loop: bool = True) -> None:
        self.settings = settings
        self.db = open_database(settings)
        self.running: dict[str, _Attempt] = {}
        self.analytics_ref: Any | None = None
        self.next_analytics = time.monotonic()
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.recovered = publishing.recover(settings, self.db)
        self.poller = Poller("publisher", self.tick, settings.publish_poll_s)
        if loop:
            self.poller.start()

    # --- actor methods ---------------------------------------------------------------------
    def wake(self) -> None:
        """Look for due publications now instead of at the next poll."""
        self.poller.wake()

    def status(self) -> dict[str, Any]:
        with self.lock:
            running = sorted(self.running)
        return {"running": running, "recovered": self.recovered, "counts": dict(self.counts)}

    def stop(self) -> None:
        self.poller.stop()

    # --- the loop ------------------------------------------------------------------------
    def tick(self) -> None:
        """One pass: reap, time out, start what is due, pull analytics when it is time."""
        with self.lock:
            self._reap()
            self._time_out()
            self._start_due()
            self._analytics()

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def _reap(self) -> None:
        if not self.running:
            return
        refs = [a.ref for a in self.running.values()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for pub_id in [p for p, a in self.running.items() if a.ref in done]:
            att = self.running.pop(pub_id)
            try:
                status = ray.get(att.ref)
                self._count(f"publication.{status.value if status else 'skipped'}")
            except Exception as exc:  # the worker died before recording anything
                log.warning("publication %s attempt crashed: %s", pub_id, exc)
                publishing.abandon(self.settings, self.db, pub_id, publishing.CRASHED,
                                   f"the attempt's worker died: {exc}"[:2000])  # fmt: skip
                self._count("publication.crashed")

    def _time_out(self) -> None:
        """Cancel attempts whose platform call ran past the timeout, counted from their claim
        (``started_at``: a task still waiting for a worker has not started its call), and
        record each as a retryable ``PUBLISH_TIMEOUT``. A task that never even claimed its
        row within :data:`UNSTARTED_FACTOR` timeouts is cancelled and started again."""
        limit = self.settings.publish_call_timeout_s
        now = time.monotonic()
        old = [p for p, a in self.running.items() if now - a.started > limit]
        if not old:
            return
        overdue = set(publishing.overdue(self.db, old, limit))
        for pub_id in old:
            if pub_id not in overdue and now - self.running[pub_id].started < (
                    limit * UNSTARTED_FACTOR):  # fmt: skip
                continue
            att = self.running.pop(pub_id)
            # force: the attempt is blocked in a platform call, which only a kill interrupts
            ray.cancel(att.ref, force=True)
            if pub_id not in overdue:
                self._count("publication.unstarted")
                continue
            recorded = publishing.abandon(
                self.settings, self.db, pub_id, publishing.TIMEOUT,
                f"the attempt took longer than {limit:g} s and was cancelled")  # fmt: skip
            if recorded is not None:
                self._count("publication.timeout")
                log.warning("publication %s: attempt cancelled after %g s", pub_id, limit)

    def _start_due(self) -> None:
        free = self.settings.publish_concurrency - len(self.running)
        if free <= 0:
            return
        task = ray.remote(publishing.run)
        options = actor_options(self.settings.stage("publish"))
        for pub_id in publishing.due(self.db, free + len(self.running)):
            if free <= 0:
                break
            if pub_id in self.running:
                continue
            ref = task.options(**options, max_retries=0, name=f"publish-{pub_id[:8]}").remote(
                self.settings, pub_id)  # fmt: skip
            self.running[pub_id] = _Attempt(ref, time.monotonic())
            free -= 1

    def _analytics(self) -> None:
        if self.analytics_ref is not None:
            done, _ = ray.wait([self.analytics_ref], timeout=0)
            if not done:
                return
            try:
                self.counts["analytics.updated"] = (self.counts.get("analytics.updated", 0)
                                                    + ray.get(self.analytics_ref))  # fmt: skip
            except Exception as exc:
                log.warning("analytics pull failed: %s", exc)
            self.analytics_ref = None
        if time.monotonic() < self.next_analytics:
            return
        self.next_analytics = time.monotonic() + self.settings.publish_analytics_interval_s
        task = ray.remote(publishing.pull_analytics).options(
            **actor_options(self.settings.stage("publish")), max_retries=0,
            name="publish-analytics")  # fmt: skip
        self.analytics_ref = task.remote(self.settings)


PublisherActor = ray.remote(Publisher)


def ensure_publisher(settings: Settings) -> Any:
    """The publisher actor, started if it is not running. Ray restarts it if it dies."""
    return ensure_detached(PublisherActor, PUBLISHER_NAME, settings)


def publisher() -> Any | None:
    """The running publisher's handle, or None."""
    return named(PUBLISHER_NAME)


__all__ = ["PUBLISHER_NAME", "Publisher", "ensure_publisher", "publisher"]
