"""The stream supervisor: a named, detached Ray actor, one per cluster, that runs one
:class:`~clipray.actors.stream_worker.StreamWorker` actor per live stream monitor.

The state lives in the database: the supervisor holds a lease row (``supervisor_leases``)
that it renews every poll; another instance (after Ray restarts this one elsewhere, or a
second cluster on the same database) takes over only once the lease has expired. Holding
it, the supervisor clears claims a dead predecessor left (once, when it takes the lease),
claims runnable monitors (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional update on
SQLite: ``storage/streams.py``), and for each monitor it holds starts a worker with the
resources of stage ``stream``, recreates one that died or whose heartbeat
(``last_seen_at``) is older than ``stream_heartbeat_timeout_s``, and asks the worker of a
paused or stopped monitor to drain and end. Its own stop lets every worker drain.

Workers are the supervisor's own (not detached) actors: if the supervisor dies they die
with it, and Ray's restart of the supervisor (the same actor, so the same lease holder)
starts them again for the monitors it still holds.

    >>> sup = ensure_stream_supervisor(settings)       # doctest: +SKIP
    >>> ray.get(sup.status.remote())                   # doctest: +SKIP
    {'holder': '...', 'leader': True, 'workers': {...}}
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ray

from clipray.actors import NAMESPACE, ensure_detached, named
from clipray.actors.stream_worker import StreamWorkerActor
from clipray.cluster.resources import actor_options
from clipray.cluster.services import open_database
from clipray.config import Settings
from clipray.domain.streams import RUNNABLE, heartbeat_stale
from clipray.domain.time import utcnow
from clipray.storage import streams as store
from clipray.storage.db import Database

SUPERVISOR_NAME = "clipray-stream-supervisor"
LEASE = "stream-supervisor"
"""The lease row's name."""
log = logging.getLogger("clipray.stream_supervisor")


@dataclass
class _Worker:
    handle: Any
    ref: Any
    """``run()``'s result: ready once the worker ended (or died)."""
    name: str
    started: datetime
    stopping_since: float | None = None


