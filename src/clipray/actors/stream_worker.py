"""The stream worker: one Ray actor per live stream monitor, started by the supervisor.

Its lifecycle is what lives here: it records a heartbeat (``last_seen_at``) while its
supervisor's claim on the monitor holds, reports the monitor's status, and drives a
**pipeline object** (ingest, ring buffer, real-time analysis, clip assembly) one short step
at a time until the monitor is paused or stopped, its claim is lost, or :meth:`stop` asks
it to end; a draining stop lets the pipeline flush its buffer and pending clips first.

The pipeline comes from settings (``CLIPRAY_STREAM_PIPELINE=module:factory``): the
factory is called with a :class:`WorkerContext` and returns an object with ``step()``,
``drain()`` and ``close()`` (:class:`StreamPipeline`). With none configured the worker
reports ``error`` (``STREAM_PIPELINE_MISSING``): clipray does not produce stream clips yet.

    >>> worker = StreamWorkerActor.remote(settings, monitor_id, holder)   # doctest: +SKIP
    >>> done = worker.run.remote()                                        # doctest: +SKIP
    >>> worker.stop.remote(drain=True)                                    # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import ray

from clipray.cluster.services import open_database
from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import RUNNABLE, MonitorSettings, MonitorStatus, StreamHealth
from clipray.domain.time import utcnow
from clipray.observability import metrics
from clipray.services import stream_health
from clipray.services.stream_context import StreamPipeline, WorkerContext
from clipray.services.streams import buffer_dir, stream_key
from clipray.storage import stream_events as feed
from clipray.storage import streams as store
from clipray.storage.db import Database
from clipray.storage.orm import StreamMonitor

log = logging.getLogger("clipray.stream_worker")
PIPELINE_MISSING = "STREAM_PIPELINE_MISSING"


def load_factory(path: str) -> Callable[[WorkerContext], StreamPipeline]:
    """``module:attr`` (or ``module.attr``) -> the callable it names."""
    module, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError, ValueError) as exc:
        raise CodedError(PIPELINE_MISSING, f"stream pipeline {path!r} cannot be loaded: {exc}",
                         status=503) from exc  # fmt: skip


class StreamWorker:
    """The worker's logic; the supervisor runs it as :data:`StreamWorkerActor`."""

    def __init__(self, settings: Settings, monitor_id: str, holder: str,
                 db: Database | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.monitor_id = monitor_id
        self.holder = holder
        self.db = db or open_database(settings)
        self._stop = threading.Event()
        self._drain = True
        self.steps = 0
        self.ended: str | None = None
        self._status: MonitorStatus | None = None
        """The status last recorded: a report that changes it is also a ``status`` event."""

    # --- actor methods ---------------------------------------------------------------------
    def stop(self, drain: bool = True) -> None:
        """End :meth:`run` after the current step; ``drain`` lets the pipeline flush first."""
        self._drain = drain
        self._stop.set()

    def status(self) -> dict[str, Any]:
        return {"monitor_id": self.monitor_id, "steps": self.steps, "ended": self.ended}

    def run(self) -> str:
        """Drive the pipeline until the worker should end; why it ended."""
        ctx = None
        try:
            ctx = self._context()
            if self.settings.stream_pipeline is None:
                raise CodedError(PIPELINE_MISSING, "no stream pipeline is configured "
                                 "(CLIPRAY_STREAM_PIPELINE): stream clips are not produced "
                                 "yet", status=503)  # fmt: skip
            pipeline = load_factory(self.settings.stream_pipeline)(ctx)
        except Exception as exc:
            return self._fail(exc)
        try:
            self.ended = self._loop(ctx, pipeline)
        except Exception as exc:
            log.exception("stream %s: the pipeline failed", self.monitor_id)
            self.ended = self._fail(exc)
        finally:
            metrics.stream_active(self.monitor_id, False)
            ctx.stopping.set()
            try:
                if self._drain:
                    pipeline.drain()
            finally:
                pipeline.close()
                self._tidy()
        return self.ended or "stopped"

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self, ctx: WorkerContext, pipeline: StreamPipeline) -> str:
        interval = self.settings.stream_heartbeat_interval_s
        last_beat = -interval
        while not self._stop.is_set():
            if time.monotonic() - last_beat >= interval:
                with self.db.session() as s:
                    status = store.beat(s, self.monitor_id, self.holder, utcnow())
                last_beat = time.monotonic()
                if status is None:
                    return "claim lost"
                if status not in RUNNABLE:
                    return status.value
                # Set again each beat: Ray's agent drops a gauge no one has set lately.
                metrics.stream_active(self.monitor_id, True)
            pipeline.step()
            self.steps += 1
        return "asked to stop"

    def _context(self) -> WorkerContext:
        with self.db.session() as s:
            row = s.get(StreamMonitor, self.monitor_id)
            if row is None:
                raise CodedError("STREAM_NOT_FOUND", f"stream {self.monitor_id} is gone")
            key = stream_key(self.settings, row)
            folder = buffer_dir(self.settings, row.id)
            folder.mkdir(parents=True, exist_ok=True)
            self._status = row.status
            return WorkerContext(
                row.id, row.workspace_id, row.url, row.push_port, key,
                MonitorSettings.of(row.settings), folder, self.settings,
                self._write_report, self._write_clips, self._write_event,
                _health=self._write_health,
            )  # fmt: skip

    def _write_report(self, status: MonitorStatus, error: str | None) -> bool:
        now = utcnow()
        with self.db.session() as s:
            done = store.report(s, self.monitor_id, self.holder, status, now, error)
            if done and status is not self._status:
                feed.append(s, self.monitor_id, StreamEventType.STATUS,
                            {"status": status.value, "error": error}, now, holder=self.holder,
                            keep=self.settings.stream_events_keep)  # fmt: skip
        if done:
            self._status = status
        return done

    def _write_event(self, kind: StreamEventType, payload: dict[str, Any]) -> bool:
        """One message of the stream's feed, while this worker's claim holds (pruning the
        feed to the newest ``stream_events_keep``)."""
        with self.db.session() as s:
            seq = feed.append(s, self.monitor_id, kind, payload, utcnow(), holder=self.holder,
                              keep=self.settings.stream_events_keep)  # fmt: skip
        return seq is not None

    def _write_health(self, health: StreamHealth) -> bool:
        return stream_health.record(self.db, self.monitor_id, self.holder, health)

    def _write_clips(self, n: int) -> bool:
        with self.db.session() as s:
            return store.add_clips(s, self.monitor_id, self.holder, n)

    def _fail(self, exc: BaseException) -> str:
        code = exc.code if isinstance(exc, CodedError) else type(exc).__name__
        message = f"{code}: {exc}"
        self._write_report(MonitorStatus.ERROR, message)
        self.ended = message
        return message

    def _tidy(self) -> None:
        """A stopped monitor's buffer goes with it (the API removed it already, but this
        worker may have written to it since)."""
        with self.db.session() as s:
            row = s.get(StreamMonitor, self.monitor_id)
            gone = row is None or row.status is MonitorStatus.STOPPED
        if gone:
            shutil.rmtree(buffer_dir(self.settings, self.monitor_id), ignore_errors=True)


StreamWorkerActor = ray.remote(StreamWorker)

__all__ = ["PIPELINE_MISSING", "StreamWorker", "StreamWorkerActor", "load_factory"]
