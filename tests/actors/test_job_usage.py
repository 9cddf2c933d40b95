"""Usage through the API with real jobs: the job runner of test_job_runner.py on a real Ray,
real SQLite and S3, a real analysis and renders of a short talk. The re-ranking LLM is a
chat-completions server on loopback (no model can run here) that counts tokens as OpenAI
does, so the tokens the usage reports are the ones the server said it spent.

The usage must add up to what the job recorded: each step's seconds to its attempts', the
analysis stages to the analyze step's timings (and the analysis row's), CPU and GPU seconds
to the stage resources; a month to its jobs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from clipray.jobs.usage import TIMING_STAGES
from clipray.storage.orm import Job, JobStatus
from clipray.storage.repos import AnalysisRepo
from tests.actors.test_job_runner import SETTINGS, client, db, runner, wait_for  # noqa: F401

pytestmark = pytest.mark.timeout(900)
PROMPT, COMPLETION = 812, 37
"""What the fake model says each call cost."""


@pytest.fixture(scope="module")
def llm() -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible endpoint that keeps the heuristic order and reports ``usage``."""
    state: dict[str, Any] = {"calls": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            user = body["messages"][1]["content"]
            ids = [c["id"] for c in json.loads(user[user.index("{"):])["candidates"]]
            state["calls"] += 1
            payload = json.dumps({
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": json.dumps({"order": ids})}}],
                "usage": {"prompt_tokens": PROMPT, "completion_tokens": COMPLETION,
                          "total_tokens": PROMPT + COMPLETION},
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state["base_url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def runner_settings(api_settings, llm):
    # test_job_runner.py's runner, with the LLM re-ranking on
    return api_settings.model_copy(update={"job_runner_concurrency": 1,
                                           "llm_base_url": llm["base_url"],
                                           "llm_model": "test-model"})  # fmt: skip


def attempt_seconds(step: dict[str, Any]) -> float:
    """An attempt's seconds as the job view shows them: the runner's measure, else the
    attempt's own timestamps."""
    seconds = step["detail"].get("seconds")
    return float(seconds if seconds is not None else step["duration_s"] or 0.0)


def run_job(client, db, acct, source_id: str) -> tuple[dict, dict]:  # noqa: F811
    made = client.post("/api/jobs", headers=acct.headers,
                       json={"source_id": source_id, "settings": SETTINGS})  # fmt: skip
    assert made.status_code == 201, made.text
    job_id = made.json()["id"]
    done = wait_for(db, job_id, {JobStatus.REVIEW, JobStatus.FAILED}, timeout=600)
    assert done.status is JobStatus.REVIEW, done.error
    view = client.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    got = client.get(f"/api/jobs/{job_id}/usage", headers=acct.headers)
    assert got.status_code == 200, got.text
    return view, got.json()


def assert_adds_up(view: dict, usage: dict, settings) -> None:
    """Steps to their attempts, the coordinator stage to the steps, every stage's CPU and GPU
    seconds to its resources, the totals to the stages."""
    recorded: dict[str, float] = {}
    for st in view["steps"]:
        recorded[st["name"]] = recorded.get(st["name"], 0.0) + attempt_seconds(st)
    assert set(usage["steps"]) == set(recorded) == {"ingest", "analyze", "render"}
    for name, seconds in recorded.items():
        assert usage["steps"][name] == pytest.approx(seconds, abs=1e-3), name
    stages = usage["stages"]
    assert stages["job_step"]["seconds"] == pytest.approx(sum(recorded.values()), abs=2e-3)
    assert stages["render"]["seconds"] == pytest.approx(recorded["render"], abs=1e-3)
    for name, s in stages.items():
        res = settings.stage(name)
        assert s["cpu_seconds"] == pytest.approx(s["seconds"] * res.num_cpus, abs=1e-3), name
        assert s["gpu_seconds"] == pytest.approx(s["seconds"] * res.num_gpus, abs=1e-3), name
    assert usage["cpu_seconds"] == pytest.approx(sum(s["cpu_seconds"] for s in stages.values()),
                                                 abs=1e-6)  # fmt: skip
    assert usage["gpu_seconds"] == pytest.approx(sum(s["gpu_seconds"] for s in stages.values()),
                                                 abs=1e-6)  # fmt: skip


def clip_bytes(client, acct, job_id: str) -> int:  # noqa: F811
    clips = client.get(f"/api/clips?job_id={job_id}", headers=acct.headers).json()["data"]
    assert clips
    assert all(c["generated_clip_id"] for c in clips)
    return sum(client.get(f"/api/generated-clips/{c['generated_clip_id']}",
                          headers=acct.headers).json()["size_bytes"] for c in clips)  # fmt: skip


def test_usage_adds_up_to_the_jobs_records_and_the_month_to_its_jobs(
    client, db, runner, runner_settings, llm, short_talk  # noqa: F811
):
    from tests.apiclient import register, upload

    acct = register(client, "usage")
    sid = upload(client, acct, short_talk).json()["source_id"]
    size = short_talk.stat().st_size

    # a job that analyses its source
    view, first = run_job(client, db, acct, sid)
    assert_adds_up(view, first, runner_settings)
    assert first["cached"] is False
    (analyze,) = [st for st in view["steps"] if st["name"] == "analyze"]
    timings = analyze["detail"]["timings"]
    with db.session() as s:  # the analysis row the job made holds the same timings
        job = s.get(Job, view["id"])
        row = AnalysisRepo(s, acct.workspace_id).latest(job.source_id)
        assert row is not None
        assert row.summary["timings"] == timings
    assert {"decode+scenes", "audio", "asr", "faces", "merge"} <= set(timings)
    for key, seconds in timings.items():  # worker seconds, so they may exceed the wall time
        assert first["stages"][TIMING_STAGES.get(key, key)]["seconds"] == pytest.approx(
            seconds, abs=1e-3)  # fmt: skip
    assert first["stages"]["asr"]["seconds"] > 0
    assert first["cpu_seconds"] > 0
    assert first["llm_tokens"] == {"prompt": PROMPT, "completion": COMPLETION}
    assert llm["calls"] == 1
    first_clips = clip_bytes(client, acct, view["id"])
    assert first["bytes_stored"] == {"source": size, "clips": first_clips,
                                     "total": size + first_clips}  # fmt: skip

    # the same source again: the analysis is reused and costs this job nothing
    again_view, again = run_job(client, db, acct, sid)
    assert_adds_up(again_view, again, runner_settings)
    assert again["cached"] is True
    assert set(again["stages"]) == {"job_step", "render"}
    reused = [st["detail"] for st in again_view["steps"] if st["name"] == "analyze"]
    assert "timings" not in reused[-1]
    assert again["llm_tokens"] == {"prompt": PROMPT, "completion": COMPLETION}
    again_clips = clip_bytes(client, acct, again_view["id"])
    assert again["bytes_stored"]["clips"] == again_clips > 0

    # the month: both jobs, their source once, the quotas with what is left
    month = client.get("/api/usage", headers=acct.headers)
    assert month.status_code == 200, month.text
    m = month.json()
    duration = client.get(f"/api/sources/{sid}", headers=acct.headers).json()["duration_s"]
    assert m["workspace_id"] == acct.workspace_id
    assert m["jobs"] == 2
    assert m["cpu_seconds"] == pytest.approx(first["cpu_seconds"] + again["cpu_seconds"],
                                             abs=2e-3)  # fmt: skip
    assert m["gpu_seconds"] == pytest.approx(first["gpu_seconds"] + again["gpu_seconds"],
                                             abs=2e-3)  # fmt: skip
    assert m["source_minutes"] == pytest.approx(2 * duration / 60, abs=1e-3)
    assert m["bytes_stored"] == {"source": size, "clips": first_clips + again_clips,
                                 "total": size + first_clips + again_clips}  # fmt: skip
    assert m["llm_tokens"] == {"prompt": 2 * PROMPT, "completion": 2 * COMPLETION}
    q = m["quotas"]
    limit = runner_settings.quota_minutes_per_month
    assert q["minutes_per_month"]["limit"] == limit
    assert q["minutes_per_month"]["used"] == pytest.approx(m["source_minutes"], abs=1e-3)
    assert q["minutes_per_month"]["left"] == pytest.approx(limit - m["source_minutes"], abs=1e-3)
    assert q["storage_bytes"] == {"limit": runner_settings.quota_storage_bytes, "used": size,
                                  "left": runner_settings.quota_storage_bytes - size}  # fmt: skip
    assert q["concurrent_jobs"] == {"limit": runner_settings.quota_concurrent_jobs, "used": 0,
                                    "left": runner_settings.quota_concurrent_jobs}  # fmt: skip
    named = client.get(f"/api/usage?month={m['month']}", headers=acct.headers).json()
    assert named == m

    # a month with no jobs: zeros, and the month's minutes all left
    past = client.get("/api/usage?month=2020-01", headers=acct.headers).json()
    assert (past["jobs"], past["source_minutes"], past["cpu_seconds"], past["gpu_seconds"]) == (
        0, 0.0, 0.0, 0.0)  # fmt: skip
    assert past["bytes_stored"] == {"source": 0, "clips": 0, "total": 0}
    assert past["llm_tokens"] == {"prompt": 0, "completion": 0}
    assert past["quotas"]["minutes_per_month"] == {"limit": limit, "used": 0.0, "left": limit}
