"""The workspace library as the API shows it: sources marked as B-roll or sound effects."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import Body, Timestamp

Kind = Literal["broll", "sfx"]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
"""Bounded here; the rule (one word of 1 to 32 characters) is the service's, 422
``LIBRARY_TAGS_INVALID``."""


class LibraryItemIn(Body):
    source_id: str = Field(min_length=1, max_length=32)
    """A source of the workspace: B-roll needs a video stream, a sound effect lasts at most
    10 s."""
    kind: Kind
    tags: list[Tag] = Field(max_length=50)
    """1 to 20 words, matched against what a clip says (stored lower-cased)."""


class LibraryItemPatch(Body):
    tags: list[Tag] = Field(max_length=50)
    """The new tags, replacing the old: 1 to 20 words."""


class LibraryItemOut(BaseModel):
    id: str
    source_id: str
    kind: Kind
    tags: list[str]
    title: str
    """The source's file name, without its extension."""
    duration_s: float
    created_at: Timestamp


class LibraryList(BaseModel):
    data: list[LibraryItemOut]
