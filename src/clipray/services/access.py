"""Records of a workspace, as every door sees them: missing is 404, another's is 403.

    >>> job = owned(session, Job, job_id, workspace_id, "job")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from clipray.domain.errors import Forbidden, not_found
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
