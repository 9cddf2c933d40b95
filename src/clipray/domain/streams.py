"""Live streams' vocabulary and the pure rules of their control plane: the states a stream
monitor moves through, its settings with their bounds, what a client may do in each state,
the quota decision, and when a supervisor's lease or a worker's heartbeat has lapsed.

A monitor's life::

    idle --worker starts--> connecting <--> active          (the worker reports these)
      \\                        \\-> error (the source stayed down; resume tries again)
       pause --> paused --resume--> idle
       stop (from any state but stopped) --> stopped (final)

    >>> MonitorSettings.of({"keywords": ["goal"], "max_duration": 45}).max_duration
    45.0
    >>> can(Control.PAUSE, MonitorStatus.ACTIVE)
    True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

from clipray.domain.errors import CodedError, Conflict, RateLimited

PUSH: Final = "rtmp-push"
"""The ``url`` a client sends to ask for push ingest (OBS pushes RTMP to ``ingest_url``)."""
STREAM_SCHEMES: Final[Mapping[str, int]] = MappingProxyType(
    {"http": 80, "https": 443, "rtmp": 1935, "rtmps": 443, "srt": 9000})
"""Schemes a pulled stream may use (HLS/DASH or a platform page over http(s), RTMP, SRT)
and their default ports."""


class MonitorStatus(enum.StrEnum):
    IDLE = "idle"
    """Waiting for the supervisor to start its worker."""
    CONNECTING = "connecting"
    """The worker runs and (re)connects to the source."""
    ACTIVE = "active"
    """Media arrives."""
    PAUSED = "paused"
    """A client paused it: no worker runs, the monitor keeps its settings."""
    ERROR = "error"
    """The worker gave up (``last_error`` says why); resume tries again."""
    STOPPED = "stopped"
    """Final: a client stopped it; its buffer is gone."""


RUNNABLE: Final = frozenset({MonitorStatus.IDLE, MonitorStatus.CONNECTING, MonitorStatus.ACTIVE})
"""States in which a worker should run: the supervisor claims these monitors."""
LIVE: Final = frozenset({*RUNNABLE, MonitorStatus.PAUSED, MonitorStatus.ERROR})
"""States that count against the concurrent-stream quotas (all but stopped): a paused or
failed monitor can be resumed at any time, so it keeps its place."""
REPORTABLE: Final = frozenset({MonitorStatus.CONNECTING, MonitorStatus.ACTIVE,
                               MonitorStatus.ERROR})  # fmt: skip
"""States a worker may report; the others are a client's (pause, stop) or the supervisor's."""


class Control(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


_FROM: Final[dict[Control, frozenset[MonitorStatus]]] = {
    Control.PAUSE: RUNNABLE,
    Control.RESUME: frozenset({MonitorStatus.PAUSED, MonitorStatus.ERROR}),
    Control.STOP: LIVE,
}
_TO: Final[dict[Control, MonitorStatus]] = {
    Control.PAUSE: MonitorStatus.PAUSED,
    Control.RESUME: MonitorStatus.IDLE,
    Control.STOP: MonitorStatus.STOPPED,
}


def can(control: Control, status: MonitorStatus) -> bool:
    """Whether ``control`` applies to a monitor in ``status``."""
    return status in _FROM[control]


def after(control: Control, status: MonitorStatus) -> MonitorStatus:
    """The status ``control`` moves a monitor in ``status`` to.

    Raises:
        StreamStateError: 409 ``STREAM_NOT_PAUSABLE`` / ``..._RESUMABLE`` / ``..._STOPPABLE``.
    """
    if not can(control, status):
        raise StreamStateError(control, status)
    return _TO[control]


class StreamStateError(Conflict):
    def __init__(self, control: Control, status: MonitorStatus) -> None:
        word = {Control.PAUSE: "PAUSABLE", Control.RESUME: "RESUMABLE",
                Control.STOP: "STOPPABLE"}[control]  # fmt: skip
        super().__init__(f"STREAM_NOT_{word}", f"a {status.value} stream cannot {control.value}",
                         detail={"status": status.value})  # fmt: skip


class StreamSettingsError(CodedError):
    """A monitor's settings are out of bounds (422 ``STREAM_SETTINGS_INVALID``)."""

    def __init__(self, message: str) -> None:
        super().__init__("STREAM_SETTINGS_INVALID", message)


