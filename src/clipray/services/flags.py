"""Feature flags: the per-platform switches that turn a broken integration off without a
deploy, read by whatever is about to talk to a platform and set by the installation's owner.

A flag is set globally or for one workspace; the workspace's setting wins, and a flag nobody
set is on (``domain/flags.py``). Setting or clearing one is audited (``flag.changed``):
a global flag in the installation's log, a workspace's in that workspace's.

    >>> require_platform(db, "youtube", workspace_id)                      # doctest: +SKIP
    PlatformSwitchedOff: PLATFORM_SWITCHED_OFF
    >>> set_flag(db, actor, "publish.youtube", True, workspace_id=None)   # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import not_found
from clipray.domain.flags import (
    GLOBAL,
    FlagSetting,
    check_name,
    effective,
    flag_names,
    platform_flag,
)
from clipray.domain.time import utcnow
from clipray.publish.base import PLATFORMS, PlatformOff, UnknownPlatform
from clipray.services.audit import record
from clipray.storage.db import Database
from clipray.storage.flags import FlagRepo
from clipray.storage.keys import is_id
from clipray.storage.orm import FeatureFlag, Workspace

KNOWN = flag_names(PLATFORMS)
"""Every flag clipray knows: ``publish.<platform>`` for each platform it publishes to."""


class PlatformSwitchedOff(PlatformOff):
    """The platform is configured but its flag is off, for every workspace or for this one:
    409 ``PLATFORM_SWITCHED_OFF`` (a kind of ``PLATFORM_OFF``: whoever handles that one
    handles this), ``detail`` naming the flag and the scope that switched it off."""

    def __init__(self, platform: str, scope: str) -> None:
        flag = platform_flag(platform)
        where = "for every workspace" if scope == GLOBAL else "for this workspace"
        super().__init__(platform, f"the installation's owner switched it off {where} "
                         f"(flag {flag})")  # fmt: skip
        self.code = "PLATFORM_SWITCHED_OFF"
        self.detail = {"platform": platform, "flag": flag,
                       "scope": "global" if scope == GLOBAL else "workspace"}  # fmt: skip


def _setting(row: FeatureFlag) -> FlagSetting:
    return FlagSetting(row.name, row.enabled, row.workspace_id, row.updated_by, row.updated_at)


def _require_workspace(session: Session, workspace_id: str) -> None:
    """404 ``WORKSPACE_NOT_FOUND`` for a workspace that does not exist (or is no id at all:
    never sent to the database)."""
    if not is_id(workspace_id) or session.get(Workspace, workspace_id) is None:
        raise not_found("workspace", workspace_id)


def _state(db: Database, platform: str, workspace_id: str) -> tuple[bool, str]:
    """Whether the platform's flag is on in the workspace, and the scope that decided."""
    if platform not in PLATFORMS:
        raise UnknownPlatform(platform)
    with db.session() as s:
        rows = FlagRepo(s).in_scopes(platform_flag(platform), workspace_id)
    by_scope = {r.scope: r.enabled for r in rows}
    own = by_scope.get(workspace_id)
    return effective(by_scope.get(GLOBAL), own), GLOBAL if own is None else workspace_id


def platform_enabled(db: Database, platform: str, workspace_id: str) -> bool:
    """Whether publishing to ``platform`` is switched on for ``workspace_id`` (the flag
    only: whether the platform is configured at all is ``settings.publish``'s to say)."""
    return _state(db, platform, workspace_id)[0]


def require_platform(db: Database, platform: str, workspace_id: str) -> None:
    """Refuse to start talking to ``platform`` for ``workspace_id`` while its flag is off.

    Raises:
        PlatformSwitchedOff: 409 ``PLATFORM_SWITCHED_OFF``; UnknownPlatform: 404.
    """
    on, scope = _state(db, platform, workspace_id)
    if not on:
        raise PlatformSwitchedOff(platform, scope)


def list_flags(db: Database, workspace_id: str | None = None) -> list[FlagSetting]:
    """Every known flag at global scope (set, or on by default), then the workspaces'
    overrides: one workspace's when ``workspace_id`` is given, else every workspace's."""
    with db.session() as s:
        if workspace_id is not None:
            _require_workspace(s, workspace_id)
        rows = FlagRepo(s).listed(workspace_id, every_workspace=workspace_id is None)
    stored = [_setting(r) for r in rows if r.name in KNOWN]
    set_globally = {f.name for f in stored if f.workspace_id is None}
    defaults = [FlagSetting(n, effective(None, None)) for n in KNOWN if n not in set_globally]
    return sorted([*stored, *defaults], key=lambda f: (f.workspace_id is not None,
                                                       f.workspace_id or "", f.name))


def set_flag(db: Database, actor: Actor, name: str, enabled: bool | None,
             workspace_id: str | None = None) -> FlagSetting:  # fmt: skip
    """Set flag ``name`` globally (``workspace_id`` None) or for one workspace; ``enabled``
    None clears that scope's setting (a workspace falls back to the global value, the
    global one to on). Audited in the same transaction. Returns the flag's setting in that
    scope after the change.

    Raises:
        UnknownFlag: 422 ``FLAG_UNKNOWN``; NotFound: 404 ``WORKSPACE_NOT_FOUND``.
    """
    check_name(name, KNOWN)
    with db.session() as s:
        if workspace_id is not None:
            _require_workspace(s, workspace_id)
        repo = FlagRepo(s)
        scope = workspace_id or GLOBAL
        before = next((r.enabled for r in repo.in_scopes(name, workspace_id)
                       if r.scope == scope), None)  # fmt: skip
        if enabled is None:
            repo.clear(name, workspace_id)
            global_value = None
            if workspace_id is not None:
                global_value = next((r.enabled for r in repo.in_scopes(name, None)), None)
            out = FlagSetting(name, effective(global_value, None), workspace_id, actor.user_id,
                              utcnow())  # fmt: skip
        else:
            out = _setting(repo.set(name, enabled, workspace_id, actor.user_id, utcnow()))
        record(s, actor, workspace_id, AuditAction.FLAG_CHANGED, "flag", name,
               {"name": name, "scope": "global" if workspace_id is None else "workspace",
                "enabled": enabled, "previous": before})  # fmt: skip
        return out

