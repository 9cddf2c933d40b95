"""Records of a workspace, as every door sees them: missing is 404, another's is 403; and
what a member's role (and an API token's scopes) lets them do there.

    >>> job = owned(session, Job, job_id, workspace_id, "job")   # doctest: +SKIP
    >>> require(Role.VIEWER, None, Action.UPLOAD)                 # doctest: +SKIP
    Forbidden: FORBIDDEN_ROLE
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from clipray.domain.enums import Role
from clipray.domain.errors import Forbidden, not_found
from clipray.serve.permissions import Action, allowed, token_allows
from clipray.storage.keys import is_id

T = TypeVar("T")


def owned(session: Session, model: type[T], ident: str, workspace_id: str, kind: str) -> T:
    """The record ``ident`` if it belongs to ``workspace_id``.

    Raises:
        NotFound: ``{KIND}_NOT_FOUND`` (also for what is not an id at all).
        Forbidden: ``FORBIDDEN`` for a record of another workspace.
    """
    row = session.get(model, ident) if is_id(ident) else None
    if row is None:
        raise not_found(kind, ident)
    if row.workspace_id != workspace_id:  # type: ignore[attr-defined]
        raise Forbidden("FORBIDDEN", f"this {kind} belongs to another workspace")
    return row


def can(role: Role, scopes: frozenset[str] | None, action: Action) -> bool:
    """Whether a member of ``role`` (through an API token of ``scopes``, or in person when
    None) may ``action``."""
    return allowed(role, action) and (scopes is None or token_allows(scopes, action))


def require(role: Role, scopes: frozenset[str] | None, action: Action) -> None:
    """Refuse ``action`` to a member of ``role`` (acting through an API token of ``scopes``,
    or in person when None): the role is checked first, so a token never widens it.

    Raises:
        Forbidden: 403 ``FORBIDDEN_ROLE`` or ``FORBIDDEN_SCOPE``.
    """
    if not allowed(role, action):
        raise Forbidden("FORBIDDEN_ROLE", f"a {role.value} of this workspace cannot {action.value}")
    if scopes is not None and not token_allows(scopes, action):
        raise Forbidden("FORBIDDEN_SCOPE", f"this API token's scopes do not allow {action.value}")


@dataclass(frozen=True)
class Membership:
    """A caller's place in one workspace: the role, and an API token's scopes (None for a
    person signed in with an access token)."""

    workspace_id: str
    role: Role
    scopes: frozenset[str] | None = None

    def can(self, action: Action) -> bool:
        return can(self.role, self.scopes, action)

    def require(self, action: Action) -> None:
        """See :func:`require`."""
        require(self.role, self.scopes, action)
