"""Admission of new jobs against the warm model services' queues.

Pure. Every job's model work goes to the shared model services (``serve/models.py``), so a
burst of jobs does not fail: it waits in their queues. Waiting is fine up to a point; past
it, the requests of a job admitted now would wait longer than a model call may take, time
out and be retried, and every job on the cluster would slow down. So each service's queue
depth (requests received and not yet answered, over all its replicas) is held against two
limits:

- below the **soft** limit the job is admitted;
- from the soft limit up to the hard one it is admitted to **queue**: the service is
  behind, and Serve is adding replicas (the soft limit is the deployments' autoscaling
  target per replica);
- at or over the **hard** limit a **new** job is **refused**, with how long to wait: the
  requests that must be answered before the queue is back under the hard limit, at the
  service's recent throughput (or a configured wait where none was measured).

Jobs already admitted are never refused: only creating a job asks. What each service's queue
made of a new job (:func:`per_service`) is what the admission counters count.

    >>> limits = QueueLimits(soft=8, hard=32, retry_after_s=10)
    >>> decide({"Asr": ServiceLoad(depth=40, answered_per_s=3.0)}, limits).retry_after_s
    3
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "MAX_RETRY_AFTER_S",
    "Admission",
    "QueueLimits",
    "ServiceLoad",
    "Verdict",
    "decide",
    "per_service",
]

MAX_RETRY_AFTER_S = 300
"""Longest ``Retry-After`` given: a throughput measured over the last half minute says
little about the queue five minutes on, and a client told to wait an hour gives up."""


class Verdict(StrEnum):
    ADMIT = "admit"
    QUEUE = "queue"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ServiceLoad:
    """One model service as its replicas report it."""

    depth: int
    """Requests received and not yet answered, summed over the service's replicas."""
    answered_per_s: float = 0.0
    """Requests the service answered per second lately (0: none, or not measured)."""


@dataclass(frozen=True)
class QueueLimits:
    soft: int
    """Depth from which a service is behind (its work queues; Serve adds replicas)."""
    hard: int
    """Depth from which new jobs are refused."""
    retry_after_s: int
    """``Retry-After`` where a refusing service has no measured throughput."""


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    service: str | None = None
    """The service that decided it: the one to wait longest for (refuse), the deepest
    over its soft limit (queue); None when every service is under its soft limit."""
    depth: int = 0
    """That service's depth."""
    retry_after_s: int = 0
    """Seconds to wait before trying again (refuse only; at least 1)."""


ADMIT = Admission(Verdict.ADMIT)


def _wait(load: ServiceLoad, limits: QueueLimits) -> int:
    """Seconds until ``load`` is back under the hard limit: one answer more than its excess,
    at its recent throughput; the configured wait where no throughput is known."""
    if load.answered_per_s <= 0:
        seconds = float(limits.retry_after_s)
    else:
        seconds = (load.depth - limits.hard + 1) / load.answered_per_s
    return max(1, min(MAX_RETRY_AFTER_S, math.ceil(seconds)))


def decide(loads: Mapping[str, ServiceLoad], limits: QueueLimits) -> Admission:
    """Whether a new job may start now, given every model service's load.

    A service missing from ``loads`` (not deployed yet, or not used) has nothing queued.
    The refusal names the service with the longest wait: the job needs them all.
    """
    refusing = {name: _wait(load, limits) for name, load in loads.items()
                if load.depth >= limits.hard}  # fmt: skip
    if refusing:
        name = max(sorted(refusing), key=lambda n: (refusing[n], loads[n].depth))
        return Admission(Verdict.REFUSE, name, loads[name].depth, refusing[name])
    behind = [name for name, load in loads.items() if load.depth >= limits.soft]
    if behind:
        name = max(sorted(behind), key=lambda n: loads[n].depth)
        return Admission(Verdict.QUEUE, name, loads[name].depth)
    return ADMIT


def _verdict(depth: int, limits: QueueLimits) -> Verdict:
    if depth >= limits.hard:
        return Verdict.REFUSE
    return Verdict.QUEUE if depth >= limits.soft else Verdict.ADMIT


def per_service(loads: Mapping[str, ServiceLoad], limits: QueueLimits,
                decision: Admission) -> dict[str, Verdict]:  # fmt: skip
    """What each service's queue made of the job that ``decision`` decided: admitted (under
    the soft limit), queued (from the soft limit up to the hard one), refused (at or over the
    hard limit). A refused job counts only at the services that refused it (the others never
    see it), so a service's admitted and queued counts are jobs that did reach it. A service
    missing from ``loads`` (not deployed yet, or silent) counts nothing: nothing is known of
    its queue."""
    own = {name: _verdict(load.depth, limits) for name, load in loads.items()}
    if decision.verdict is Verdict.REFUSE:
        return {name: v for name, v in own.items() if v is Verdict.REFUSE}
    return own
