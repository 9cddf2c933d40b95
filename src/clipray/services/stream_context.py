"""What a stream worker and its pipeline agree on: the context the worker hands the
pipeline's factory (``CLIPRAY_STREAM_PIPELINE=module:factory``), and what the pipeline must
offer the worker. Here, below both, so that the worker (an actor) and the live pipeline (a
service) share one definition."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from clipray.config import Settings
from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import MonitorSettings, MonitorStatus, StreamHealth


class StreamPipeline(Protocol):
    """What a worker drives. ``step`` does one short unit of work (read a segment, analyse
    a window, cut a clip) and returns within about a heartbeat interval: a worker whose
    step hangs stops beating and is recreated."""

    def step(self) -> None: ...

    def drain(self) -> None:
        """Flush what is pending (buffered media, clips being cut) before a stop."""

    def close(self) -> None:
        """Free everything: processes, sockets, files."""


@dataclass
class WorkerContext:
    """What a pipeline is given: its monitor, where its buffer lives, and how to report."""

    monitor_id: str
    workspace_id: str
    url: str | None
    """The checked source URL; None for push ingest."""
    push_port: int | None
    stream_key: str | None
    """Push ingest: the key OBS must push with (``rtmp://host:port/live/{key}``)."""
    options: MonitorSettings
    buffer_dir: Path
    settings: Settings
    _report: Callable[[MonitorStatus, str | None], bool] = field(repr=False)
    _clip: Callable[[int], bool] = field(repr=False)
    _event: Callable[[StreamEventType, dict[str, Any]], bool] | None = field(default=None,
                                                                            repr=False)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set when the worker was asked to stop: a long step may look at it and return."""
    _health: Callable[[StreamHealth], bool] | None = field(default=None, repr=False)

    def report(self, status: MonitorStatus, error: str | None = None) -> bool:
        """Record ``connecting``, ``active`` or ``error`` (with why); False when the monitor
        was paused or stopped meanwhile, or the claim lost (the worker is ending)."""
        return self._report(status, error)

    def clip_made(self, n: int = 1) -> bool:
        """Count ``n`` clips on the monitor (``clips_generated``)."""
        return self._clip(n)

    def event(self, kind: StreamEventType, payload: dict[str, Any]) -> bool:
        """Tell the stream's watchers (``GET /api/streams/{id}/events``, ``WS
        /ws/stream/{id}``): an ``event`` the analysis detected, a ``clip`` stored. Recorded
        only while the worker holds the monitor; False when it was not (or nobody listens)."""
        return self._event(kind, payload) if self._event is not None else False

    def health(self, health: StreamHealth) -> bool:
        """Record how the stream keeps up (buffer, ingest and transcript lag) on the monitor;
        False when the claim was lost or nothing records it."""
        return self._health(health) if self._health is not None else False
