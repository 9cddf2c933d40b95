"""Records of a workspace, as every door sees them: missing is 404, another's is 403; what
a member's role (and an API token's scopes) lets them do there; and who owns the
installation (flags, the installation's audit log).

    >>> job = owned(session, Job, job_id, workspace_id, "job")   # doctest: +SKIP
    >>> require(Role.VIEWER, None, Action.UPLOAD)                 # doctest: +SKIP
    Forbidden: FORBIDDEN_ROLE
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from clipray.domain.enums import Role
from clipray.domain.errors import Forbidden, not_found
from clipray.serve.permissions import Action, allowed, token_allows
from clipray.storage.keys import is_id
from clipray.storage.orm import User
from clipray.storage.repos import UserRepo

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


def is_install_owner(session: Session, owners: Iterable[str], user: User) -> bool:
    """Whether ``user`` owns the installation: one of the ``owners`` emails
    (``CLIPRAY_INSTALL_OWNERS``, case-insensitive) when any are configured, else the
    earliest-registered user who can sign in (on a fresh install, whoever registered first:
    the person who set it up)."""
    listed = {e.strip().lower() for e in owners if e.strip()}
    if listed:
        return user.email.lower() in listed
    first = UserRepo(session).first_registered()
    return first is not None and first.id == user.id


def require_install_owner(session: Session, owners: Iterable[str], user: User,
                          through_api_token: bool = False) -> None:  # fmt: skip
    """Refuse installation administration to anyone but its owner, and to API tokens (like
    managing members, it needs a person: a leaked token must not switch platforms off).

    Raises:
        Forbidden: 403 ``FORBIDDEN_INSTALL_OWNER`` or ``FORBIDDEN_SCOPE``.
    """
    if through_api_token:
        raise Forbidden("FORBIDDEN_SCOPE", "administering the installation needs a person's "
                        "sign-in, not an API token")  # fmt: skip
    if not is_install_owner(session, owners, user):
        raise Forbidden("FORBIDDEN_INSTALL_OWNER", "only the installation's owner may do this "
                        "(CLIPRAY_INSTALL_OWNERS, else the first registered user)")  # fmt: skip
