"""One workspace's burst never starves another's job."""

from __future__ import annotations

import random

import pytest

from clipray.jobs.fairness import Waiting, pick_fairly

pytestmark = pytest.mark.unit


def test_a_burst_does_not_hold_every_slot() -> None:
    burst = [Waiting(f"a{k}", "A") for k in range(50)]
    late = Waiting("b0", "B")  # submitted after the whole burst
    assert pick_fairly([*burst, late], {}, 2) == ["a0", "b0"]


def test_the_workspace_with_fewer_running_jobs_goes_first() -> None:
    waiting = [Waiting("a5", "A"), Waiting("b1", "B")]
    assert pick_fairly(waiting, {"A": 1}, 1) == ["b1"]
    assert pick_fairly(waiting, {"B": 2, "A": 1}, 1) == ["a5"]


def test_a_workspace_alone_gets_every_slot_oldest_first() -> None:
    waiting = [Waiting(f"a{k}", "A") for k in range(5)]
    assert pick_fairly(waiting, {"A": 3}, 4) == ["a0", "a1", "a2", "a3"]


def test_ties_go_to_the_older_waiting_job_and_nothing_is_picked_twice() -> None:
    waiting = [Waiting("b0", "B"), Waiting("a0", "A"), Waiting("a1", "A"), Waiting("c0", "C")]
    assert pick_fairly(waiting, {}, 10) == ["b0", "a0", "c0", "a1"]
    assert pick_fairly(waiting, {}, 0) == []


def test_drained_over_many_passes_every_workspace_waits_at_most_its_share() -> None:
    """Simulate a runner with 2 slots where A submits 40 jobs at once and B one job every
    few ticks: B's jobs never wait more than one finished job per slot."""
    rng = random.Random(7)  # noqa: S311  (a repeatable simulation, not a secret)
    waiting = [Waiting(f"a{k}", "A") for k in range(40)]
    running: dict[str, str] = {}  # job -> workspace
    waited: dict[str, int] = {}
    for tick in range(200):
        if tick % 5 == 0:
            waiting.append(Waiting(f"b{tick}", "B"))
            waited[f"b{tick}"] = tick
        for job in [j for j in running if rng.random() < 0.5]:  # some finish
            del running[job]
        per_ws: dict[str, int] = {}
        for ws in running.values():
            per_ws[ws] = per_ws.get(ws, 0) + 1
        for job in pick_fairly(waiting, per_ws, 2 - len(running)):
            ws = next(w.workspace_id for w in waiting if w.job_id == job)
            waiting = [w for w in waiting if w.job_id != job]
            running[job] = ws
            if job in waited:
                waited[job] = tick - waited[job]
    b_waits = [v for k, v in waited.items() if not any(w.job_id == k for w in waiting)]
    assert b_waits, "B's jobs ran"
    assert max(b_waits) <= 3, b_waits
