"""Admission control of new jobs: refuse them while the warm model services are swamped.

``create_job`` calls :func:`admit` after the workspace's quotas and before it writes the
job: the model services' queue depths (each summed over its replicas, as
``ModelServices.queues`` answers) are held against the settings' soft and hard limits by
the pure :func:`clipray.jobs.admission.decide`; over the hard limit the job is refused with
429 ``MODEL_SERVICES_BUSY`` and a ``Retry-After``. Every decision is counted per service
(``clipray_model_admissions{service,outcome}``: admitted, queued, rejected), as
:func:`clipray.jobs.admission.per_service` attributes it.

Reading the depths must never hold job creation up: the reader caches its answer for
about a second (a burst of POSTs asks the services once), treats services that are not
deployed as idle (the first job deploys them), and admits when the services do not answer
in time, or at all, and says so in the log.

    >>> admit(settings)                                  # doctest: +SKIP
    Admission(verdict=<Verdict.ADMIT: 'admit'>, service=None, depth=0, retry_after_s=0)
    >>> admit(settings, lambda: {"Asr": ServiceLoad(depth=99)})   # doctest: +SKIP
    Traceback (most recent call last):
    RateLimited: the Asr model service has 99 requests queued ...
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from clipray.config import Settings
from clipray.domain.errors import RateLimited
from clipray.jobs.admission import (
    Admission,
    QueueLimits,
    ServiceLoad,
    Verdict,
    decide,
    per_service,
)
from clipray.observability import metrics

__all__ = ["BUSY", "CachedDepths", "DepthReader", "admit", "model_queues", "serve_depths"]

BUSY = "MODEL_SERVICES_BUSY"
"""The code of the refusal (429, ``RateLimited``)."""
CACHE_S = 1.0
"""How long one reading of the depths answers for: the queues move by whole model passes
(a second or more on a CPU), so a fresher look would not decide differently."""
READ_TIMEOUT_S = 2.0
"""Longest a job creation waits for the services' depths before admitting without them."""

DepthReader = Callable[[], Mapping[str, ServiceLoad]]
"""Every model service's load, now: what :func:`admit` decides on."""

OUTCOMES = {Verdict.ADMIT: "admitted", Verdict.QUEUE: "queued", Verdict.REFUSE: "rejected"}
"""The ``outcome`` label each service's verdict is counted under."""

log = logging.getLogger(__name__)


def admit(settings: Settings, read: DepthReader | None = None) -> Admission:
    """Whether a new job may start, given the model services' queues; ``read`` defaults to
    the process's cached reader of the deployed services (:func:`model_queues`).

    Raises:
        RateLimited: ``MODEL_SERVICES_BUSY``, a service is at or over the hard limit; its
            ``Retry-After`` estimates when it will be under it again.
    """
    if not settings.warm_models:  # each job loads its own models: no shared queue to guard
        return Admission(Verdict.ADMIT)
    limits = QueueLimits(settings.model_queue_soft_limit, settings.model_queue_hard_limit,
                         settings.model_queue_retry_after_s)  # fmt: skip
    loads = (read or model_queues())()
    decision = decide(loads, limits)
    for service, verdict in per_service(loads, limits, decision).items():
        metrics.model_admission(service, OUTCOMES[verdict])
    if decision.verdict is Verdict.REFUSE:
        where = {"service": decision.service, "depth": decision.depth, "hard_limit": limits.hard}
        raise RateLimited(
            BUSY,
            f"the {decision.service} model service has {decision.depth} requests queued (the "
            f"limit is {limits.hard}); try again in {decision.retry_after_s} s",
            retry_after=decision.retry_after_s,
            detail=where,
        )
    if decision.verdict is Verdict.QUEUE:
        log.info("model service %s is behind (%d queued, soft limit %d): the job queues",
                 decision.service, decision.depth, limits.soft)  # fmt: skip
    return decision


class CachedDepths:
    """A :data:`DepthReader` over a slow one (``read``): its answer is reused for ``ttl_s``,
    one read runs at a time (concurrent callers share it), and a read that takes longer
    than ``timeout_s`` or fails counts as "no depths" (admit), logged."""

    def __init__(self, read: DepthReader, *, ttl_s: float = CACHE_S,
                 timeout_s: float = READ_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._read = read
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-queues")
        self._value: Mapping[str, ServiceLoad] = {}
        self._at = float("-inf")
        self._pending: Future[Mapping[str, ServiceLoad]] | None = None
        self._overdue = False

    def __call__(self) -> Mapping[str, ServiceLoad]:
        with self._lock:
            if self._clock() - self._at < self.ttl_s:
                return self._value
            if self._pending is None or self._pending.done():
                self._pending = self._pool.submit(self._read)
                self._overdue = False
            elif self._overdue:  # still stuck since it last timed out: do not wait again
                return {}
            pending = self._pending
        try:
            value = pending.result(timeout=self.timeout_s)
        except FutureTimeout:
            with self._lock:
                self._overdue = True
            log.warning("the model services did not report their queues in %.1f s: job "
                        "admitted without them", self.timeout_s)  # fmt: skip
            return {}
        except Exception as exc:
            log.warning("reading the model services' queues failed (%s: %s): job admitted "
                        "without them", type(exc).__name__, exc)  # fmt: skip
            value = {}
        with self._lock:
            self._value, self._at = value, self._clock()
        return value


_handle: Any = None


def serve_depths(timeout_s: float = READ_TIMEOUT_S) -> dict[str, ServiceLoad]:
    """The deployed model services' loads, from their root deployment; empty where this
    process has no Ray, the cluster no Serve, or Serve no model services (yet).

    Raises:
        TimeoutError: the root did not answer in ``timeout_s``.
    """
    global _handle
    ray = sys.modules.get("ray")  # a process that never started Ray has no services to ask
    if ray is None or not ray.is_initialized():
        return {}
    from ray import serve
    from ray.serve.exceptions import RayServeException

    from clipray.pipelines.warm import MODELS_APP

    try:
        if _handle is None:
            _handle = serve.get_app_handle(MODELS_APP)
        answer = _handle.queues.remote().result(timeout_s=timeout_s)
    except RayServeException:  # no Serve, or no such application: nothing queued
        _handle = None
        return {}
    except Exception:  # a redeployed or deleted app: look it up again next time
        _handle = None
        raise
    return {name: ServiceLoad(int(q["depth"]), float(q["answered_per_s"]))
            for name, q in answer.items()}  # fmt: skip


_reader: CachedDepths | None = None
_reader_lock = threading.Lock()


def model_queues() -> CachedDepths:
    """This process's cached reader of the deployed services' depths (made on first use)."""
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = CachedDepths(serve_depths)
        return _reader
