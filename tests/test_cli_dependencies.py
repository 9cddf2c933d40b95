"""A missing media tool, as a CLI user meets it: one line with the code and the fix, exit
code 2 (a coded refusal), and nothing recorded or stored."""

from pathlib import Path

from tests.test_cli import clipray


def test_analyze_without_ffprobe_is_dependency_missing(tmp_path: Path, short_talk: Path,
                                                       monkeypatch):  # fmt: skip
    from clipray.cluster.services import open_database, open_storage
    from clipray.config import Settings
    from clipray.storage.orm import Source

    home = tmp_path / "home"
    missing = tmp_path / "not-installed" / "ffprobe"
    try:
        up = clipray(home, "up", "--no-ray")
        assert up.returncode == 0, up.stdout + up.stderr
        res = clipray(home, "analyze", str(short_talk), env={"CLIPRAY_FFPROBE_BIN": str(missing)})
        assert res.returncode == 2, res.stdout + res.stderr
        assert res.stdout == ""
        message = " ".join(res.stderr.split())  # rich wraps nothing (soft_wrap), but be safe
        assert message.startswith("error: DEPENDENCY_MISSING: ffprobe is not installed"), message
        assert str(missing) in message
        assert "apt-get install -y ffmpeg, or set CLIPRAY_FFPROBE_BIN" in message
        assert "Traceback" not in res.stderr
        monkeypatch.setenv("CLIPRAY_HOME", str(home))
        settings = Settings()
        db = open_database(settings)
        with db.session() as s:
            assert s.query(Source).count() == 0
        db.dispose()
        assert list(open_storage(settings).media.list_all()) == []
    finally:
        clipray(home, "down")
