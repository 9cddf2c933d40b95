"""`clipray analyze` as a user runs it, a door onto ``services/main_job.py``: it prints the
analysis the service returns (here a cached one, stored as the pipeline stores it, so that
no model runs)."""

from __future__ import annotations

import json

from clipray.cluster.services import ensure_workspace, open_database, open_storage
from clipray.config import Settings
from clipray.pipelines.ingest import IngestContext
from clipray.services.main_job import analyse, ingest_uri
from tests.analysis_doc import store_analysis
from tests.test_cli import clipray


def test_analyze_prints_what_the_service_returns(tmp_path, monkeypatch, short_talk):
    home = tmp_path / "home"
    try:
        up = clipray(home, "up", "--no-ray")
        assert up.returncode == 0, up.stdout + up.stderr
        monkeypatch.setenv("CLIPRAY_HOME", str(home))
        settings = Settings()
        db = open_database(settings)
        ws = ensure_workspace(db, settings.workspace)
        ctx = IngestContext.of(settings, open_storage(settings), db, ws.id)
        item = ingest_uri(ctx, str(short_talk))
        doc = store_analysis(settings, ctx.buckets, db, item.source.id, speech=False)
        served = analyse(settings, ctx, item, str(short_talk))
        db.dispose()
        assert (served.cached, served.analysis.to_json()) == (True, doc)

        res = clipray(home, "analyze", str(short_talk), "--json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == doc
        human = clipray(home, "analyze", str(short_talk))
        assert human.returncode == 0, human.stderr
        lines = human.stdout.splitlines()
        assert lines[0] == f"source {item.source.id} (16.0 s) (cached analysis)"
        assert lines[1].split() == ["scenes", "2"]

        missing = clipray(home, "analyze", str(tmp_path / "none.mp4"))
        assert missing.returncode == 1
        assert "no such file" in missing.stderr
    finally:
        clipray(home, "down")
