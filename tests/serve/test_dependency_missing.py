"""Without ffprobe or ffmpeg the API says so: 503 ``DEPENDENCY_MISSING`` with the fix, never
500, and a refused upload leaves nothing behind. Real S3, real SQLite, the plain app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clipray.config import Settings
from clipray.serve.app import create_api
from clipray.storage.orm import Source, UploadReservation
from tests.apiclient import register, upload
from tests.conftest import cancel_active_jobs


def _uploads_left(settings: Settings, workspace_id: str) -> list[str]:
    from clipray.cluster.services import open_storage

    store = open_storage(settings).media.scoped(workspace_id)
    return [o.key for o in store.list(f"{workspace_id}/uploads/")]


def test_the_env_var_named_in_the_fix_sets_the_binary(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("CLIPRAY_FFPROBE_BIN", str(tmp_path / "ffprobe"))
    monkeypatch.setenv("CLIPRAY_FFMPEG_BIN", str(tmp_path / "ffmpeg"))
    settings = Settings()
    assert (settings.ffprobe_bin, settings.ffmpeg_bin) == (str(tmp_path / "ffprobe"),
                                                          str(tmp_path / "ffmpeg"))  # fmt: skip


@pytest.mark.parametrize("tool", ["ffprobe", "ffmpeg"])
def test_confirm_without_the_tool_is_503_and_keeps_nothing(
    tool: str, api_settings: Settings, api_db, short_talk: Path, tmp_path: Path
):
    missing = str(tmp_path / "not-installed" / tool)
    settings = api_settings.model_copy(update={f"{tool}_bin": missing})
    with TestClient(create_api(settings)) as client:
        acct = register(client, f"nodeps-{tool}")
        resp = upload(client, acct, short_talk)
    cancel_active_jobs(api_db)
    assert resp.status_code == 503, resp.text
    err = resp.json()["error"]
    assert err["code"] == "DEPENDENCY_MISSING"
    assert err["detail"] == {"tool": tool, "binary": missing}
    assert "apt-get install -y ffmpeg" in err["message"]
    assert f"CLIPRAY_{tool.upper()}_BIN" in err["message"]
    assert err["trace_id"] == resp.headers["x-trace-id"]
    assert "retry-after" not in resp.headers  # installing it is not a matter of waiting
    # nothing half-written: the uploaded object is gone and no source was recorded
    assert _uploads_left(api_settings, acct.workspace_id) == []
    with api_db.session() as s:
        assert s.query(Source).filter(Source.workspace_id == acct.workspace_id).count() == 0
        held = UploadReservation.workspace_id == acct.workspace_id
        assert s.query(UploadReservation).filter(held).count() == 0  # the quota hold is freed
    # the same upload succeeds once the tool is there
    with TestClient(create_api(api_settings)) as client:
        again = upload(client, acct, short_talk)
    assert again.status_code == 200, again.text
