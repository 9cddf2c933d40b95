"""What a job used, and what a workspace used in a month, with what its quotas leave.

Pure: ``services/usage.py`` reads a job's step attempts, its source's and clips' sizes and
the stage resources (``Settings.stage``); this module adds them up, so that the figures can
be checked against the records they come from. How each figure of :func:`job_usage` is
derived:

- ``steps``: per step name, the seconds of every attempt of it, failed and interrupted
  ones too (they held their worker as long). An attempt's seconds are the job runner's
  measure (``detail["seconds"]``), else finished minus started, else, while it runs, its
  time so far: the service passes them in as :class:`Attempt`.
- ``stages``: per stage, the seconds its resources were held for this job.

  - ``job_step``: every attempt runs as one Ray task with the ``job_step`` resources (a
    coordinator that submits the analysis and the renders: 0 CPUs by default), so its
    seconds are the sum of ``steps``.
  - the analysis stages (``decode``, ``audio``, ``asr``, ``faces``, ``embed``, ``merge``):
    the worker seconds the analysis recorded per stage (``timings``), only when this job
    computed it; a reused (``cached``) analysis cost this job nothing. A stage's seconds
    are summed over its parallel parts (windows, audio chunks), so they can exceed the wall
    time of the analyze step. A timing is charged to the stage it names (``decode+scenes``
    is ``decode``); ``merge`` has no stage config and gets the defaults (1 CPU): it is one
    Python thread in the analyze step's process.
  - ``render``: the render steps' seconds, during which the clips' encodes run as Ray tasks
    with the ``render`` stage's resources. Encodes that run side by side hold one slot each,
    so this is a lower bound: the encodes' own times are not recorded.

- ``cpu_seconds`` and ``gpu_seconds`` of a stage: its seconds times its ``num_cpus`` and
  ``num_gpus``, what Ray reserved for it (not what the OS measured); the job's totals are
  the sums over its stages.
- ``bytes_stored``: the job's source as the media bucket holds it (what the storage quota
  counts), and its rendered clips still on the app-owned bucket.
- ``llm_tokens``: the prompt and completion tokens the LLM re-ranking reported, summed over
  the analyze attempts; None when no LLM was asked (or the server counted nothing).

    >>> u = job_usage([Attempt("render", 2.0, {})], lambda _s: Reserved(1.0, 0.0))
    >>> (u.steps, u.cpu_seconds)
    ({'render': 2.0}, 4.0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from clipray.domain.errors import CodedError
from clipray.jobs.quota import month_start

__all__ = [
    "ANALYZE",
    "JOB_STEP",
    "RENDER",
    "TIMING_STAGES",
    "Allowance",
    "Attempt",
    "JobUsage",
    "MonthUsage",
    "Quotas",
    "Reserved",
    "Resources",
    "StageUsage",
    "Stored",
    "Tokens",
    "job_usage",
    "month_of",
    "month_usage",
]

ANALYZE, RENDER = "analyze", "render"
"""The steps whose detail and seconds feed stages beside ``job_step``."""
JOB_STEP = "job_step"
"""The stage config of the Ray task each step attempt runs in."""
TIMING_STAGES: Mapping[str, str] = {"decode+scenes": "decode"}
"""Analysis timings recorded under another name than their stage config's; every other
timing is its stage's name."""
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only: \d takes any script's
_DIGITS = 3
"""Seconds are reported to the millisecond, as the job's step timings are."""


class Resources(Protocol):
    """What a stage reserves per task or actor (``config.StageResources`` is one)."""

    @property
    def num_cpus(self) -> float: ...

    @property
    def num_gpus(self) -> float: ...


