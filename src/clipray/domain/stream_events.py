"""What a live stream tells its watchers, as it happens: the vocabulary of the stream's
event feed (``GET /api/streams/{id}/events``, ``WS /ws/stream/{id}``, ``clipray streams
watch``).

Each message is one JSON object with a ``type``: ``event`` (a signal the live analysis
detected: ``kind``, ``t_start``, ``t_end``, ``strength``, ``detail``), ``clip`` (a clip was
stored: ``id``, ``stream_start``, ``stream_end``, ``score``, ``available_at``) or ``status``
(the monitor's status changed: ``status``, ``error``), plus its ``seq`` (the monitor's own
sequence, what ``Last-Event-ID`` resumes after) and ``at`` (when it was recorded, UTC).
A feed ends with ``end`` once the monitor is stopped and its worker has let go.

    >>> message(3, StreamEventType.STATUS, {"status": "active", "error": None},
    ...         datetime(2026, 12, 6, 18, 0, tzinfo=UTC))
    {'type': 'status', 'seq': 3, 'at': '2026-12-06T18:00:00Z', 'status': 'active', 'error': None}
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from clipray.domain.time import rfc3339


class StreamEventType(enum.StrEnum):
    EVENT = "event"
    """A signal of the live analysis (energy, keyword, scene, sentiment, chat)."""
    CLIP = "clip"
    """A clip of the stream was stored and can be watched."""
    STATUS = "status"
    """The monitor's status changed (the worker's report, or a client's pause or stop)."""


END: Final = "end"
"""The type of a feed's last message: the monitor is stopped and nothing more can come."""
RESERVED: Final = frozenset({"type", "seq", "at"})
"""Keys a payload cannot use: the message's own."""


def message(seq: int, kind: StreamEventType, payload: Mapping[str, Any],
            at: datetime) -> dict[str, Any]:  # fmt: skip
    """The message watchers get for one recorded event."""
    return {"type": kind.value, "seq": seq, "at": rfc3339(at),
            **{k: v for k, v in payload.items() if k not in RESERVED}}  # fmt: skip


def end_message(status: str | None) -> dict[str, Any]:
    """The last message of a feed (``status`` None: the monitor is gone)."""
    return {"type": END, "status": status or "deleted"}
