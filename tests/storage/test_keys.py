"""Keys are built from ids only, and nothing that escapes a workspace gets through."""

import pytest

from clipray.storage.keys import UnsafeKeyError, check_key, object_key, workspace_prefix

pytestmark = pytest.mark.unit

WS = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
SRC = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def test_object_key_reads_workspace_kind_owner_name():
    key = object_key(WS, "sources", SRC, "original.mp4")
    assert key == f"{WS}/sources/{SRC}/original.mp4"
    assert check_key(key, WS) == key


def test_prefixes_end_in_a_slash_and_pass_the_check():
    assert workspace_prefix(WS) == f"{WS}/"
    assert workspace_prefix(WS, "analysis") == f"{WS}/analysis/"
    assert check_key(workspace_prefix(WS, "analysis"), WS)


@pytest.mark.parametrize(
    ("workspace_id", "kind", "owner_id", "names"),
    [
        pytest.param("../etc", "sources", SRC, (), id="workspace-dotdot"),
        pytest.param(WS.upper(), "sources", SRC, (), id="workspace-not-an-id"),
        pytest.param(WS, "secrets", SRC, (), id="unknown-kind"),
        pytest.param(WS, "sources", "my video", (), id="owner-not-an-id"),
        pytest.param(WS, "sources", SRC, ("..",), id="name-dotdot"),
        pytest.param(WS, "sources", SRC, ("a/../../b",), id="name-with-slashes"),
        pytest.param(WS, "sources", SRC, ("/etc/passwd",), id="name-absolute"),
        pytest.param(WS, "sources", SRC, ("x..mp4",), id="name-holding-dotdot"),
        pytest.param(WS, "sources", SRC, (".hidden",), id="name-hidden"),
        pytest.param(WS, "sources", SRC, ("a\\b",), id="name-backslash"),
        pytest.param(WS, "sources", SRC, ("",), id="name-empty"),
    ],
)
def test_object_key_refuses_anything_but_ids_and_plain_names(workspace_id, kind, owner_id, names):
    with pytest.raises(UnsafeKeyError):
        object_key(workspace_id, kind, owner_id, *names)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param(f"/{WS}/sources/x", id="leading-slash"),
        pytest.param(f"{WS}/../{OTHER}/sources/x", id="dotdot-segment"),
        pytest.param(f"{WS}/sources/..", id="dotdot-last"),
        pytest.param(f"{WS}/sources/a..b/../c", id="dotdot-anywhere"),
        pytest.param(f"{WS}/./sources", id="dot-segment"),
        pytest.param(f"{WS}//sources/x", id="empty-segment"),
        pytest.param(f"{WS}\\sources", id="backslash"),
        pytest.param(f"{WS}/sources/a\nb", id="control-char"),
        pytest.param("sources/x", id="no-workspace"),
        pytest.param(f"{WS}/" + "a" * 1100, id="too-long"),
    ],
)
def test_check_key_refuses_unsafe_keys(key):
    with pytest.raises(UnsafeKeyError):
        check_key(key)


def test_check_key_refuses_a_foreign_workspace():
    key = object_key(OTHER, "sources", SRC, "original.mp4")
    assert check_key(key) == key  # fine for the app itself...
    with pytest.raises(UnsafeKeyError, match="another workspace"):
        check_key(key, WS)  # ...not inside WS
