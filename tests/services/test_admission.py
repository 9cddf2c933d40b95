"""Admission of new jobs (``services/admission.py``) over a reader of the model services'
depths: the refusal's shape, and a reader that never holds job creation up (cached, one
read at a time, a stuck or failing read admits). The real services: tests/actors."""

from __future__ import annotations

import threading
import time

import pytest

from clipray.config import Settings
from clipray.domain.errors import RateLimited
from clipray.jobs.admission import ServiceLoad, Verdict
from clipray.services.admission import BUSY, CachedDepths, admit, serve_depths

pytestmark = pytest.mark.unit

SETTINGS = Settings(model_queue_soft_limit=4, model_queue_hard_limit=10,
                    model_queue_retry_after_s=7)  # fmt: skip


def test_over_the_hard_limit_a_new_job_is_429_with_retry_after():
    with pytest.raises(RateLimited) as caught:
        admit(SETTINGS, lambda: {"Asr": ServiceLoad(12, 0.5), "Faces": ServiceLoad(1, 9.0)})
    err = caught.value
    assert (err.code, err.status, err.retryable) == (BUSY, 429, True)
    assert err.headers == {"Retry-After": "6"}  # 12 - 10 + 1 answers at 0.5 a second
    assert err.detail == {"service": "Asr", "depth": 12, "hard_limit": 10}
    assert "Asr" in err.message


@pytest.mark.parametrize(
    ("depth", "verdict"),
    [pytest.param(3, Verdict.ADMIT, id="under-soft"), pytest.param(4, Verdict.QUEUE, id="soft"),
     pytest.param(9, Verdict.QUEUE, id="under-hard")],
)  # fmt: skip
def test_under_the_hard_limit_a_job_is_admitted(depth, verdict):
    assert admit(SETTINGS, lambda: {"TextEmbed": ServiceLoad(depth)}).verdict is verdict


def test_without_warm_models_there_is_no_shared_queue_to_guard():
    cold = SETTINGS.model_copy(update={"warm_models": False})
    assert admit(cold, lambda: {"Asr": ServiceLoad(1000)}).verdict is Verdict.ADMIT


def test_without_ray_nothing_is_deployed_and_everything_is_admitted():
    assert serve_depths() == {}
    assert admit(SETTINGS, CachedDepths(serve_depths)).verdict is Verdict.ADMIT


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_reading_answers_for_the_cache_time():
    clock, reads = Clock(), []

    def read() -> dict[str, ServiceLoad]:
        reads.append(clock.now)
        return {"Asr": ServiceLoad(len(reads))}

    reader = CachedDepths(read, ttl_s=1.0, clock=clock)
    assert reader() == {"Asr": ServiceLoad(1)}
    clock.now += 0.9
    assert [reader() for _ in range(50)] == [{"Asr": ServiceLoad(1)}] * 50  # a burst of POSTs
    clock.now += 0.2
    assert reader() == {"Asr": ServiceLoad(2)}
    assert len(reads) == 2


def test_a_stuck_service_is_waited_for_once_then_admits_at_once():
    release, started = threading.Event(), threading.Event()
    reads = []

    def stuck() -> dict[str, ServiceLoad]:
        reads.append(1)
        started.set()
        release.wait(30)
        return {"Faces": ServiceLoad(99)}

    reader = CachedDepths(stuck, ttl_s=0.0, timeout_s=0.2)
    t0 = time.monotonic()
    assert reader() == {}  # admitted after the timeout, not after the service
    assert 0.2 <= time.monotonic() - t0 < 5
    t1 = time.monotonic()
    assert reader() == {}  # the read is still stuck: no second wait, no second read
    assert time.monotonic() - t1 < 0.2
    assert len(reads) == 1
    release.set()

    # Once the stuck read returned, the next call reads again (and sees the queue).
    deadline = time.monotonic() + 10
    while (got := reader()) == {}:
        assert time.monotonic() < deadline, "the reader never read again"
    assert got == {"Faces": ServiceLoad(99)}
    assert len(reads) == 2


def test_a_failing_read_admits_and_is_not_retried_within_the_cache_time():
    clock, reads = Clock(), []

    def broken() -> dict[str, ServiceLoad]:
        reads.append(1)
        raise ConnectionError("the root replica is gone")

    reader = CachedDepths(broken, ttl_s=1.0, clock=clock)
    assert reader() == {}
    assert reader() == {}
    assert len(reads) == 1
    clock.now += 1.5
    assert reader() == {}
    assert len(reads) == 2
