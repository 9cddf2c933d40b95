"""A missing media tool, as a CLI user meets it: one line with the code and the fix, exit
code 2 (a coded refusal), and nothing recorded or stored."""

from pathlib import Path


def test_analyze_without_ffprobe_is_dependency_missing(tmp_path: Path, short_talk: Path,
                                                       up_home):  # fmt: skip
    from clipray.storage.orm import Source

    missing = tmp_path / "not-installed" / "ffprobe"
    res = up_home.run("analyze", str(short_talk), env={"CLIPRAY_FFPROBE_BIN": str(missing)})
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""
    message = " ".join(res.stderr.split())  # rich wraps nothing (soft_wrap), but be safe
    assert message.startswith("error: DEPENDENCY_MISSING: ffprobe is not installed"), message
    assert str(missing) in message
    assert "apt-get install -y ffmpeg, or set CLIPRAY_FFPROBE_BIN" in message
    assert "Traceback" not in res.stderr
    with up_home.db.session() as s:
        assert s.query(Source).count() == 0
    assert list(up_home.buckets.media.list_all()) == []
