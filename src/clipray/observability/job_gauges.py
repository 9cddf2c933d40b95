"""The job runner's gauges, read from the database: jobs in each state, and the age of the
oldest running attempt of each step beside the step timeout (the "job stuck" alert).

The database is the authority, so the numbers hold across runner restarts and count every
workspace's jobs. The runner calls :meth:`JobGauges.refresh` on every tick; it reads at
most once per ``every`` seconds (the tick is sub-second, Prometheus scrapes every 15 s).

    >>> gauges = JobGauges(settings, db)   # doctest: +SKIP
    >>> gauges.refresh()                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time

from clipray.config import Settings
from clipray.domain.time import utcnow
from clipray.jobs.machine import JOB_KIND, Step
from clipray.observability import metrics
from clipray.storage.db import Database
from clipray.storage.job_stats import jobs_by_status, oldest_running_steps
from clipray.storage.orm import JobStatus

__all__ = ["JobGauges"]
log = logging.getLogger(__name__)


class JobGauges:
    def __init__(self, settings: Settings, db: Database, every: float = 5.0) -> None:
        self.settings, self.db, self.every = settings, db, every
        self.last = float("-inf")

    def refresh(self) -> None:
        """Set the gauges, at most once per ``every`` seconds; a failed read (the database is
        briefly away) leaves the last values and is tried at the next tick."""
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        try:
            with self.db.session() as s:
                counts = jobs_by_status(s, JOB_KIND)
                oldest = oldest_running_steps(s, JOB_KIND)
        except Exception as exc:
            log.warning("job gauges: could not read the jobs: %s", exc)
            return
        metrics.jobs_in_state({st.value: counts.get(st.value, 0) for st in JobStatus})
        at = utcnow()
        metrics.oldest_running({
            step.value: (at - oldest[step.value]).total_seconds() if step.value in oldest else 0.0
            for step in Step
        })  # fmt: skip
        metrics.step_timeouts({step.value: self.settings.job_step_timeout_s for step in Step})
