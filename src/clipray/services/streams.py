"""Live stream monitors, as clients drive them: start, list, read, pause, resume, stop.

A monitor is a row the stream supervisor (``actors/stream_supervisor.py``) picks up: it
claims the runnable ones and runs one worker actor per monitor. These functions only write
what a client asked for, checked first: the source URL passes the same allowlist and
public-address rules as a job's (``pipelines/fetch.check_url``; RTMP and SRT besides
http(s)), or ``rtmp-push`` asks for push ingest (a port and a per-monitor stream key,
stored encrypted); the settings' bounds (``domain/streams.MonitorSettings``); the
concurrent-stream quotas (429 with ``Retry-After``); and the state rules for pause, resume
and stop. The HTTP routes and the CLI call them and only format the monitor.

    >>> made = create(settings, db, ws_id, user_id, "https://www.twitch.tv/x", {})  # doctest: +SKIP
    >>> control(settings, db, ws_id, made.monitor.id, Control.STOP)  # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from clipray.config import Settings
from clipray.domain.errors import CodedError, Unavailable
from clipray.domain.stream_events import StreamEventType
from clipray.domain.streams import (
    PUSH,
    STREAM_SCHEMES,
    Control,
    MonitorSettings,
    MonitorStatus,
    after,
    check_stream_quota,
)
from clipray.domain.time import utcnow
from clipray.pipelines.fetch import UrlRefusedError, check_url
from clipray.pipelines.limits import url_policy
from clipray.services.access import owned
from clipray.services.connections import keyring
from clipray.storage import stream_events as feed
from clipray.storage import streams as store
from clipray.storage.db import Database
from clipray.storage.orm import StreamMonitor

__all__ = ["Created", "buffer_dir", "control", "create", "get", "ingest_url", "page",
           "stream_key"]  # fmt: skip

_PORT_TRIES = 3
"""Attempts at a free push port: two requests may pick the same one; the unique index
turns the loser away and it picks again."""


@dataclass(frozen=True)
class Created:
    monitor: StreamMonitor
    ingest_url: str | None
    """Push ingest only: where OBS pushes (``rtmp://host:port/live/{stream key}``)."""


class PushPortsExhausted(Unavailable):
    def __init__(self, first: int, last: int) -> None:
        super().__init__("STREAM_PUSH_PORTS_EXHAUSTED",
                         f"every push ingest port ({first}-{last}) is taken: stop a push "
                         "stream or widen CLIPRAY_STREAM_PUSH_PORTS")  # fmt: skip


def buffer_dir(settings: Settings, monitor_id: str) -> Path:
    """Where the monitor's ring buffer lives: ``CLIPRAY_HOME/streams/{id}``."""
    return settings.home_dir / "streams" / monitor_id


def ingest_url(settings: Settings, monitor: StreamMonitor, key: str) -> str:
    return f"rtmp://{settings.stream_push_host}:{monitor.push_port}/live/{key}"


def stream_key(settings: Settings, monitor: StreamMonitor) -> str | None:
    """The push monitor's plain stream key (the worker needs it to accept the push)."""
    if monitor.stream_key is None:
        return None
    return keyring(settings).decrypt(monitor.stream_key, monitor.stream_key_version)[0]


def check_source(settings: Settings, url: str) -> str:
    """The normalised source URL, or a 400 with the ``URL_*`` code that refuses it."""
    try:
        return check_url(url, url_policy(settings), schemes=STREAM_SCHEMES)
    except UrlRefusedError as exc:
        raise CodedError(exc.code, str(exc), status=400) from exc


def create(settings: Settings, db: Database, workspace_id: str, user_id: str | None,
           url: str, raw_settings: dict[str, Any] | None = None) -> Created:  # fmt: skip
    """Record a new monitor (``idle``, committed) for the supervisor to pick up.

    Raises:
        CodedError: 400 ``URL_*`` (the source is refused), 422 ``STREAM_SETTINGS_INVALID``,
            429 ``STREAM_QUOTA_EXCEEDED`` / ``STREAM_CAPACITY_EXCEEDED`` with
            ``Retry-After``, 503 ``STREAM_PUSH_PORTS_EXHAUSTED`` or ``FERNET_KEYS_MISSING``.
    """
    chosen = MonitorSettings.of(raw_settings)
    push = url.strip() == PUSH
    source = None if push else check_source(settings, url)
    key = secrets.token_urlsafe(24) if push else None
    sealed = keyring(settings).encrypt(key) if key else (None, None)
    for _ in range(_PORT_TRIES):
        try:
            with db.session() as s:
                store.lock_workspace(s, workspace_id)
                check_stream_quota(store.live_count(s, workspace_id),
                                   settings.quota_concurrent_streams, store.live_count(s),
                                   settings.streams_max_cluster,
                                   settings.stream_retry_after_s)  # fmt: skip
                row = StreamMonitor(workspace_id=workspace_id, created_by=user_id, url=source,
                                    push_port=_free_port(settings, s) if push else None,
                                    stream_key=sealed[0], stream_key_version=sealed[1],
                                    settings=chosen.as_json(), status=MonitorStatus.IDLE,
                                    clips_generated=0)  # fmt: skip
                s.add(row)
                s.flush()
                s.expunge(row)
        except IntegrityError:  # a concurrent request took the same push port
            continue
        return Created(row, ingest_url(settings, row, key) if key else None)
    first, last = settings.stream_push_ports
    raise PushPortsExhausted(first, last)


def _free_port(settings: Settings, s: Any) -> int:
    first, last = settings.stream_push_ports
    used = store.used_push_ports(s)
    for port in range(first, last + 1):
        if port not in used:
            return port
    raise PushPortsExhausted(first, last)


def page(db: Database, workspace_id: str, limit: int, offset: int = 0
         ) -> tuple[list[StreamMonitor], int]:  # fmt: skip
    """The workspace's monitors, newest first, and how many there are."""
    with db.session() as s:
        rows, total = store.page(s, workspace_id, limit, offset)
        s.expunge_all()
        return rows, total


def get(db: Database, workspace_id: str, monitor_id: str) -> StreamMonitor:
    """The monitor: 404 ``STREAM_NOT_FOUND``, 403 when it is another workspace's."""
    with db.session() as s:
        row = owned(s, StreamMonitor, monitor_id, workspace_id, "stream")
        s.expunge(row)
        return row


def control(settings: Settings, db: Database, workspace_id: str, monitor_id: str,
            what: Control) -> StreamMonitor:  # fmt: skip
    """Pause, resume or stop the monitor (committed, with a ``status`` message on its
    event feed); the supervisor stops or starts its worker at its next look. Stopping also
    removes the monitor's buffer directory.

    Raises:
        CodedError: 404/403 as :func:`get`; 409 ``STREAM_NOT_PAUSABLE`` /
            ``STREAM_NOT_RESUMABLE`` / ``STREAM_NOT_STOPPABLE`` from its state.
    """
    with db.session() as s:
        row = owned(s, StreamMonitor, monitor_id, workspace_id, "stream")
        row.status = after(what, row.status)
        if what is Control.STOP:
            row.stopped_at = utcnow()
        if what is Control.RESUME:
            row.last_error = None
        s.flush()
        # The stream's watchers see a client's pause, resume and stop as they see the
        # worker's reports.
        feed.append(s, monitor_id, StreamEventType.STATUS,
                    {"status": row.status.value, "error": None}, utcnow())  # fmt: skip
        s.expunge(row)
    if what is Control.STOP:
        # The worker drains into it until the supervisor stops it; whatever it writes after
        # this, it removes itself when it sees the stop.
        shutil.rmtree(buffer_dir(settings, monitor_id), ignore_errors=True)
    return row
