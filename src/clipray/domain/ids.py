"""Record ids, and the slugs that name workspaces.

    >>> check_slug("team-a")
    'team-a'
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from clipray.domain.errors import CodedError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
"""A workspace slug: it names the workspace in ``--workspace`` and ``CLIPRAY_WORKSPACE``."""


def new_id() -> str:
    """A fresh record id: 32 lowercase hex chars, safe inside object keys."""
    return uuid.uuid4().hex


class InvalidSlugError(CodedError):
    """A workspace slug that is not lowercase letters, digits and dashes (422
    ``WORKSPACE_SLUG_INVALID``)."""

    code = "WORKSPACE_SLUG_INVALID"

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(type(self).code, message, **kw)


def check_slug(slug: str) -> str:
    """``slug`` if it may name a workspace. Raises :class:`InvalidSlugError`: checked before
    any database is opened, so a typo in ``--workspace`` costs nothing."""
    if not SLUG.match(slug):
        raise InvalidSlugError(
            f"workspace {slug!r}: use 1-63 lowercase letters, digits and dashes, "
            "starting with a letter or digit"
        )
    return slug