@dataclass(frozen=True)
class Reserved:
    """Stage resources as plain numbers, for callers without a ``Settings``."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class Attempt:
    """One attempt of one step, as the job recorded it."""

    name: str
    seconds: float
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageUsage:
    seconds: float
    cpu_seconds: float
    gpu_seconds: float


@dataclass(frozen=True)
class Stored:
    """Bytes a job keeps on the buckets."""

    source: int = 0
    clips: int = 0
    source_id: str | None = None
    """Which source ``source`` is: a month counts a source its jobs share once."""

    @property
    def total(self) -> int:
        return self.source + self.clips

    def to_json(self) -> dict[str, int]:
        return {"source": self.source, "clips": self.clips, "total": self.total}


@dataclass(frozen=True)
class Tokens:
    prompt: int = 0
    completion: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.prompt + other.prompt, self.completion + other.completion)

    def to_json(self) -> dict[str, int]:
        return {"prompt": self.prompt, "completion": self.completion}


@dataclass(frozen=True)
class JobUsage:
    steps: Mapping[str, float]
    stages: Mapping[str, StageUsage]
    cached: bool | None
    """Whether the analysis was reused; None when no analyze attempt succeeded yet."""
    bytes_stored: Stored
    llm_tokens: Tokens | None

    @property
    def cpu_seconds(self) -> float:
        return round(sum(s.cpu_seconds for s in self.stages.values()), _DIGITS)

    @property
    def gpu_seconds(self) -> float:
        return round(sum(s.gpu_seconds for s in self.stages.values()), _DIGITS)

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": dict(self.steps),
            "cached": self.cached,
            "stages": {k: asdict(v) for k, v in self.stages.items()},
            "cpu_seconds": self.cpu_seconds,
            "gpu_seconds": self.gpu_seconds,
            "bytes_stored": self.bytes_stored.to_json(),
            "llm_tokens": None if self.llm_tokens is None else self.llm_tokens.to_json(),
        }


def _analysis(attempts: Sequence[Attempt]) -> tuple[bool | None, Mapping[str, float]]:
    """Whether the job reused its analysis, and the stage timings of the one it computed:
    from the last analyze attempt that says (a succeeded one; a failed attempt's detail
    keeps only its error code)."""
    told = [a.detail for a in attempts if a.name == ANALYZE and "cached" in a.detail]
    if not told:
        return None, {}
    last = told[-1]
    cached = bool(last["cached"])
    timings = {} if cached else dict(last.get("timings") or {})
    return cached, timings


def _tokens(attempts: Sequence[Attempt]) -> Tokens | None:
    spent = [a.detail["llm_tokens"] for a in attempts if a.detail.get("llm_tokens")]
    if not spent:
        return None
    return sum((Tokens(int(t.get("prompt", 0)), int(t.get("completion", 0))) for t in spent),
               Tokens())  # fmt: skip


def _stage(seconds: float, res: Resources) -> StageUsage:
    seconds = round(seconds, _DIGITS)
    return StageUsage(seconds, round(seconds * res.num_cpus, _DIGITS),
                      round(seconds * res.num_gpus, _DIGITS))  # fmt: skip


def job_usage(
    attempts: Sequence[Attempt],
    resources: Callable[[str], Resources],
    stored: Stored | None = None,
    timings: Mapping[str, float] | None = None,
) -> JobUsage:
    """What the job used (how each figure is derived: the module's docstring).

    Args:
        attempts: Every attempt of every step, in order.
        resources: A stage's resources by name (``Settings.stage``).
        stored: The job's bytes on the buckets.
        timings: The analysis' seconds per stage, where the analyze step's detail has none
            (recorded before it kept them); ignored when the job reused its analysis.
    """
    steps: dict[str, float] = {}
    for a in attempts:
        steps[a.name] = steps.get(a.name, 0.0) + max(a.seconds, 0.0)
    steps = {k: round(v, _DIGITS) for k, v in steps.items()}
    cached, recorded = _analysis(attempts)
    worker_s: dict[str, float] = {}
    if cached is False:
        for key, seconds in (recorded or timings or {}).items():
            stage = TIMING_STAGES.get(key, key)
            worker_s[stage] = worker_s.get(stage, 0.0) + max(float(seconds), 0.0)
    stages = {JOB_STEP: _stage(sum(steps.values()), resources(JOB_STEP))}
    if RENDER in steps:
        worker_s[RENDER] = worker_s.get(RENDER, 0.0) + steps[RENDER]
    stages |= {k: _stage(v, resources(k)) for k, v in sorted(worker_s.items())}
    return JobUsage(steps, stages, cached, stored or Stored(), _tokens(attempts))


# --- a workspace's month ---------------------------------------------------------------------
@dataclass(frozen=True)
class Allowance:
    """One quota: its limit, what is used of it, and what is left."""

    limit: float
    used: float

    @property
    def left(self) -> float:
        return max(self.limit - self.used, 0)

    def to_json(self) -> dict[str, float]:
        return {"limit": self.limit, "used": self.used, "left": self.left}


@dataclass(frozen=True)
class Quotas:
    minutes_per_month: Allowance
    """Source minutes of the month's jobs, as the job quota counts them."""
    storage_bytes: Allowance
    """The workspace's sources and unconfirmed uploads now (not per month)."""
    concurrent_jobs: Allowance
    """Jobs in progress now (not per month)."""

    def to_json(self) -> dict[str, dict[str, float]]:
        return {k: getattr(self, k).to_json()
                for k in ("minutes_per_month", "storage_bytes", "concurrent_jobs")}  # fmt: skip


@dataclass(frozen=True)
class MonthUsage:
    month: str
    jobs: int
    source_minutes: float
    cpu_seconds: float
    gpu_seconds: float
    bytes_stored: Stored
    llm_tokens: Tokens
    quotas: Quotas

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month, "jobs": self.jobs, "source_minutes": self.source_minutes,
            "cpu_seconds": self.cpu_seconds, "gpu_seconds": self.gpu_seconds,
            "bytes_stored": self.bytes_stored.to_json(), "llm_tokens": self.llm_tokens.to_json(),
            "quotas": self.quotas.to_json(),
        }  # fmt: skip


def month_of(text: str | None, now: datetime) -> datetime:
    """The first instant (UTC) of the month ``YYYY-MM``, or of ``now``'s month for None.

    Raises:
        CodedError: 422 ``MONTH_INVALID``, ``text`` is not a month.
    """
    if text is None:
        return month_start(now)
    m = _MONTH.fullmatch(text)
    if m is None or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1:
        raise CodedError("MONTH_INVALID", f"month must be YYYY-MM (e.g. 2026-01), got {text!r}",
                         status=422)  # fmt: skip
    return datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)


def month_usage(
    start: datetime, jobs: Iterable[JobUsage], source_minutes: float, quotas: Quotas
) -> MonthUsage:
    """The month's totals over its jobs (a source its jobs share counts once in
    ``bytes_stored``), with the workspace's quotas."""
    jobs = list(jobs)
    sources = {j.bytes_stored.source_id: j.bytes_stored.source for j in jobs
               if j.bytes_stored.source_id is not None}  # fmt: skip
    anonymous = sum(j.bytes_stored.source for j in jobs if j.bytes_stored.source_id is None)
    return MonthUsage(
        month=f"{start.year:04d}-{start.month:02d}",
        jobs=len(jobs),
        source_minutes=round(source_minutes, _DIGITS),
        cpu_seconds=round(sum(j.cpu_seconds for j in jobs), _DIGITS),
        gpu_seconds=round(sum(j.gpu_seconds for j in jobs), _DIGITS),
        bytes_stored=Stored(sum(sources.values()) + anonymous,
                            sum(j.bytes_stored.clips for j in jobs)),
        llm_tokens=sum((j.llm_tokens for j in jobs if j.llm_tokens is not None), Tokens()),
        quotas=quotas,
    )
