"""``clipray doctor``'s publishing lines: each platform on or off with the settings to set,
and whether tokens can be encrypted."""

import pytest
from pydantic import SecretStr

from clipray.cluster.doctor import check_publishing
from clipray.config import Settings
from clipray.publish.base import PlatformSettings, PublishSettings

pytestmark = pytest.mark.unit

YOUTUBE = PublishSettings(youtube=PlatformSettings(client_id="c", client_secret=SecretStr("s")))


def test_each_platform_is_on_or_off_with_its_fix(tmp_path):
    checks = {c.name: c for c in check_publishing(Settings(home=tmp_path, publish=YOUTUBE))}
    assert checks["publish youtube"].level == "ok"
    for platform in ("tiktok", "instagram", "x", "linkedin"):
        off = checks[f"publish {platform}"]
        assert off.level == "warn"
        key = f"CLIPRAY_PUBLISH__{platform.upper()}"
        assert off.fix == f"set {key}__CLIENT_ID and {key}__CLIENT_SECRET"
    assert checks["token encryption"].level == "ok"  # embedded: a key generated under home


def test_production_without_fernet_keys_fails(tmp_path):
    settings = Settings(home=tmp_path, publish=YOUTUBE, database_url="sqlite:///x.db",
                        fernet_keys=None)  # fmt: skip
    checks = {c.name: c for c in check_publishing(settings)}
    assert checks["token encryption"].level == "fail"
    assert "CLIPRAY_FERNET_KEYS" in checks["token encryption"].fix


def test_nothing_configured_needs_no_keys(tmp_path):
    checks = check_publishing(Settings(home=tmp_path, database_url="sqlite:///x.db"))
    assert {c.level for c in checks} == {"warn"}
    assert "token encryption" not in {c.name for c in checks}