class StreamSupervisor:
    """The supervisor's logic; :func:`ensure_stream_supervisor` runs it as the actor.

    Args:
        loop: run :meth:`tick` on a thread every ``stream_supervisor_poll_s`` (tests drive
            ``tick`` themselves with ``loop=False``).
        clock: the time it reads (tests inject one to expire a lease without waiting).
        db: the database (default: from ``settings``).
        holder: who it is in the lease (default: the Ray actor's id, which stays the same
            when Ray restarts it; a fresh id outside an actor).
    """

    def __init__(self, settings: Settings, *, loop: bool = True,
                 clock: Callable[[], datetime] = utcnow, db: Database | None = None,
                 holder: str | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.db = db or open_database(settings)
        self.clock = clock
        self.holder = holder or _actor_id() or f"local-{uuid.uuid4().hex}"
        self.leader = False
        self.started_at = clock()
        """When this instance started (Ray's restart of the actor is a new one)."""
        self.workers: dict[str, _Worker] = {}
        self.restarts = 0
        """Workers recreated because they died or stopped beating."""
        self.failures: dict[str, int] = {}
        """Workers of a monitor in a row that ended before their first heartbeat."""
        self.not_before: dict[str, float] = {}
        """When (``time.monotonic()``) a monitor's next worker may start: a worker that
        dies before it ever beats (a crash at start) is restarted after 1, 2, 4 ... 60 s,
        not every poll."""
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if loop:
            self._thread = threading.Thread(target=self._loop, name="stream-supervisor",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    # --- actor methods ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self.lock:
            return {"holder": self.holder, "leader": self.leader, "restarts": self.restarts,
                    "started_at": self.started_at.isoformat(), "failures": dict(self.failures),
                    "workers": {mid: w.name for mid, w in self.workers.items()}}  # fmt: skip

    def stop(self) -> None:
        """Stop supervising: every worker drains and ends, the claims and the lease go."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.stream_supervisor_poll_s * 4)
        with self.lock:
            for w in self.workers.values():
                self._ask_to_stop(w)
            refs = [w.ref for w in self.workers.values()]
            if refs:
                ray.wait(refs, num_returns=len(refs), timeout=self.settings.stream_drain_timeout_s)
            for w in self.workers.values():
                ray.kill(w.handle, no_restart=True)
            self.workers.clear()
            if self.leader:
                with self.db.session() as s:
                    store.release_claims(s, self.holder)
                    store.release_lease(s, LEASE, self.holder, self.clock())
            self.leader = False

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bad tick (database briefly away) must not end the loop
                log.exception("stream supervisor tick failed")
            self._stop.wait(self.settings.stream_supervisor_poll_s)

    def tick(self) -> None:
        """One pass: renew the lease (or find it taken), claim, start, recreate, stop."""
        with self.lock:
            now = self.clock()
            ttl = self.settings.stream_supervisor_lease_s
            with self.db.session() as s:
                has = store.take_lease(s, LEASE, self.holder, now, ttl)
            if not has:
                if self.leader or self.workers:
                    log.warning("the stream supervisor lease is held elsewhere: stepping down")
                    self._step_down()
                return
            with self.db.session() as s:
                if not self.leader:
                    cleared = store.release_others(s, self.holder)
                    if cleared:
                        log.warning("cleared %d stale stream claims", cleared)
                    self.leader = True
                store.renew_claims(s, self.holder, self.workers, now, ttl)
                room = max(0, self.settings.streams_max_cluster - len(self.workers))
                store.claim_runnable(s, self.holder, now, ttl, room)
                rows = {r.id: (r.status, r.last_seen_at) for r in store.held(s, self.holder)}
            self._reap_stopping()
            for monitor_id, (status, seen) in rows.items():
                if status not in RUNNABLE:
                    self._retire(monitor_id)
                    continue
                self._keep_running(monitor_id, seen, now)
            for monitor_id in [m for m in self.workers if m not in rows]:
                self._retire(monitor_id)  # the claim was lost: someone else runs it

    def _keep_running(self, monitor_id: str, seen: datetime | None, now: datetime) -> None:
        w = self.workers.get(monitor_id)
        if w is not None and w.stopping_since is not None:
            return  # draining after a pause: started again once it has ended
        if w is not None:
            beat = seen is not None and seen >= w.started
            if beat:
                self.failures.pop(monitor_id, None)
            ended = bool(ray.wait([w.ref], timeout=0)[0])
            timeout = self.settings.stream_heartbeat_timeout_s
            if not ended and not heartbeat_stale(seen, w.started, now, timeout,
                                                 self.settings.stream_worker_start_timeout_s):
                return
            why = "ended" if ended else f"sent no heartbeat for {timeout:g} s"
            log.warning("stream %s: worker %s %s; recreating it", monitor_id, w.name, why)
            ray.kill(w.handle, no_restart=True)
            del self.workers[monitor_id]
            self.restarts += 1
            if ended and not beat:
                n = self.failures[monitor_id] = self.failures.get(monitor_id, 0) + 1
                self.not_before[monitor_id] = time.monotonic() + min(2.0 ** (n - 1), 60.0)
        if time.monotonic() < self.not_before.get(monitor_id, 0.0):
            return
        # A worker that failed for good reported ``error`` first: the monitor is then not
        # runnable and never gets here; one that ended otherwise (killed, claim briefly
        # lost) while its monitor should run is started again.
        self.workers[monitor_id] = self._start(monitor_id, now)

    def _start(self, monitor_id: str, now: datetime) -> _Worker:
        name = f"clipray-stream-{monitor_id[:12]}-{uuid.uuid4().hex[:6]}"
        handle = StreamWorkerActor.options(
            name=name, namespace=NAMESPACE, max_restarts=0, max_concurrency=3,
            **actor_options(self.settings.stage("stream")),
        ).remote(self.settings, monitor_id, self.holder)  # fmt: skip
        return _Worker(handle, handle.run.remote(), name, now)

    def _ask_to_stop(self, w: _Worker) -> None:
        if w.stopping_since is None:
            w.handle.stop.remote(drain=True)
            w.stopping_since = time.monotonic()

    def _retire(self, monitor_id: str) -> None:
        """Ask the monitor's worker to drain and end; the claim goes once it has ended."""
        w = self.workers.get(monitor_id)
        if w is None:
            with self.db.session() as s:
                store.release_claims(s, self.holder, [monitor_id])
            return
        self._ask_to_stop(w)

    def _reap_stopping(self) -> None:
        deadline = self.settings.stream_drain_timeout_s
        for monitor_id, w in list(self.workers.items()):
            if w.stopping_since is None:
                continue
            ended = bool(ray.wait([w.ref], timeout=0)[0])
            if ended or time.monotonic() - w.stopping_since > deadline:
                ray.kill(w.handle, no_restart=True)
                del self.workers[monitor_id]
                self.failures.pop(monitor_id, None)
                self.not_before.pop(monitor_id, None)

    def _step_down(self) -> None:
        for w in self.workers.values():
            ray.kill(w.handle, no_restart=True)  # another supervisor runs these streams now
        self.workers.clear()
        self.leader = False


def _actor_id() -> str | None:
    if not ray.is_initialized():
        return None
    actor_id = ray.get_runtime_context().get_actor_id()
    return f"actor-{actor_id}" if actor_id else None


StreamSupervisorActor = ray.remote(StreamSupervisor)


def ensure_stream_supervisor(settings: Settings) -> Any:
    """The supervisor actor, started if it is not running. Ray restarts it if it dies."""
    return ensure_detached(StreamSupervisorActor, SUPERVISOR_NAME, settings)


def stream_supervisor() -> Any | None:
    """The running supervisor's handle, or None."""
    return named(SUPERVISOR_NAME)


__all__ = ["LEASE", "SUPERVISOR_NAME", "StreamSupervisor", "ensure_stream_supervisor",
           "stream_supervisor"]  # fmt: skip
