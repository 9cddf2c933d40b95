"""Job details show which process ran a step (its pid and Ray node) to workspace admins
only; every other caller sees the step's own detail without them. Real SQLite and S3; the
step rows are written as the job runner writes them."""

from __future__ import annotations

import json

import pytest

from clipray.storage.orm import Job, JobStatus, JobStep, StepStatus, utcnow
from tests.apiclient import Account, register

WORKER = {"worker_pid": 4242, "node_id": "f" * 56}


@pytest.fixture(scope="module")
def team(client) -> dict[str, Account]:
    """An owner's workspace with an admin, an editor and a viewer."""
    owner = register(client, "owner")
    members = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        acct = register(client, role)
        url = f"/api/workspaces/{owner.workspace_id}/members"
        resp = client.post(url, headers=owner.headers, json={"email": acct.email, "role": role})
        assert resp.status_code == 201, resp.text
        members[role] = acct
    return members


@pytest.fixture(scope="module")
def job_id(team, api_db) -> str:
    """A job in review whose two steps ran on a worker; the second failed once."""
    owner = team["owner"]
    with api_db.session() as s:
        job = Job(workspace_id=owner.workspace_id, kind="clips", status=JobStatus.REVIEW,
                  created_by=owner.id, params={"source": {"kind": "id", "value": "x"},
                                               "settings": {}})  # fmt: skip
        s.add(job)
        s.flush()
        now = utcnow()
        s.add_all([
            JobStep(job_id=job.id, name="ingest", attempt=1, status=StepStatus.SUCCEEDED,
                    started_at=now, finished_at=now,
                    detail={**WORKER, "source_id": "s" * 32, "seconds": 1.5}),
            JobStep(job_id=job.id, name="analyze", attempt=1, status=StepStatus.FAILED,
                    started_at=now, finished_at=now, error="ANALYSIS_FAILED: analysis failed",
                    detail={**WORKER, "code": "ANALYSIS_FAILED", "seconds": 3.0}),
        ])  # fmt: skip
        return job.id


def _as(acct: Account, team: dict[str, Account]) -> dict[str, str]:
    return {**acct.headers, "X-Workspace-Id": team["owner"].workspace_id}


@pytest.mark.parametrize(
    ("role", "sees"),
    [("owner", True), ("admin", True), ("editor", False), ("viewer", False)],
)
def test_only_admins_see_which_process_ran_each_step(client, team, job_id, role, sees):
    resp = client.get(f"/api/jobs/{job_id}", headers=_as(team[role], team))
    assert resp.status_code == 200, resp.text
    steps = resp.json()["steps"]
    assert [st["worker"] for st in steps] == ([WORKER, WORKER] if sees else [None, None])
    # the step's own detail is everyone's, never with the worker in it
    assert steps[0]["detail"] == {"source_id": "s" * 32, "seconds": 1.5}
    assert steps[1]["detail"] == {"code": "ANALYSIS_FAILED", "seconds": 3.0}
    assert ("worker_pid" in resp.text) is sees
    assert (WORKER["node_id"] in resp.text) is sees


def _events(client, headers: dict[str, str], job_id: str) -> list[tuple[str, dict]]:
    """The job's server-sent events; the stream ends by itself (the job is in review)."""
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as resp:
        assert resp.status_code == 200
        text = "".join(resp.iter_text())
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_the_event_stream_hides_them_from_a_viewer_too(client, team, job_id):
    seen = _events(client, _as(team["viewer"], team), job_id)
    steps = [data for event, data in seen if event == "step"]
    assert [(st["name"], st["worker"]) for st in steps] == [("ingest", None), ("analyze", None)]
    assert all("worker_pid" not in st["detail"] for st in steps)
    assert seen[-1] == ("end", {"status": "review"})
    admin = [data for event, data in _events(client, _as(team["admin"], team), job_id)
             if event == "step"]  # fmt: skip
    assert [st["worker"] for st in admin] == [WORKER, WORKER]


def test_an_admins_api_token_does_not_see_them(client, team, job_id):
    admin = team["admin"]
    made = client.post("/api/tokens", headers=_as(admin, team),
                       json={"name": "ci", "scopes": ["read"]})  # fmt: skip
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['token']}",
               "X-Workspace-Id": team["owner"].workspace_id}  # fmt: skip
    steps = client.get(f"/api/jobs/{job_id}", headers=headers).json()["steps"]
    assert [st["worker"] for st in steps] == [None, None]
