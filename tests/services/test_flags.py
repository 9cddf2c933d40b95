"""Feature flags through ``services/flags.py`` on SQLite and PostgreSQL: the workspace's
setting over the global one, the refusal's code, one row per scope and name under
concurrent writers (the upsert), clearing, the audit rows; and who owns the installation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import Forbidden, NotFound
from clipray.domain.flags import UnknownFlag
from clipray.publish.base import PlatformOff, UnknownPlatform
from clipray.services import audit, flags
from clipray.services.access import is_install_owner, require_install_owner
from clipray.storage.orm import AuditEvent, FeatureFlag, User
from clipray.storage.repos import UserRepo, WorkspaceRepo
from tests.conftest import at_once

# Integration: a real database, twice.


def _workspace(db) -> tuple[str, str]:
    """A fresh workspace and a user (the actor), committed."""
    with db.session() as s:
        user = UserRepo(s).create(f"flags-{uuid.uuid4().hex[:10]}@example.com")
        ws = WorkspaceRepo(s).create(f"flags-{uuid.uuid4().hex[:10]}", owner=user)
        return ws.id, user.id


@pytest.fixture
def global_reset(migrated_db):
    """Global flags are shared by every test of the database: put them back afterwards."""
    yield
    for name in flags.KNOWN:
        flags.set_flag(migrated_db, Actor(None), name, None)


def test_a_workspaces_setting_wins_over_the_global_one(migrated_db, global_reset):
    db = migrated_db
    ws, user = _workspace(db)
    other, _ = _workspace(db)
    assert flags.platform_enabled(db, "tiktok", ws)  # nobody set it: on
    flags.set_flag(db, Actor(user, "203.0.113.9"), "publish.tiktok", False)
    assert not flags.platform_enabled(db, "tiktok", ws)
    assert not flags.platform_enabled(db, "tiktok", other)
    assert flags.platform_enabled(db, "youtube", ws)  # one flag per platform
    flags.set_flag(db, Actor(user), "publish.tiktok", True, workspace_id=ws)
    assert flags.platform_enabled(db, "tiktok", ws)
    assert not flags.platform_enabled(db, "tiktok", other)
    with pytest.raises(flags.PlatformSwitchedOff) as refused:
        flags.require_platform(db, "tiktok", other)
    exc = refused.value
    assert isinstance(exc, PlatformOff)  # whoever handles PLATFORM_OFF handles this
    assert (exc.code, exc.status) == ("PLATFORM_SWITCHED_OFF", 409)
    assert exc.detail == {"platform": "tiktok", "flag": "publish.tiktok", "scope": "global"}
    assert "for every workspace" in exc.message
    flags.require_platform(db, "tiktok", ws)

    # Off for one workspace only, while on globally.
    flags.set_flag(db, Actor(user), "publish.tiktok", None)  # global back to default
    flags.set_flag(db, Actor(user), "publish.tiktok", False, workspace_id=other)
    with pytest.raises(flags.PlatformSwitchedOff) as refused:
        flags.require_platform(db, "tiktok", other)
    assert refused.value.detail["scope"] == "workspace"
    flags.require_platform(db, "tiktok", ws)
    with pytest.raises(UnknownPlatform):
        flags.require_platform(db, "myspace", ws)


def test_setting_is_one_row_per_scope_and_name_under_concurrent_writers(migrated_db,
                                                                        global_reset):  # fmt: skip
    db = migrated_db
    ws, user = _workspace(db)
    values = [i % 2 == 0 for i in range(8)]
    results = at_once(*[
        (lambda v=v: flags.set_flag(db, Actor(user), "publish.x", v, workspace_id=ws))
        for v in values
    ])  # fmt: skip
    assert [r.enabled for r in results] == values  # each writer saw its own write
    at_once(*[(lambda v=v: flags.set_flag(db, Actor(user), "publish.x", v)) for v in values])
    with db.session() as s:
        rows = list(s.scalars(select(FeatureFlag).where(FeatureFlag.name == "publish.x",
                                                        FeatureFlag.scope.in_(["global", ws]))))
    assert sorted(r.scope for r in rows) == sorted(["global", ws])
    # The last write wins: the stored value is what one of the writers wrote, and reads agree.
    by_scope = {r.scope: r.enabled for r in rows}
    assert flags.platform_enabled(db, "x", ws) is by_scope[ws]


def test_listing_shows_every_flag_globally_and_the_overrides(migrated_db, global_reset):
    db = migrated_db
    ws, user = _workspace(db)
    flags.set_flag(db, Actor(user), "publish.linkedin", False)
    flags.set_flag(db, Actor(user), "publish.youtube", False, workspace_id=ws)
    listed = flags.list_flags(db, ws)
    global_ = {f.name: f for f in listed if f.workspace_id is None}
    assert set(global_) == set(flags.KNOWN)
    assert global_["publish.linkedin"].enabled is False
    assert global_["publish.linkedin"].updated_by == user
    assert global_["publish.youtube"].enabled is True
    assert global_["publish.youtube"].updated_at is None  # a default: nobody set it
    own = [f for f in listed if f.workspace_id == ws]
    assert [(f.name, f.enabled) for f in own] == [("publish.youtube", False)]
    assert listed.index(own[0]) > max(listed.index(f) for f in global_.values())
    every = flags.list_flags(db)
    assert any(f.workspace_id == ws for f in every)


def test_clearing_falls_back_and_changes_are_audited(migrated_db, global_reset):
    db = migrated_db
    ws, user = _workspace(db)
    actor = Actor(user, "198.51.100.4")
    flags.set_flag(db, actor, "publish.instagram", False)
    flags.set_flag(db, actor, "publish.instagram", True, workspace_id=ws)
    cleared = flags.set_flag(db, actor, "publish.instagram", None, workspace_id=ws)
    assert cleared.enabled is False  # back to the global setting
    assert not flags.platform_enabled(db, "instagram", ws)
    assert flags.set_flag(db, actor, "publish.instagram", None).enabled is True

    rows, _ = audit.page(db, ws, 10, 0, [AuditAction.FLAG_CHANGED])
    assert [(r.detail["enabled"], r.detail["previous"]) for r in rows] == [(None, True),
                                                                          (True, None)]
    assert all(r.user_id == user and r.ip == "198.51.100.4" for r in rows)
    assert rows[0].detail["scope"] == "workspace"
    assert rows[0].resource_id == "publish.instagram"
    mine, _ = audit.installation_page(db, 100, 0, [AuditAction.FLAG_CHANGED])
    mine = [r for r in mine if r.user_id == user]
    assert [(r.detail["enabled"], r.detail["previous"]) for r in mine] == [(None, False),
                                                                          (False, None)]
    assert all(r.workspace_id is None for r in mine)


def test_an_unknown_flag_or_workspace_is_refused_and_leaves_nothing(migrated_db):
    db = migrated_db
    _ws, user = _workspace(db)
    with pytest.raises(UnknownFlag):
        flags.set_flag(db, Actor(user), "publish.myspace", False)
    with pytest.raises(NotFound) as missing:
        flags.set_flag(db, Actor(user), "publish.x", False, workspace_id="0" * 32)
    assert missing.value.code == "WORKSPACE_NOT_FOUND"
    with db.session() as s:
        assert s.scalar(select(FeatureFlag).where(FeatureFlag.scope == "0" * 32)) is None
        assert s.scalar(select(AuditEvent).where(AuditEvent.user_id == user)) is None


# --- who owns the installation ---------------------------------------------------------------
def _user(session, email: str, at: datetime, password: bool = True) -> User:
    user = User(email=email, password_hash="x" if password else None, created_at=at)
    session.add(user)
    session.flush()
    return user


def test_the_first_registered_user_owns_the_installation_unless_owners_are_listed(session):
    early = datetime(1970, 1, 2, tzinfo=UTC)
    local = _user(session, "local-cli@example.com", datetime(1970, 1, 1, tzinfo=UTC),
                  password=False)  # the CLI's local user cannot sign in: never the owner
    first = _user(session, "First@example.com", early)
    later = _user(session, "later@example.com", datetime(1970, 1, 3, tzinfo=UTC))
    assert is_install_owner(session, (), first)
    assert not is_install_owner(session, (), later)
    assert not is_install_owner(session, (), local)
    listed = ("later@example.com",)
    assert is_install_owner(session, listed, later)
    assert not is_install_owner(session, listed, first)
    assert is_install_owner(session, ("first@example.com",), first)  # case-insensitive
    require_install_owner(session, (), first)
    with pytest.raises(Forbidden) as refused:
        require_install_owner(session, (), later)
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN_INSTALL_OWNER", 403)
    with pytest.raises(Forbidden) as token:
        require_install_owner(session, (), first, through_api_token=True)
    assert (token.value.code, token.value.status) == ("FORBIDDEN_SCOPE", 403)
