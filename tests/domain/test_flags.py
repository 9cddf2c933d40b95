"""The feature flags' pure rule: a workspace's setting wins over the global one, a flag
nobody set is on; the names; the settings that name the installation's owners and its
public address."""

import pytest

from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.domain.flags import (
    GLOBAL,
    FlagSetting,
    UnknownFlag,
    check_name,
    effective,
    flag_names,
    platform_flag,
)
from clipray.publish.base import PLATFORMS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("global_value", "workspace_value", "on"), [
    pytest.param(None, None, True, id="nobody-set-it/on"),
    pytest.param(False, None, False, id="global-off/off"),
    pytest.param(True, None, True, id="global-on/on"),
    pytest.param(False, True, True, id="global-off/workspace-on/on"),
    pytest.param(True, False, False, id="global-on/workspace-off/off"),
    pytest.param(None, False, False, id="workspace-off/off"),
    pytest.param(None, True, True, id="workspace-on/on"),
])  # fmt: skip
def test_a_workspaces_setting_wins_and_the_default_is_on(global_value, workspace_value, on):
    assert effective(global_value, workspace_value) is on


def test_one_flag_per_platform():
    names = flag_names(PLATFORMS)
    assert names == ("publish.youtube", "publish.tiktok", "publish.instagram", "publish.x",
                     "publish.linkedin")  # fmt: skip
    assert all(platform_flag(p) in names for p in PLATFORMS)
    assert len(set(names)) == len(PLATFORMS)


def test_an_unknown_name_is_refused_with_the_known_ones():
    known = flag_names(PLATFORMS)
    assert check_name("publish.x", known) == "publish.x"
    with pytest.raises(UnknownFlag) as refused:
        check_name("publish.myspace", iter(known))  # an iterator is read once
    assert isinstance(refused.value, CodedError)
    assert (refused.value.code, refused.value.status) == ("FLAG_UNKNOWN", 422)
    assert refused.value.detail == {"known": sorted(known)}
    assert "publish.youtube" in refused.value.message


def test_a_settings_scope():
    assert FlagSetting("publish.x", False).scope == GLOBAL
    assert FlagSetting("publish.x", False, "w" * 32).scope == "w" * 32


def test_install_owners_read_comma_separated_and_lower_cased(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPRAY_INSTALL_OWNERS", " Ops@Example.com, ,b@example.org ")
    assert Settings(home=tmp_path).install_owners == ("ops@example.com", "b@example.org")
    monkeypatch.delenv("CLIPRAY_INSTALL_OWNERS")
    assert Settings(home=tmp_path).install_owners == ()
    assert Settings(home=tmp_path, install_owners=["A@x.org"]).install_owners == ("a@x.org",)


@pytest.mark.parametrize(("given", "kept"), [
    pytest.param("https://clips.example.com/", "https://clips.example.com", id="slash-dropped"),
    pytest.param("https://example.com/clipray", "https://example.com/clipray", id="prefix"),
    pytest.param("http://10.0.0.5:8080", "http://10.0.0.5:8080", id="port"),
])  # fmt: skip
def test_the_public_url(given, kept, tmp_path):
    assert Settings(home=tmp_path, public_url=given).public_url == kept


@pytest.mark.parametrize("bad", ["clips.example.com", "ftp://example.com",
                                 "https://example.com/?a=1", "https:///x"])
def test_a_public_url_that_is_not_one_is_refused(bad, tmp_path):
    with pytest.raises(ValueError, match="public_url"):
        Settings(home=tmp_path, public_url=bad)
