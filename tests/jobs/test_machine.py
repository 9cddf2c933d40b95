"""The job state machine, exhaustively: every (state, event) pair is either the expected
transition or refused."""

import random

import pytest

from clipray.jobs.machine import (
    STEP_POLICIES,
    TERMINAL,
    Event,
    InvalidTransitionError,
    JobStatus,
    RetryPolicy,
    Step,
    can_pause,
    next_action,
    progress,
    transition,
)

pytestmark = pytest.mark.unit

S, E = JobStatus, Event
# The whole table, written out: (state, event) -> next state. Everything else is refused.
EXPECTED = {
    (S.CREATED, E.START): S.INGESTING,
    (S.CREATED, E.CANCEL): S.CANCELLED,
    (S.INGESTING, E.STEP_SUCCEEDED): S.ANALYZING,
    (S.INGESTING, E.STEP_FAILED): S.FAILED,
    (S.INGESTING, E.CANCEL): S.CANCELLED,
    (S.ANALYZING, E.STEP_SUCCEEDED): S.CLIPS_GENERATED,
    (S.ANALYZING, E.STEP_FAILED): S.FAILED,
    (S.ANALYZING, E.CANCEL): S.CANCELLED,
    (S.CLIPS_GENERATED, E.START): S.RENDERING,
    (S.CLIPS_GENERATED, E.CANCEL): S.CANCELLED,
    (S.RENDERING, E.STEP_SUCCEEDED): S.REVIEW,
    (S.RENDERING, E.STEP_FAILED): S.FAILED,
    (S.RENDERING, E.CANCEL): S.CANCELLED,
    (S.REVIEW, E.COMPLETE): S.COMPLETED,
    (S.FAILED, E.RETRY): None,  # depends on the failed step, tested below
}


@pytest.mark.parametrize("state", list(S), ids=str)
@pytest.mark.parametrize("event", list(E), ids=str)
def test_every_state_event_pair(state, event):
    key = (state, event)
    if key not in EXPECTED:
        with pytest.raises(InvalidTransitionError) as err:
            transition(state, event, failed_step=Step.ANALYZE)
        assert state.value in str(err.value)
        return
    if EXPECTED[key] is None:
        return
    assert transition(state, event) is EXPECTED[key]


@pytest.mark.parametrize(
    ("step", "state"),
    [(Step.INGEST, S.INGESTING), (Step.ANALYZE, S.ANALYZING), (Step.RENDER, S.RENDERING)],
    ids=str,
)
def test_retry_goes_back_to_the_failed_steps_state(step, state):
    assert transition(S.FAILED, E.RETRY, failed_step=step) is state


def test_retry_without_the_failed_step_is_a_programming_error():
    with pytest.raises(ValueError, match="step that failed"):
        transition(S.FAILED, E.RETRY)


def test_terminal_states_take_no_event_but_retry_from_failed():
    for state in TERMINAL:
        for event in E:
            if (state, event) == (S.FAILED, E.RETRY):
                continue
            with pytest.raises(InvalidTransitionError):
                transition(state, event, failed_step=Step.INGEST)


def test_the_happy_path_reaches_completed_through_every_state():
    state, seen = S.CREATED, [S.CREATED]
    while state is not S.COMPLETED:
        action = next_action(state, paused=False)
        if action is None:
            state = transition(state, E.COMPLETE)
        elif isinstance(action, Step):
            state = transition(state, E.STEP_SUCCEEDED)
        else:
            state = transition(state, action)
        seen.append(state)
    assert seen == [S.CREATED, S.INGESTING, S.ANALYZING, S.CLIPS_GENERATED, S.RENDERING,
                    S.REVIEW, S.COMPLETED]  # fmt: skip


@pytest.mark.parametrize("state", list(S), ids=str)
def test_next_action(state):
    expected = {
        S.CREATED: E.START,
        S.INGESTING: Step.INGEST,
        S.ANALYZING: Step.ANALYZE,
        S.CLIPS_GENERATED: E.START,
        S.RENDERING: Step.RENDER,
    }.get(state)
    assert next_action(state, paused=False) == expected
    assert next_action(state, paused=True) is None


@pytest.mark.parametrize("state", list(S), ids=str)
def test_pause_only_while_work_remains(state):
    assert can_pause(state) is (state not in TERMINAL and state is not S.REVIEW)


def test_progress_is_monotonic_along_the_path():
    path = [S.CREATED, S.INGESTING, S.ANALYZING, S.CLIPS_GENERATED, S.RENDERING, S.REVIEW]
    values = []
    for state in path:
        values += [progress(state, 0.0), progress(state, 0.5), progress(state, 1.0)]
    assert values == sorted(values)
    assert values[0] == 0.0
    assert values[-1] == 1.0
    assert progress(S.ANALYZING, 7.0) == progress(S.ANALYZING, 1.0)  # clamped


def test_retry_policy_counts_attempts_and_backs_off():
    policy = RetryPolicy(max_attempts=3, base_delay_s=2.0, max_delay_s=5.0, jitter=0.0)
    assert policy.should_retry(1, retryable=True)
    assert policy.should_retry(2, retryable=True)
    assert not policy.should_retry(3, retryable=True)
    assert not policy.should_retry(1, retryable=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 5.0, 5.0]


def test_jitter_only_shortens_the_delay():
    policy = RetryPolicy(base_delay_s=10.0, jitter=0.5)
    rng = random.Random(7)  # noqa: S311 - jitter, not secrets
    delays = [policy.delay(1, rng) for _ in range(200)]
    assert all(5.0 <= d <= 10.0 for d in delays)
    assert len(set(delays)) > 1


def test_every_step_has_a_policy():
    assert set(STEP_POLICIES) == set(Step)
