"""Record ids."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A fresh record id: 32 lowercase hex chars, safe inside object keys."""
    return uuid.uuid4().hex
