"""Brand kits (``/api/brand``): a kit's settings in, a kit with its asset URLs out.

Bodies bound types and lengths only: a kit's ranges (a logo's size, a colour's form) are
``domain.brand.invalid_field``'s, answered with 422 ``BRAND_KIT_INVALID`` and the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import Body, Timestamp, Title

Short = Annotated[str, Field(max_length=32)]
"""A corner, a colour or an id: checked by the kit, bounded here."""


class BrandKitPatch(Body):
    """A kit's settings; an absent field is kept (a default on creation), ``null`` clears
    an optional one and resets one that has a default."""

    name: Title | None = None
    """1 to 80 characters."""
    logo_position: Short | None = None
    """top_left, top_right, bottom_left or bottom_right."""
    logo_size: float | None = None
    """The logo's width as a fraction of the clip's width, 0.05 to 0.5."""
    logo_opacity: float | None = None
    """0.05 to 1."""
    primary_color: Short | None = None
    """Caption text, ``#RRGGBB``."""
    accent_color: Short | None = None
    """The spoken word's highlight and the hook's band, ``#RRGGBB``."""
    background_color: Short | None = None
    """The audiogram canvas where the kit has no background picture, ``#RRGGBB``."""
    font_family: Title | None = None
    """An installed font's family; an uploaded font wins."""
    intro_source_id: Short | None = None
    """A video source of the workspace played before each clip."""
    outro_source_id: Short | None = None
    """A video source of the workspace played after each clip."""


class BrandKitIn(BrandKitPatch):
    """A new kit: a name, and whichever settings differ from the defaults."""

    name: Title


class BrandKitOut(BaseModel):
    id: str
    name: str
    logo_position: str
    logo_size: float
    logo_opacity: float
    primary_color: str
    accent_color: str
    background_color: str
    font_family: str | None
    intro_source_id: str | None
    outro_source_id: str | None
    logo_url: str | None
    """A short-lived presigned URL of the logo; null: none uploaded."""
    background_url: str | None
    font_name: str | None
    """The uploaded font's file name; null: none uploaded."""
    created_at: Timestamp
    updated_at: Timestamp


class BrandKitList(BaseModel):
    """The workspace's kits, newest first (at most 50)."""

    data: list[BrandKitOut]