# --- settings ------------------------------------------------------------------------------
DURATION_BOUNDS: Final = (5.0, 180.0)
"""Seconds a live clip may last: a few seconds of reaction at least, three minutes at most
(the ring buffer holds ten by default, and a live clip is a moment, not a segment)."""
MAX_KEYWORDS: Final = 50
KEYWORD_MAX_LEN: Final = 64
CLIPS_PER_HOUR_BOUNDS: Final = (1, 120)
"""At most one clip every 30 s on average: more would flood the review queue."""
Aspect = Literal["9:16", "1:1", "16:9"]
CaptionStyle = Literal["highlight_word", "karaoke", "pop_in", "none"]
ASPECTS: Final = ("9:16", "1:1", "16:9")
CAPTION_STYLES: Final = ("highlight_word", "karaoke", "pop_in", "none")


@dataclass(frozen=True)
class MonitorSettings:
    """What a monitor makes of its stream; stored as JSON on the monitor."""

    min_duration: float = 15.0
    """Shortest clip, in seconds."""
    max_duration: float = 45.0
    """Longest clip, in seconds."""
    keywords: tuple[str, ...] = field(default_factory=tuple)
    """Words that trigger an event when spoken (on top of the defaults of the analysis)."""
    caption_style: CaptionStyle = "highlight_word"
    aspect: Aspect = "9:16"
    max_clips_per_hour: int = 12
    """A cap per monitor, so that a loud stream does not bury its workspace in clips."""

    def __post_init__(self) -> None:
        lo, hi = DURATION_BOUNDS
        for name in ("min_duration", "max_duration"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise StreamSettingsError(f"{name} must be a number of seconds")
            if not lo <= value <= hi:
                raise StreamSettingsError(f"{name} must be between {lo:g} and {hi:g} s")
            object.__setattr__(self, name, float(value))
        if self.min_duration > self.max_duration:
            raise StreamSettingsError("min_duration is above max_duration")
        if len(self.keywords) > MAX_KEYWORDS:
            raise StreamSettingsError(f"at most {MAX_KEYWORDS} keywords")
        words = []
        for word in self.keywords:
            if not isinstance(word, str) or not word.strip():
                raise StreamSettingsError("a keyword must be a non-empty string")
            if len(word) > KEYWORD_MAX_LEN or any(ord(c) < 0x20 or ord(c) == 0x7F for c in word):
                raise StreamSettingsError(f"a keyword is one line of at most {KEYWORD_MAX_LEN} "
                                          "characters")  # fmt: skip
            words.append(word.strip())
        object.__setattr__(self, "keywords", tuple(dict.fromkeys(words)))
        if self.aspect not in ASPECTS:
            raise StreamSettingsError(f"aspect must be one of {', '.join(ASPECTS)}")
        if self.caption_style not in CAPTION_STYLES:
            raise StreamSettingsError(f"caption_style must be one of {', '.join(CAPTION_STYLES)}")
        lo_c, hi_c = CLIPS_PER_HOUR_BOUNDS
        if isinstance(self.max_clips_per_hour, bool) or not isinstance(
                self.max_clips_per_hour, int) or not lo_c <= self.max_clips_per_hour <= hi_c:
            raise StreamSettingsError(f"max_clips_per_hour must be an integer from {lo_c} "
                                      f"to {hi_c}")  # fmt: skip

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> MonitorSettings:
        """From stored or client JSON; unknown keys are refused (a misspelt option would
        silently fall back to its default)."""
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise StreamSettingsError(f"unknown settings: {', '.join(unknown)}")
        if "keywords" in raw:
            if not isinstance(raw["keywords"], list | tuple):
                raise StreamSettingsError("keywords must be a list of strings")
            raw["keywords"] = tuple(raw["keywords"])
        return cls(**raw)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["keywords"] = list(self.keywords)
        return out


# --- quotas --------------------------------------------------------------------------------
def check_stream_quota(workspace_live: int, workspace_limit: int, cluster_live: int,
                       cluster_limit: int, retry_after_s: int) -> None:  # fmt: skip
    """Refuse one more stream beyond the workspace's or the cluster's concurrent streams.

    Raises:
        RateLimited: 429 ``STREAM_QUOTA_EXCEEDED`` (the workspace's) or
            ``STREAM_CAPACITY_EXCEEDED`` (the cluster's), with ``Retry-After``: a stream
            that ends frees its place.
    """
    if workspace_live >= workspace_limit:
        raise RateLimited("STREAM_QUOTA_EXCEEDED",
                          f"this workspace already has {workspace_live} of its {workspace_limit} "
                          "concurrent streams: stop one first", retry_after=retry_after_s,
                          detail={"limit": workspace_limit, "live": workspace_live})  # fmt: skip
    if cluster_live >= cluster_limit:
        raise RateLimited("STREAM_CAPACITY_EXCEEDED",
                          f"the cluster already watches its maximum of {cluster_limit} streams",
                          retry_after=retry_after_s, detail={"limit": cluster_limit})  # fmt: skip


# --- leases and heartbeats -----------------------------------------------------------------
def lease_lapsed(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a lease (the supervisor's, or a supervisor's claim on a monitor) that runs
    until ``expires_at`` may be taken by someone else at ``now``."""
    return expires_at is None or expires_at <= now


def heartbeat_stale(last_seen_at: datetime | None, started_at: datetime, now: datetime,
                    timeout_s: float, start_timeout_s: float) -> bool:  # fmt: skip
    """Whether a worker started at ``started_at`` that last reported at ``last_seen_at`` is
    taken for dead at ``now``: no heartbeat for ``timeout_s``. A worker that has not beaten
    since it started (a beat from before is its predecessor's) is given ``start_timeout_s``:
    a new actor waits for its resources and a process, which takes longer than a beat."""
    if last_seen_at is None or last_seen_at < started_at:
        return now - started_at > timedelta(seconds=start_timeout_s)
    return now - last_seen_at > timedelta(seconds=timeout_s)


# --- health --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamHealth:
    """How a stream's worker is keeping up, as it measured itself at ``measured_at``.

    Stream times count media received (the ring buffer's clock); wall times are UTC. The
    worker reports one about once a second; it is stored on the monitor as JSON.
    """

    measured_at: datetime
    """The wall clock (UTC) the figures were taken at."""
    stream_time_s: float
    """The stream clock then: the end of the newest segment received."""
    buffer_seconds: float
    """Seconds of media the ring buffer holds."""
    buffer_bytes: int
    ingest_lag_s: float | None
    """How far behind the source the newest media is: ``now - received_at`` of the newest
    segment, plus how much later than real time that segment arrived compared with the
    best-delivered segment since the source (re)connected (``received_at - end_s``, whose
    minimum anchors the source's clock). The platform's own delay before its first segment
    is not measurable here, so this is a lower bound. None before any segment arrived."""
    transcript_lag_s: float | None
    """``stream_time_s`` minus the end of the newest audio the speech recognition has
    transcribed: how far the keyword and sentiment signals trail the stream. None until a
    first window was transcribed."""

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["measured_at"] = self.measured_at.astimezone(UTC).isoformat()
        return out

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> StreamHealth:
        fields = {k: raw.get(k) for k in cls.__dataclass_fields__}
        fields["measured_at"] = datetime.fromisoformat(str(raw["measured_at"]))
        return cls(**fields)


def ingest_lag_s(now: float, received_at: float, end_s: float, anchor: float) -> float:
    """:attr:`StreamHealth.ingest_lag_s` of the newest segment (landed at Unix time
    ``received_at``, ending at stream time ``end_s``) at Unix time ``now``; ``anchor`` is the
    least ``received_at - end_s`` since the source (re)connected.

    >>> ingest_lag_s(now=105.0, received_at=104.0, end_s=50.0, anchor=51.0)
    4.0
    """
    return max(0.0, now - received_at) + max(0.0, (received_at - end_s) - anchor)


def arrived_at(t: float, stream_start: float, stream_end: float, received_start: datetime,
               received_end: datetime) -> datetime:  # fmt: skip
    """When stream time ``t`` of a clip arrived: linear between the clip's first moment
    (``stream_start`` arrived at ``received_start``) and its last (``stream_end`` at
    ``received_end``), clamped to the clip. A live source arrives at about real time, so
    the slope is about 1; the interpolation also absorbs a clip cut across a stall."""
    span = stream_end - stream_start
    if span <= 0:
        return received_end
    share = min(1.0, max(0.0, (t - stream_start) / span))
    return received_start + (received_end - received_start) * share


def event_to_clip_s(events: Sequence[Mapping[str, Any]], stream_start: float,
                    stream_end: float, received_start: datetime | None,
                    received_end: datetime | None,
                    available_at: datetime) -> float | None:  # fmt: skip
    """A stream clip's latency: from when the end of its last event (the latest ``t_end``
    among the events that made it: the last evidence the analysis waited for) arrived, to
    ``available_at`` (the clip stored and watchable). None for a clip without events or
    without received times.

    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> event_to_clip_s([{"t_end": 15.0}], 10.0, 30.0, t0, t0 + timedelta(seconds=20),
    ...                 t0 + timedelta(seconds=40))
    35.0
    """
    ends = [float(e["t_end"]) for e in events if isinstance(e.get("t_end"), int | float)]
    if not ends or received_start is None or received_end is None:
        return None
    at = arrived_at(max(ends), stream_start, stream_end, received_start, received_end)
    return max(0.0, (available_at - at).total_seconds())


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, linear between ranks (NumPy's
    default); None for no values.

    >>> percentile([10.0, 20.0, 30.0, 40.0], 50)
    25.0
    """
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
