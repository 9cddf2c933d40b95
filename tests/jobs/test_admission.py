"""Admission against the model services' queues: golden cases of the pure decision."""

import pytest

from clipray.jobs.admission import (
    MAX_RETRY_AFTER_S,
    Admission,
    QueueLimits,
    ServiceLoad,
    Verdict,
    decide,
    per_service,
)

pytestmark = pytest.mark.unit

LIMITS = QueueLimits(soft=8, hard=32, retry_after_s=10)


def load(depth: int, rate: float = 0.0) -> ServiceLoad:
    return ServiceLoad(depth=depth, answered_per_s=rate)


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        pytest.param({}, Admission(Verdict.ADMIT), id="nothing-deployed"),
        pytest.param({"Asr": load(0), "Faces": load(0)}, Admission(Verdict.ADMIT), id="idle"),
        pytest.param({"Asr": load(7), "Faces": load(3)}, Admission(Verdict.ADMIT),
                     id="just-under-soft"),
        pytest.param({"Asr": load(8), "Faces": load(3)}, Admission(Verdict.QUEUE, "Asr", 8),
                     id="at-soft-queues"),
        pytest.param({"Asr": load(9), "Faces": load(31)},
                     Admission(Verdict.QUEUE, "Faces", 31), id="deepest-behind-named"),
        # At the hard limit: 1 answer brings it under; at 2 answers a second, 1 s (rounded up).
        pytest.param({"Asr": load(32, 2.0)}, Admission(Verdict.REFUSE, "Asr", 32, 1),
                     id="at-hard-refuses"),
        # 50 - 32 + 1 = 19 answers at 2 a second: 9.5 s, rounded up.
        pytest.param({"Asr": load(50, 2.0), "Faces": load(2)},
                     Admission(Verdict.REFUSE, "Asr", 50, 10), id="estimate-from-throughput"),
        pytest.param({"Asr": load(40)}, Admission(Verdict.REFUSE, "Asr", 40, 10),
                     id="no-throughput-uses-setting"),
        # Both over: the job needs both, so it waits for the slower one (Faces: 9 / 0.5 s).
        pytest.param({"Asr": load(40, 3.0), "Faces": load(36, 0.5)},
                     Admission(Verdict.REFUSE, "Faces", 36, 10), id="longest-wait-wins"),
        pytest.param({"Asr": load(10_000, 0.1)},
                     Admission(Verdict.REFUSE, "Asr", 10_000, MAX_RETRY_AFTER_S), id="capped"),
        pytest.param({"Asr": load(33, 1000.0)}, Admission(Verdict.REFUSE, "Asr", 33, 1),
                     id="at-least-one-second"),
    ],
)  # fmt: skip
def test_decide(loads, expected):
    assert decide(loads, LIMITS) == expected


@pytest.mark.parametrize("depth", range(0, 80))
def test_the_verdict_follows_the_limits_at_every_depth(depth):
    got = decide({"TextEmbed": load(depth, 1.5)}, LIMITS)
    want = (Verdict.ADMIT if depth < LIMITS.soft
            else Verdict.QUEUE if depth < LIMITS.hard else Verdict.REFUSE)  # fmt: skip
    assert got.verdict is want
    if want is Verdict.REFUSE:
        assert 1 <= got.retry_after_s <= MAX_RETRY_AFTER_S
        # the estimate: enough time for the excess to be answered at the measured rate
        assert got.retry_after_s * 1.5 >= depth - LIMITS.hard + 1
    else:
        assert got.retry_after_s == 0


def test_a_hard_limit_of_one_refuses_any_request_in_flight():
    tight = QueueLimits(soft=1, hard=1, retry_after_s=5)
    assert decide({"Faces": load(0)}, tight).verdict is Verdict.ADMIT
    assert decide({"Faces": load(1)}, tight) == Admission(Verdict.REFUSE, "Faces", 1, 5)


def test_the_decision_does_not_depend_on_the_order_of_services():
    loads = {"Asr": load(40, 1.0), "Faces": load(40, 1.0), "TextEmbed": load(9)}
    assert decide(loads, LIMITS) == decide(dict(reversed(loads.items())), LIMITS)


A, Q, R = Verdict.ADMIT, Verdict.QUEUE, Verdict.REFUSE


@pytest.mark.parametrize(
    ("loads", "counted"),
    [
        pytest.param({}, {}, id="nothing-deployed-counts-nothing"),
        pytest.param({"Asr": load(0), "Faces": load(7)}, {"Asr": A, "Faces": A}, id="idle"),
        pytest.param({"Asr": load(8), "Faces": load(2), "TextEmbed": load(31)},
                     {"Asr": Q, "Faces": A, "TextEmbed": Q}, id="each-its-own-queue"),
        # A refused job never reaches the services under the hard limit: they count nothing.
        pytest.param({"Asr": load(32), "Faces": load(9), "TextEmbed": load(0)}, {"Asr": R},
                     id="refused-counts-at-the-refusing-service-only"),
        pytest.param({"Asr": load(40, 3.0), "Faces": load(36, 0.5)}, {"Asr": R, "Faces": R},
                     id="every-refusing-service"),
    ],
)  # fmt: skip
def test_per_service_counts_what_each_queue_made_of_the_job(loads, counted):
    decision = decide(loads, LIMITS)
    got = per_service(loads, LIMITS, decision)
    assert got == counted
    # The job's verdict is the worst of what the services counted (admit where none did).
    worst = max(got.values(), key=[A, Q, R].index, default=A)
    assert worst is decision.verdict
