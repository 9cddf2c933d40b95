"""A job's snapshots as the messages its SSE and its WebSocket send: a step once per status
of each attempt, the status when one of its fields changed, ``end`` once only a person can
move it on (or it is gone); numbered from 1."""

from __future__ import annotations

import pytest

from clipray.services.job_events import JobFeed

pytestmark = pytest.mark.unit


def snap(status: str, progress: float, steps: list[tuple[str, int, str]], paused=False,
         error=None) -> dict:  # fmt: skip
    return {"id": "j1", "status": status, "progress": progress, "paused": paused,
            "error": error, "steps": [{"name": n, "attempt": a, "status": s}
                                      for n, a, s in steps]}  # fmt: skip


def test_only_changes_become_messages_until_the_job_settles():
    jf = JobFeed()
    first = jf.diff(snap("ingesting", 0.1, [("ingest", 1, "running")]))
    assert [(n, k) for n, k, _ in first] == [(1, "step"), (2, "status")]
    assert first[1][2] == {"id": "j1", "status": "ingesting", "progress": 0.1, "paused": False,
                           "error": None}  # fmt: skip
    assert jf.diff(snap("ingesting", 0.1000001, [("ingest", 1, "running")])) == []
    moved = jf.diff(snap("analyzing", 0.4, [("ingest", 1, "succeeded"), ("analyze", 1, "running")]))
    assert [(k, d.get("name"), d["status"]) for _, k, d in moved] == [
        ("step", "ingest", "succeeded"), ("step", "analyze", "running"),
        ("status", None, "analyzing")]  # fmt: skip
    assert not jf.ended
    paused = jf.diff(snap("analyzing", 0.4, [("analyze", 1, "running")], paused=True))
    assert [(k, d["paused"]) for _, k, d in paused] == [("status", True)]
    done = jf.diff(snap("review", 1.0, [("analyze", 1, "succeeded")]))
    assert [(n, k) for n, k, _ in done] == [(7, "step"), (8, "status"), (9, "end")]
    assert done[-1][2] == {"status": "review"}
    assert jf.ended


def test_a_retried_attempt_is_a_new_step_and_a_gone_job_ends():
    jf = JobFeed()
    jf.diff(snap("analyzing", 0.4, [("analyze", 1, "failed")]))
    again = jf.diff(snap("analyzing", 0.4, [("analyze", 1, "failed"), ("analyze", 2, "running")]))
    assert [(k, d["attempt"]) for _, k, d in again] == [("step", 2)]
    assert jf.diff(None) == [(4, "end", {"status": "deleted"})]
    assert jf.ended
