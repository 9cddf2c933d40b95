"""Feature flags (the installation's owner): per-platform switches that turn a broken
integration off without a deploy, globally or for one workspace. Routes parse, call
``services/flags.py`` and format.

``GET /api/admin/flags`` lists every flag at global scope and the workspaces' overrides;
``PATCH /api/admin/flags`` ``{"name", "enabled", "workspace_id"}`` sets one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipray.domain.flags import FlagSetting
from clipray.serve.deps import InstallOwner, ServicesDep
from clipray.serve.schemas.flags import FlagOut, FlagPatch
from clipray.services import flags

router = APIRouter(prefix="/api/admin/flags", tags=["admin"])


def flag_out(f: FlagSetting) -> FlagOut:
    return FlagOut(name=f.name, enabled=f.enabled, workspace_id=f.workspace_id,
                   updated_by=f.updated_by, updated_at=f.updated_at)  # fmt: skip


@router.get("")
def list_flags(
    owner: InstallOwner,
    svc: ServicesDep,
    workspace_id: Annotated[str | None, Query(max_length=32)] = None,
) -> list[FlagOut]:
    """Every flag globally (set, or on by default), then the workspaces' own settings (only
    ``workspace_id``'s when given). The installation's owner only (403
    ``FORBIDDEN_INSTALL_OWNER``)."""
    return [flag_out(f) for f in flags.list_flags(svc.db, workspace_id)]


@router.patch("")
def set_flag(body: FlagPatch, owner: InstallOwner, svc: ServicesDep) -> FlagOut:
    """Switch a flag on or off (``enabled`` null clears it) for every workspace or one;
    audited (``flag.changed``). A platform whose flag is off refuses new connections with
    409 ``PLATFORM_SWITCHED_OFF``."""
    return flag_out(flags.set_flag(svc.db, owner, body.name, body.enabled, body.workspace_id))
