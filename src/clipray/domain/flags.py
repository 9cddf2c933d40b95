"""Feature flags: switches the installation's owner flips at run time, without a deploy.

One flag per publishing platform (``publish.youtube``, ``publish.tiktok`` ...) turns a broken
integration off while its fix ships. A flag is set globally (for every workspace) or for
one workspace; the workspace's own setting wins over the global one, and a flag nobody set
is on, so a fresh installation behaves as if flags did not exist.

    >>> effective(None, None)
    True
    >>> effective(global_value=False, workspace_value=True)
    True
    >>> platform_flag("youtube")
    'publish.youtube'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from clipray.domain.errors import CodedError

GLOBAL = "global"
"""The scope of a flag that holds for every workspace (else the scope is a workspace id)."""

DEFAULT = True
"""A flag nobody set is on: flags only ever switch something off that would work."""

PUBLISH_PREFIX = "publish."


def platform_flag(platform: str) -> str:
    """The flag that switches publishing to ``platform`` (``youtube``) on or off."""
    return f"{PUBLISH_PREFIX}{platform}"


def flag_names(platforms: Iterable[str]) -> tuple[str, ...]:
    """Every flag clipray knows, given the platforms it publishes to (``publish.base``)."""
    return tuple(platform_flag(p) for p in platforms)


def effective(global_value: bool | None, workspace_value: bool | None) -> bool:
    """Whether a flag is on in a workspace: its own setting, else the global one, else on."""
    if workspace_value is not None:
        return workspace_value
    if global_value is not None:
        return global_value
    return DEFAULT


class UnknownFlag(CodedError):
    """A flag name clipray does not know: 422 ``FLAG_UNKNOWN`` listing the known ones."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        super().__init__("FLAG_UNKNOWN", f"unknown flag {name!r}: one of {', '.join(names)}",
                         detail={"known": names})  # fmt: skip


def check_name(name: str, known: Iterable[str]) -> str:
    """``name`` if it is one of ``known``, else :class:`UnknownFlag`."""
    names = tuple(known)
    if name not in names:
        raise UnknownFlag(name, names)
    return name


@dataclass(frozen=True)
class FlagSetting:
    """One flag as set (or defaulted) in one scope: ``workspace_id`` None is global;
    ``updated_by``/``updated_at`` None for a default nobody set."""

    name: str
    enabled: bool
    workspace_id: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def scope(self) -> str:
        return self.workspace_id or GLOBAL
