"""`clipray analyze` as a user runs it, a door onto ``services/main_job.py``: it prints the
analysis the service returns (here a cached one, stored as the pipeline stores it, so that
no model runs)."""

from __future__ import annotations

import json

from clipray.services.main_job import analyse, ingest_uri
from tests.analysis_doc import store_analysis


def test_analyze_prints_what_the_service_returns(tmp_path, up_home, short_talk):
    settings, db = up_home.settings, up_home.db
    ctx = up_home.ingest_context()
    item = ingest_uri(ctx, str(short_talk))
    doc = store_analysis(settings, ctx.buckets, db, item.source.id, speech=False)
    served = analyse(settings, ctx, item, str(short_talk))
    db.dispose()
    assert (served.cached, served.analysis.to_json()) == (True, doc)

    res = up_home.run("analyze", str(short_talk), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == doc
    human = up_home.run("analyze", str(short_talk))
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0] == f"source {item.source.id} (16.0 s) (cached analysis)"
    assert lines[1].split() == ["scenes", "2"]

    missing = up_home.run("analyze", str(tmp_path / "none.mp4"))
    assert missing.returncode == 1
    assert "no such file" in missing.stderr
