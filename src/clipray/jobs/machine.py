"""The job state machine: which transitions are legal, what the runner does next, retries.

Pure: no database, no Ray. The job runner actor (``actors/job_runner.py``) persists the state
and runs the steps; the HTTP routes ask this module before they change a job.

    created -> ingesting -> analyzing -> clips_generated -> rendering -> review -> completed
    (any state before review) -> failed | cancelled;  failed -> (retry) the failed step's state

A state whose name ends in -ing runs one step (``STEP_OF``); ``created`` and
``clips_generated`` are handed on by the runner at once; ``review`` waits for the user.
Pausing is a flag beside the state, not a state: a paused job finishes the step it is in
and starts no other.

    >>> transition(JobStatus.CREATED, Event.START)
    <JobStatus.INGESTING: 'ingesting'>
    >>> next_action(JobStatus.ANALYZING, paused=False)
    <Step.ANALYZE: 'analyze'>
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from clipray.domain.enums import JobStatus
from clipray.domain.errors import Conflict

__all__ = [
    "ACTIVE",
    "JOB_KIND",
    "STEP_OF",
    "STEP_POLICIES",
    "TERMINAL",
    "Event",
    "InvalidTransitionError",
    "JobStatus",
    "RetryPolicy",
    "Step",
    "can_pause",
    "next_action",
    "progress",
    "transition",
]


class Step(enum.StrEnum):
    INGEST = "ingest"
    ANALYZE = "analyze"
    RENDER = "render"


class Event(enum.StrEnum):
    START = "start"
    """The runner hands a waiting job on: created -> ingesting, clips_generated -> rendering."""
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    """A step failed for good (its retries are spent or the error is not retryable)."""
    RETRY = "retry"
    CANCEL = "cancel"
    COMPLETE = "complete"
    """The user is done reviewing."""


JOB_KIND = "clips"
"""The kind of the jobs this machine drives (``clipray batch`` records its own kind)."""
TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset(s for s in JobStatus if s not in TERMINAL and s is not JobStatus.REVIEW)
"""States with work left: these count against the concurrency quota and may be paused."""
STEP_OF = {
    JobStatus.INGESTING: Step.INGEST,
    JobStatus.ANALYZING: Step.ANALYZE,
    JobStatus.RENDERING: Step.RENDER,
}
STATE_OF = {step: state for state, step in STEP_OF.items()}
_AFTER = {
    JobStatus.CREATED: JobStatus.INGESTING,
    JobStatus.INGESTING: JobStatus.ANALYZING,
    JobStatus.ANALYZING: JobStatus.CLIPS_GENERATED,
    JobStatus.CLIPS_GENERATED: JobStatus.RENDERING,
    JobStatus.RENDERING: JobStatus.REVIEW,
    JobStatus.REVIEW: JobStatus.COMPLETED,
}
_WAITING = frozenset({JobStatus.CREATED, JobStatus.CLIPS_GENERATED})
# Share of the whole job done when a state is reached (for progress bars).
_PROGRESS = {
    JobStatus.CREATED: 0.0,
    JobStatus.INGESTING: 0.0,
    JobStatus.ANALYZING: 0.1,
    JobStatus.CLIPS_GENERATED: 0.7,
    JobStatus.RENDERING: 0.7,
    JobStatus.REVIEW: 1.0,
    JobStatus.COMPLETED: 1.0,
}


class InvalidTransitionError(Conflict):
    """An event that the job's state does not allow (409 ``INVALID_TRANSITION``); nothing
    changed."""

    def __init__(self, state: JobStatus, event: Event) -> None:
        super().__init__("INVALID_TRANSITION",
                         f"a job that is {state.value} cannot take '{event.value}'",
                         detail={"state": state.value, "event": event.value})  # fmt: skip
        self.state, self.event = state, event


def transition(state: JobStatus, event: Event, *, failed_step: Step | None = None) -> JobStatus:
    """The state after ``event``, or :class:`InvalidTransitionError`.

    ``failed_step`` is required for RETRY: a failed job goes back to the state of the step
    that failed, so finished steps are not run again.
    """
    if event is Event.CANCEL and state not in TERMINAL and state is not JobStatus.REVIEW:
        return JobStatus.CANCELLED
    if event is Event.START and state in _WAITING:
        return _AFTER[state]
    if event is Event.STEP_SUCCEEDED and state in STEP_OF:
        return _AFTER[state]
    if event is Event.STEP_FAILED and state in STEP_OF:
        return JobStatus.FAILED
    if event is Event.COMPLETE and state is JobStatus.REVIEW:
        return JobStatus.COMPLETED
    if event is Event.RETRY and state is JobStatus.FAILED:
        if failed_step is None:
            raise ValueError("retry needs the step that failed")
        return STATE_OF[failed_step]
    raise InvalidTransitionError(state, event)


def next_action(state: JobStatus, *, paused: bool) -> Step | Event | None:
    """What the runner does with a job: run a step, hand it on (START), or nothing."""
    if paused or state not in ACTIVE:
        return None
    if state in _WAITING:
        return Event.START
    return STEP_OF[state]


def can_pause(state: JobStatus) -> bool:
    """Only a job that still has steps to run can be paused."""
    return state in ACTIVE


def progress(state: JobStatus, within_step: float = 0.0) -> float:
    """Share of the job done, 0..1, from its state and the running step's own progress."""
    if state not in _PROGRESS:
        return 0.0
    start = _PROGRESS[state]
    if state in STEP_OF:
        end = _PROGRESS[_AFTER[state]]
        return start + (end - start) * min(max(within_step, 0.0), 1.0)
    return start


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried and how long the runner waits between tries."""

    max_attempts: int = 3
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0
    jitter: float = 0.2
    """Fraction of the delay drawn at random, so that retries of many jobs spread out."""

    def should_retry(self, attempt: int, *, retryable: bool) -> bool:
        """After failed ``attempt`` (1-based): try again?"""
        return retryable and attempt < self.max_attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed ``attempt``: exponential, capped, with jitter."""
        base = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempt - 1, 0))
        spread = base * self.jitter * (rng or random).random()
        return base - spread


STEP_POLICIES = {
    # Downloads fail for passing reasons (network, rate limits): more tries, longer waits.
    Step.INGEST: RetryPolicy(max_attempts=3, base_delay_s=5.0),
    # An analysis that failed twice on the same bytes will fail a third time.
    Step.ANALYZE: RetryPolicy(max_attempts=2, base_delay_s=2.0),
    # Renders are per clip and idempotent; a retry renders only what is still pending.
    Step.RENDER: RetryPolicy(max_attempts=2, base_delay_s=2.0),
}
