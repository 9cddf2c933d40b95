"""Usage figures: golden jobs whose every number is worked out by hand, and the invariants
(steps add up to the attempts' seconds, stages to the totals) over generated jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from clipray.domain.errors import CodedError
from clipray.jobs.usage import (
    Allowance,
    Attempt,
    Quotas,
    Reserved,
    Stored,
    Tokens,
    job_usage,
    month_of,
    month_usage,
)

pytestmark = pytest.mark.unit

STAGES = {
    "job_step": Reserved(0.0, 0.0),
    "decode": Reserved(0.5, 0.0),
    "audio": Reserved(0.25, 0.0),
    "asr": Reserved(1.0, 0.5),
    "faces": Reserved(0.25, 0.0),
    "render": Reserved(1.0, 0.0),
}


def resources(name: str) -> Reserved:
    return STAGES.get(name, Reserved())  # a stage with no config: 1 CPU, as Settings.stage


TIMINGS = {"decode+scenes": 4.0, "audio": 1.0, "asr": 6.0, "faces": 2.0, "merge": 0.5}
INGEST = Attempt("ingest", 1.5, {"source_id": "s1", "created": True, "seconds": 1.5})
FAILED = Attempt("analyze", 2.0, {"code": "ANALYSIS_FAILED", "seconds": 2.0})
COMPUTED = Attempt("analyze", 10.0, {"cached": False, "clips": 1, "timings": TIMINGS,
                                     "llm_tokens": {"prompt": 900, "completion": 40}})  # fmt: skip
CACHED = Attempt("analyze", 0.8, {"cached": True, "clips": 1})
RENDER = Attempt("render", 3.0, {"rendered": 1})


def stage(seconds: float, cpu: float, gpu: float = 0.0) -> dict[str, float]:
    return {"seconds": seconds, "cpu_seconds": cpu, "gpu_seconds": gpu}


@pytest.mark.parametrize(
    ("attempts", "timings", "expected"),
    [
        pytest.param(
            [INGEST, FAILED, COMPUTED, RENDER], None,
            {"steps": {"ingest": 1.5, "analyze": 12.0, "render": 3.0}, "cached": False,
             "stages": {"job_step": stage(16.5, 0.0), "asr": stage(6.0, 6.0, 3.0),
                        "audio": stage(1.0, 0.25), "decode": stage(4.0, 2.0),
                        "faces": stage(2.0, 0.5), "merge": stage(0.5, 0.5),
                        "render": stage(3.0, 3.0)},
             # 6 + 0.25 + 2 + 0.5 + 0.5 + 3; the GPU half of ASR's 6 s
             "cpu_seconds": 12.25, "gpu_seconds": 3.0,
             "llm_tokens": {"prompt": 900, "completion": 40}},
            id="computed-after-a-failed-attempt",
        ),
        pytest.param(
            [INGEST, CACHED, RENDER], TIMINGS,
            {"steps": {"ingest": 1.5, "analyze": 0.8, "render": 3.0}, "cached": True,
             "stages": {"job_step": stage(5.3, 0.0), "render": stage(3.0, 3.0)},
             "cpu_seconds": 3.0, "gpu_seconds": 0.0, "llm_tokens": None},
            id="cached-analysis-costs-nothing",
        ),
        pytest.param(
            [INGEST, Attempt("analyze", 10.0, {"cached": False, "clips": 0})],
            {"decode+scenes": 2.0, "asr": 1.0},
            {"steps": {"ingest": 1.5, "analyze": 10.0}, "cached": False,
             "stages": {"job_step": stage(11.5, 0.0), "asr": stage(1.0, 1.0, 0.5),
                        "decode": stage(2.0, 1.0)},
             "cpu_seconds": 2.0, "gpu_seconds": 0.5, "llm_tokens": None},
            id="timings-from-the-analysis-row-when-the-step-kept-none",
        ),
        pytest.param(
            [Attempt("ingest", 0.7, {"worker_pid": 1})], None,
            {"steps": {"ingest": 0.7}, "cached": None, "stages": {"job_step": stage(0.7, 0.0)},
             "cpu_seconds": 0.0, "gpu_seconds": 0.0, "llm_tokens": None},
            id="still-ingesting",
        ),
        pytest.param(
            [], None,
            {"steps": {}, "cached": None, "stages": {"job_step": stage(0.0, 0.0)},
             "cpu_seconds": 0.0, "gpu_seconds": 0.0, "llm_tokens": None},
            id="not-started",
        ),
    ],
)
def test_golden_jobs(attempts, timings, expected):
    got = job_usage(attempts, resources, Stored(1000, 250, "s1"), timings).to_json()
    assert got == {**expected, "bytes_stored": {"source": 1000, "clips": 250, "total": 1250}}


def test_a_job_step_that_reserves_cpus_is_charged_for_every_attempt():
    heavy = {**STAGES, "job_step": Reserved(0.5, 0.0)}
    got = job_usage([INGEST, CACHED, RENDER], lambda n: heavy.get(n, Reserved()))
    assert got.stages["job_step"].cpu_seconds == pytest.approx(0.5 * (1.5 + 0.8 + 3.0))
    assert got.cpu_seconds == pytest.approx(2.65 + 3.0)


def test_tokens_add_up_over_attempts():
    again = Attempt("analyze", 1.0, {"cached": True, "llm_tokens": {"prompt": 100,
                                                                    "completion": 5}})  # fmt: skip
    got = job_usage([COMPUTED, again], resources)
    assert got.llm_tokens == Tokens(1000, 45)
    assert got.cached is True  # the last word on the analysis is the retry's


NAMES = st.sampled_from(["ingest", "analyze", "render"])
SECONDS = st.floats(min_value=0, max_value=1e5, allow_nan=False)
ATTEMPT = st.builds(
    Attempt, NAMES, SECONDS,
    st.one_of(
        st.just({}),
        st.builds(lambda t: {"cached": False, "timings": t},
                  st.dictionaries(st.sampled_from([*TIMINGS, "embed"]), SECONDS, max_size=5)),
        st.just({"cached": True}),
    ),
)  # fmt: skip
RESERVED = st.builds(Reserved, st.floats(0, 16), st.floats(0, 8))
# usage is rounded to the millisecond; a tie (0.0625 -> 0.062) is off by exactly half a unit,
# which floating point may put a hair above 5e-4
HALF_UNIT = 5e-4 + 1e-9


@given(st.lists(ATTEMPT, max_size=8), st.dictionaries(st.sampled_from(
    ["job_step", "decode", "audio", "asr", "faces", "embed", "merge", "render"]), RESERVED))
@example([Attempt("render", 0.125, {})], {"job_step": Reserved(0.5, 0.0)})  # a rounding tie
def test_steps_add_up_to_the_attempts_and_stages_to_the_totals(attempts, stages):
    got = job_usage(attempts, lambda n: stages.get(n, Reserved()))
    for name in {a.name for a in attempts}:
        recorded = sum(a.seconds for a in attempts if a.name == name)
        assert got.steps[name] == pytest.approx(recorded, abs=HALF_UNIT)
    assert set(got.steps) == {a.name for a in attempts}
    # each step and the stage are rounded on their own: one half unit each at most
    assert got.stages["job_step"].seconds == pytest.approx(
        sum(got.steps.values()), abs=HALF_UNIT * (len(got.steps) + 1))
    assert got.cpu_seconds == pytest.approx(sum(s.cpu_seconds for s in got.stages.values()),
                                            abs=1e-6)  # fmt: skip
    assert got.gpu_seconds == pytest.approx(sum(s.gpu_seconds for s in got.stages.values()),
                                            abs=1e-6)  # fmt: skip
    for name, s in got.stages.items():
        res = stages.get(name, Reserved())
        assert s.cpu_seconds == pytest.approx(s.seconds * res.num_cpus, abs=HALF_UNIT)
        assert s.gpu_seconds == pytest.approx(s.seconds * res.num_gpus, abs=HALF_UNIT)
    if got.cached is not False:  # a reused analysis puts no analysis stage on the bill
        assert set(got.stages) <= {"job_step", "render"}


NOW = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
QUOTAS = Quotas(Allowance(600, 1.0), Allowance(1000, 400), Allowance(3, 1))


@pytest.mark.parametrize(
    ("text", "start"),
    [
        pytest.param(None, datetime(2026, 12, 1, tzinfo=UTC), id="default-this-month"),
        pytest.param("2026-01", datetime(2026, 1, 1, tzinfo=UTC), id="january"),
        pytest.param("1999-12", datetime(1999, 12, 1, tzinfo=UTC), id="long-ago"),
    ],
)
def test_month_of(text, start):
    assert month_of(text, NOW) == start


@pytest.mark.parametrize("text", [
    "2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "0000-01", "2026-01-01",
    "\uff12\uff10\uff12\uff16-01",  # full-width digits
])  # fmt: skip
def test_a_malformed_month_is_refused(text):
    with pytest.raises(CodedError) as err:
        month_of(text, NOW)
    assert (err.value.code, err.value.status) == ("MONTH_INVALID", 422)


def test_a_month_sums_its_jobs_and_counts_a_shared_source_once():
    a = job_usage([INGEST, COMPUTED, RENDER], resources, Stored(1000, 250, "s1"))
    b = job_usage([INGEST, CACHED, RENDER], resources, Stored(1000, 100, "s1"))
    c = job_usage([INGEST], resources, Stored(500, 0, "s2"))
    got = month_usage(NOW, [a, b, c], 40 / 60 * 3, QUOTAS).to_json()
    assert got == {
        "month": "2026-12", "jobs": 3, "source_minutes": 2.0,
        "cpu_seconds": a.cpu_seconds + b.cpu_seconds + c.cpu_seconds,
        "gpu_seconds": a.gpu_seconds + b.gpu_seconds,
        "bytes_stored": {"source": 1500, "clips": 350, "total": 1850},
        "llm_tokens": {"prompt": 900, "completion": 40},
        "quotas": {"minutes_per_month": {"limit": 600, "used": 1.0, "left": 599.0},
                   "storage_bytes": {"limit": 1000, "used": 400, "left": 600},
                   "concurrent_jobs": {"limit": 3, "used": 1, "left": 2}},
    }  # fmt: skip


def test_an_empty_month_is_zeros_and_a_quota_never_goes_below_nothing():
    over = Quotas(Allowance(600, 0.0), Allowance(1000, 1500), Allowance(3, 0))
    got = month_usage(NOW, [], 0.0, over).to_json()
    assert (got["jobs"], got["source_minutes"], got["cpu_seconds"], got["gpu_seconds"]) == (
        0, 0.0, 0.0, 0.0)  # fmt: skip
    assert got["bytes_stored"] == {"source": 0, "clips": 0, "total": 0}
    assert got["llm_tokens"] == {"prompt": 0, "completion": 0}
    assert got["quotas"]["minutes_per_month"]["left"] == 600
    assert got["quotas"]["storage_bytes"]["left"] == 0
