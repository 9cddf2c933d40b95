"""Who may do what in a workspace: the role policy, member-management rules and token scopes.

Pure functions over `Role`, `Action` and scope names, so the whole policy is one table that
is read and tested in isolation; routes only ask `allowed` (or `allowed_with_token`) and
turn a refusal into a 403.

Usage::

    from clipray.serve.permissions import Action, allowed, allowed_with_token, parse_scopes
    from clipray.domain.enums import Role

    allowed(Role.EDITOR, Action.UPLOAD)           # True
    allowed(Role.EDITOR, Action.MANAGE_MEMBERS)   # False

    scopes = parse_scopes(["read", "jobs:write"])
    allowed_with_token(Role.ADMIN, scopes, Action.PUBLISH)  # False: no "publish" scope
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from clipray.domain.enums import Role

__all__ = [
    "MACHINE_FORBIDDEN",
    "MIN_ROLE",
    "ROLE_RANK",
    "SCOPES",
    "Action",
    "allowed",
    "allowed_with_token",
    "can_assign",
    "last_owner_violation",
    "parse_scopes",
    "token_allows",
]


class Action(enum.StrEnum):
    """Something a member does in a workspace; each is gated by one least role."""

    READ = "read"
    CREATE_JOB = "create_job"
    EDIT_JOB = "edit_job"
    """Cancel, retry, pause or resume a job."""
    EDIT_CLIP = "edit_clip"
    DELETE_CLIP = "delete_clip"
    DELETE_SOURCE = "delete_source"
    """Delete a source video with its files, clips and search rows."""
    UPLOAD = "upload"
    MANAGE_MEMBERS = "manage_members"
    PUBLISH = "publish"
    """Publish to a connected account, and approve or reject an editor's request."""
    REQUEST_PUBLISH = "request_publish"
    """Ask for a publication: it waits until an admin or owner approves it."""
    MANAGE_TOKENS = "manage_tokens"
    """Create and revoke one's own API tokens."""
    DELETE_WORKSPACE = "delete_workspace"
    INSPECT_WORKERS = "inspect_workers"
    """See which process ran a job step (its pid and Ray node): for operators, not clients."""
    TRANSFER_OWNERSHIP = "transfer_ownership"
    READ_AUDIT = "read_audit"
    """Read the workspace's audit log: who did what, from which address."""
    CONNECT_ACCOUNT = "connect_account"
    """Connect a platform account to the workspace, or disconnect one."""
    LIST_ACCOUNTS = "list_accounts"
    """See the workspace's connected platform accounts (never their tokens)."""
    MANAGE_WEBHOOKS = "manage_webhooks"
    """Subscribe URLs to the workspace's events, list and delete them, read their logs."""
    READ_STREAMS = "read_streams"
    """See the workspace's live stream monitors and their state."""
    MANAGE_STREAMS = "manage_streams"
    """Start, pause, resume and stop live stream monitors."""
    MANAGE_BRAND = "manage_brand"
    """Create, change and delete the workspace's brand kits and their assets."""


ROLE_RANK: Final[Mapping[Role, int]] = MappingProxyType(
    {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}
)
"""Roles are strictly ordered: a higher rank can do everything a lower one can."""

MIN_ROLE: Final[Mapping[Action, Role]] = MappingProxyType(
    {
        Action.READ: Role.VIEWER,
        Action.CREATE_JOB: Role.EDITOR,
        Action.EDIT_JOB: Role.EDITOR,
        Action.EDIT_CLIP: Role.EDITOR,
        Action.DELETE_CLIP: Role.EDITOR,
        Action.UPLOAD: Role.EDITOR,
        # An editor's tokens can never exceed the editor's own rights (see allowed_with_token).
        Action.MANAGE_TOKENS: Role.EDITOR,
        Action.MANAGE_MEMBERS: Role.ADMIN,
        # Publishing posts to outside accounts in the workspace's name, hence above editor.
        Action.PUBLISH: Role.ADMIN,
        # An editor's publication is a request that an admin or owner approves.
        Action.REQUEST_PUBLISH: Role.EDITOR,
        # A connected account posts in the workspace's name: whoever may publish connects
        # it; an editor sees which exist (to request a publication to one).
        Action.CONNECT_ACCOUNT: Role.ADMIN,
        Action.LIST_ACCOUNTS: Role.EDITOR,
        # A source is the workspace's own archive, not product output: removing it is not
        # undoable, hence above editor.
        Action.DELETE_SOURCE: Role.ADMIN,
        # Pids and node ids tell an operator where to look; they tell a client nothing.
        Action.INSPECT_WORKERS: Role.ADMIN,
        # The log names members and their client addresses.
        Action.READ_AUDIT: Role.ADMIN,
        # A subscription sends the workspace's events (and their data) to any URL.
        Action.MANAGE_WEBHOOKS: Role.ADMIN,
        Action.DELETE_WORKSPACE: Role.OWNER,
        Action.TRANSFER_OWNERSHIP: Role.OWNER,
        Action.READ_STREAMS: Role.VIEWER,
        # A stream monitor is a job that does not end: whoever may start jobs manages them.
        Action.MANAGE_STREAMS: Role.EDITOR,
        # A kit is a look the clips wear: whoever makes clips keeps the looks.
        Action.MANAGE_BRAND: Role.EDITOR,
    }
)
"""The whole role policy: the least role that may perform each action."""


