"""``POST /api/jobs`` while the model services are swamped: 429 ``MODEL_SERVICES_BUSY`` with
``Retry-After``, and no job written. The depths come from a reader the test drives (the
app's reader is injectable); tests/actors/test_admission.py reads them from real services."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clipray.jobs.admission import ServiceLoad
from clipray.services import admission
from clipray.storage.keys import object_key
from clipray.storage.orm import Job, new_id
from tests.apiclient import register

pytestmark = pytest.mark.integration


@pytest.fixture
def depths(monkeypatch):
    """What the model services report, as the test sets it (read afresh on every POST)."""
    loads: dict[str, ServiceLoad] = {}
    monkeypatch.setattr(admission, "_reader",
                        admission.CachedDepths(lambda: dict(loads), ttl_s=0.0))  # fmt: skip
    return loads


def test_a_new_job_is_refused_while_a_service_is_at_its_hard_limit(
    client, api_settings, api_db, buckets, depths
):
    acct = register(client, "busy")
    key = object_key(acct.workspace_id, "sources", new_id(), "talk.mp4")
    buckets.media.scoped(acct.workspace_id).put_bytes(key, b"x" * 1024, content_type="video/mp4")
    body = {"source_key": key, "settings": {"max_clips": 1}}
    hard = api_settings.model_queue_hard_limit

    depths.update(Asr=ServiceLoad(hard + 3, answered_per_s=2.0), Faces=ServiceLoad(1, 5.0))
    resp = client.post("/api/jobs", headers=acct.headers, json=body)
    assert resp.status_code == 429, resp.text
    err = resp.json()["error"]
    assert err["code"] == "MODEL_SERVICES_BUSY"
    assert err["detail"] == {"service": "Asr", "depth": hard + 3, "hard_limit": hard}
    assert resp.headers["retry-after"] == "2"  # 4 answers to go, at 2 a second
    with api_db.session() as s:  # nothing half-written
        jobs = s.scalar(select(func.count()).select_from(Job)
                        .where(Job.workspace_id == acct.workspace_id))  # fmt: skip
    assert jobs == 0

    depths.update(Asr=ServiceLoad(hard - 1, answered_per_s=2.0))  # behind, under the limit
    resp = client.post("/api/jobs", headers=acct.headers, json=body)
    assert resp.status_code == 201, resp.text
    client.delete(f"/api/jobs/{resp.json()['id']}", headers=acct.headers)
