"""Who did what: the vocabulary of the audit log.

A user-facing action that changes a workspace (a job created, a clip kept, a member added, a
cut edited, later a publication) is recorded with who did it, from where, in which
workspace, on which resource and when. What concerns the whole installation (a global flag
switched, an inbound webhook refused) is recorded without a workspace, for the
installation's owner. The doors know who and from where (the API its
caller and client address, the CLI its local user) and hand an :class:`Actor` to the
service, which records the action in the same transaction as the change: an action that
did not happen leaves no row, and one that happened always has one.

    >>> Actor("u1", "203.0.113.7").user_id
    'u1'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (None for clipray itself) and the client address (None off HTTP)."""

    user_id: str | None
    ip: str | None = None


SYSTEM = Actor(None)
"""clipray acting on its own (a keeper, a scheduler)."""


class AuditAction(enum.StrEnum):
    JOB_CREATED = "job.created"
    CLIP_KEPT = "clip.kept"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    CUT_EDITED = "cut.edited"
    """A cut added, moved or removed (``detail.op``), or an edit undone (``op: undo``)."""
    FLAG_CHANGED = "flag.changed"
    """A feature flag set or cleared (``detail``: name, enabled, previous); global flags
    in the installation's log, a workspace's in that workspace's."""
    WEBHOOK_REFUSED = "webhook.refused"
    """An inbound webhook refused (installation log; ``detail``: platform, code, reason)."""
    PUBLICATION_CREATED = "publication.created"
    """A publication asked for: ``detail.status`` says whether it waits for approval."""
    PUBLICATION_APPROVED = "publication.approved"
    PUBLICATION_REJECTED = "publication.rejected"
    PUBLICATION_CANCELLED = "publication.cancelled"
