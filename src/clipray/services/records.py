"""Loading a workspace's record by id, the one way every use case does it.

A record of the caller's workspace is returned; a missing one is 404 ``<KIND>_NOT_FOUND``
and one of another workspace 403 ``FORBIDDEN`` (the API has always told these apart; the
CLI acts in one workspace and sees the same codes).

    >>> source = owned(session, Source, source_id, workspace_id, "source")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from clipray.domain.errors import Forbidden, not_found
from clipray.storage.db import Database
from clipray.storage.keys import is_id
from clipray.storage.repos import LOCAL_USER_EMAIL, UserRepo

T = TypeVar("T")


def owned(session: Session, model: type[T], ident: str, workspace_id: str, kind: str) -> T:
    """The record ``ident`` if it is in ``workspace_id``: 404 missing, 403 elsewhere."""
    row = session.get(model, ident) if is_id(ident) else None
    if row is None:
        raise not_found(kind, ident)
    if row.workspace_id != workspace_id:  # type: ignore[attr-defined]
        raise Forbidden("FORBIDDEN", f"this {kind} belongs to another workspace")
    return row


def local_user(db: Database) -> str:
    """The id of the user the CLI acts as on a machine without accounts (the audit trail of
    a cut edit names it), created on first use."""
    with db.session() as s:
        return UserRepo(s).ensure(LOCAL_USER_EMAIL, "local user").id