def allowed(role: Role, action: Action) -> bool:
    """Whether a member with ``role`` may perform ``action`` (a lookup in `MIN_ROLE`)."""
    return ROLE_RANK[role] >= ROLE_RANK[MIN_ROLE[action]]


# --- member management -----------------------------------------------------------------


def can_assign(actor: Role, current: Role | None, new: Role | None) -> str | None:
    """Why ``actor`` may not move a member from ``current`` to ``new``, or None if it may.

    ``current=None`` is an invitation, ``new=None`` a removal. Below owner, a member may
    only touch memberships strictly beneath their own rank, before and after: an admin
    manages editors and viewers but cannot grant admin, nor demote or remove another
    admin, so two admins cannot lock each other out. Owners may do anything, including
    making or demoting other owners; whether the workspace keeps an owner afterwards is
    `last_owner_violation`'s question, since it needs a count from the database.
    """
    if not allowed(actor, Action.MANAGE_MEMBERS):
        return f"{actor} may not manage members"
    if current is None and new is None:
        return "nothing to change: not a member and no role given"
    if actor is Role.OWNER:
        return None
    if Role.OWNER in (current, new):
        return "only an owner may grant, change or remove the owner role"
    rank = ROLE_RANK[actor]
    if new is not None and ROLE_RANK[new] >= rank:
        return f"{actor} may only assign roles below {actor}, not {new}"
    if current is not None and ROLE_RANK[current] >= rank:
        return f"{actor} may only change or remove members below {actor}, not {current}"
    return None


def last_owner_violation(owners_after: int) -> str | None:
    """Why a change leaving ``owners_after`` owners is refused, or None if it is fine.

    A workspace without an owner could never be deleted or handed over again.
    """
    if owners_after < 1:
        return "a workspace must keep at least one owner"
    return None


# --- API token scopes ------------------------------------------------------------------

MACHINE_FORBIDDEN: Final = frozenset(
    {
        Action.MANAGE_MEMBERS,
        Action.MANAGE_TOKENS,
        Action.DELETE_WORKSPACE,
        Action.TRANSFER_OWNERSHIP,
    }
)
"""Actions an API token can never perform, whatever its scopes or its owner's role: a
leaked token must not be able to mint more tokens, change who has access, or destroy
or give away the workspace."""

SCOPES: Final[Mapping[str, frozenset[Action]]] = MappingProxyType(
    {
        "read": frozenset({Action.READ, Action.READ_STREAMS}),
        "jobs:write": frozenset(
            {Action.CREATE_JOB, Action.EDIT_JOB, Action.UPLOAD, Action.DELETE_SOURCE}
        ),
        "clips:write": frozenset({Action.EDIT_CLIP, Action.DELETE_CLIP, Action.MANAGE_BRAND}),
        "publish": frozenset({Action.PUBLISH, Action.REQUEST_PUBLISH}),
        "streams:write": frozenset({Action.MANAGE_STREAMS}),
    }
)
"""What each API token scope unlocks; no scope unlocks anything in `MACHINE_FORBIDDEN`."""


def parse_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Validate scope names from a token-creation request.

    Raises:
        ValueError: naming every unknown scope, so the client fixes them all at once.
        TypeError: for a bare string, which would otherwise be read one letter at a time.
    """
    if isinstance(scopes, str):
        raise TypeError("scopes must be an iterable of names, not a single string")
    parsed = frozenset(scopes)
    if unknown := sorted(parsed - SCOPES.keys()):
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    return parsed


def token_allows(scopes: frozenset[str], action: Action) -> bool:
    """Whether a token with ``scopes`` covers ``action``, regardless of its owner's role."""
    if action in MACHINE_FORBIDDEN:
        return False
    return any(action in SCOPES.get(scope, frozenset()) for scope in scopes)


def allowed_with_token(role: Role, scopes: frozenset[str], action: Action) -> bool:
    """Whether a request made with an API token may perform ``action``.

    Both must agree: the token owner's *current* role in the workspace (so demoting a
    member instantly narrows their tokens) and the token's scopes (so a token can be
    narrower than its owner, never wider).
    """
    return allowed(role, action) and token_allows(scopes, action)
