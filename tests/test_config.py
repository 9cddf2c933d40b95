"""Settings: the CLIPRAY_ prefix, embedded defaults under the data dir, production values."""

from pathlib import Path

import pytest

from clipray.config import Settings

pytestmark = pytest.mark.unit


def test_embedded_defaults_live_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPRAY_HOME", str(tmp_path / "data"))
    s = Settings()
    assert s.home_dir == (tmp_path / "data").resolve()
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'clipray.db'}"
    assert s.uses_embedded_s3
    assert s.ray_address is None
    assert s.workspace == "local"


def test_production_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLIPRAY_DATABASE_URL", "postgresql+psycopg://u:p@db/clipray")
    monkeypatch.setenv("CLIPRAY_S3_ENDPOINT_URL", "https://acct.r2.cloudflarestorage.com")
    monkeypatch.setenv("CLIPRAY_S3_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("CLIPRAY_S3_SECRET_ACCESS_KEY", "SK")
    monkeypatch.setenv("CLIPRAY_S3_REGION", "auto")
    monkeypatch.setenv("CLIPRAY_RAY_ADDRESS", "ray://head:10001")
    s = Settings()
    assert s.resolved_database_url == "postgresql+psycopg://u:p@db/clipray"
    assert not s.uses_embedded_s3
    assert s.s3_secret_access_key.get_secret_value() == "SK"
    assert "SK" not in repr(s)
    assert s.ray_address == "ray://head:10001"


def test_home_expands_the_user_dir(monkeypatch):
    monkeypatch.delenv("CLIPRAY_HOME", raising=False)
    assert Settings().home_dir == Path("~/.clipray").expanduser().resolve()


def test_every_field_is_documented():
    """Attribute docstrings become field descriptions: an undocumented knob fails here."""
    missing = [name for name, f in Settings.model_fields.items() if not f.description]
    assert missing == []
