"""Events, their clusters and a cluster's score.

Every signal detector (``signals.py``, ``text.py``) reports what it saw as an
:class:`Event`: a kind, a span of stream time, a strength in ``(0, 1]`` and a detail for
people. Cheap signals fire often; a moment worth a clip is where several of them pile up,
so events close in time form a :class:`Cluster` and the cluster, not the event, is scored:
each kind's strengths combine into one component (a noisy OR: two loud moments count more
than one, never more than 1), the components are weighted (energy 0.30, keywords 0.25,
scene density 0.15, sentiment 0.15, chat 0.15) and the sum decays with the cluster's age.

    >>> e = Event(EventKind.ENERGY, 10.0, 11.0, 1.0)
    >>> [c] = cluster_events([e], gap_s=8.0)
    >>> round(score_cluster(c, now=19.0, cfg=ScoringConfig()).total, 2)
    0.3
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clipray.domain.errors import CodedError
from clipray.live.settings import ScoringConfig


class LiveInputError(CodedError):
    """What the worker fed is unusable (``LIVE_INPUT_INVALID``): not audio, a bad sample
    rate, a time that is not a finite number of seconds."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__("LIVE_INPUT_INVALID", message, **kw)


def finite_time(t: float, what: str) -> float:
    """``t`` as a float, refused unless it is a finite number of seconds."""
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise LiveInputError(f"{what} must be a number of seconds, not {t!r}") from None
    if not math.isfinite(value):
        raise LiveInputError(f"{what} must be a finite number of seconds, not {t!r}")
    return value


class EventKind(StrEnum):
    """What fired; each kind is one component of a cluster's score."""

    ENERGY = "energy"
    KEYWORD = "keyword"
    SCENE = "scene"
    SENTIMENT = "sentiment"
    CHAT = "chat"


@dataclass(frozen=True)
class Event:
    """One signal firing over ``[t_start, t_end]`` seconds of stream time."""

    kind: EventKind
    t_start: float
    t_end: float
    strength: float
    """In ``(0, 1]``: 0.5 at the detector's threshold, 1 at twice it or more."""
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """What the detector measured (level, keyword, compound score, rate), for people."""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "t_start": round(self.t_start, 3),
                "t_end": round(self.t_end, 3), "strength": round(self.strength, 4),
                "detail": dict(self.detail)}  # fmt: skip


def strength(value: float, threshold: float) -> float:
    """A detector's measure as a strength: 0.5 at its threshold, 1 at twice the threshold
    or more, so that strengths of different detectors compare."""
    if threshold <= 0:
        return 1.0
    return max(0.0, min(1.0, value / (2.0 * threshold)))


@dataclass(frozen=True)
class Cluster:
    """Events no further apart than the gap, in order of start."""

    events: tuple[Event, ...]

    @property
    def t_start(self) -> float:
        return min(e.t_start for e in self.events)

    @property
    def t_end(self) -> float:
        return max(e.t_end for e in self.events)

    @property
    def peak(self) -> Event:
        """The strongest event (the earliest of equals): what a clip must hold."""
        return max(self.events, key=lambda e: (e.strength, -e.t_start))


def cluster_events(
    events: Iterable[Event], gap_s: float, max_cluster_s: float = math.inf
) -> list[Cluster]:
    """Events grouped by time: one joins the cluster before it when it starts at most
    ``gap_s`` after that cluster's end, unless the cluster would then span more than
    ``max_cluster_s``. The result is in time order and the same for the same events, in
    whatever order they came."""
    ordered = sorted(events, key=lambda e: (e.t_start, e.t_end, e.kind.value, -e.strength))
    clusters: list[list[Event]] = []
    start = end = 0.0
    for e in ordered:
        if clusters and e.t_start - end <= gap_s and max(end, e.t_end) - start <= max_cluster_s:
            clusters[-1].append(e)
            end = max(end, e.t_end)
        else:
            clusters.append([e])
            start, end = e.t_start, e.t_end
    return [Cluster(tuple(c)) for c in clusters]


@dataclass(frozen=True)
class Score:
    """A cluster's score: its weighted components, the decay, and the total."""

    components: Mapping[EventKind, float]
    """Each kind's noisy-OR of strengths, in ``[0, 1]`` (before weighting)."""
    decay: float
    total: float

    def to_json(self) -> dict[str, Any]:
        return {"components": {k.value: round(v, 4) for k, v in self.components.items()},
                "decay": round(self.decay, 4), "total": round(self.total, 4)}  # fmt: skip


def score_cluster(cluster: Cluster, now: float, cfg: ScoringConfig) -> Score:
    """The cluster's weighted sum of components, decayed by its age at ``now``: the time
    since it could first be decided (``gap_s`` after its last event), so that a worker
    keeping up scores at full value and a backlog (a lagging or recreated worker) posts
    stale moments only when they were strong.

    A component is ``1 - prod(1 - strength)`` over the cluster's events of that kind: one
    event counts its strength, more events of a kind add up towards 1 without passing it,
    so a chat spamming the same reaction cannot outweigh every other signal.
    """
    weights = cfg.weights
    components = {}
    for kind in EventKind:
        miss = math.prod(1.0 - e.strength for e in cluster.events if e.kind is kind)
        components[kind] = 1.0 - miss
    raw = sum(getattr(weights, kind.value) * v for kind, v in components.items())
    age = max(0.0, now - cluster.t_end - cfg.gap_s)
    decay = 0.5 ** (age / cfg.half_life_s)
    return Score(components=components, decay=decay, total=raw * decay)
