"""Brand kits: a workspace's look, applied to the clips a job or a re-render makes.

A kit holds a logo watermark (where, how large, how opaque), the captions' colours and
font, an intro and an outro clip, and the audiogram background. Its assets live on the
workspace's media bucket under content-addressed keys (the key names the bytes' SHA-256),
so a kit whose logo is replaced renders under another spec: a clip made with the old
logo keeps it, and a re-render with the new one adds a version.

This module is the vocabulary shared by the kits' API (``services/brand.py``) and the
render (the ``brand`` step of ``clips/effects/``): what a kit is, and its limits.

    >>> kit = BrandKit(id="k" * 32, workspace_id="w" * 32, name="Main")
    >>> kit.logo_position, kit.has_assets
    ('top_right', False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

LogoPosition = Literal["top_left", "top_right", "bottom_left", "bottom_right"]
LOGO_POSITIONS: Final = ("top_left", "top_right", "bottom_left", "bottom_right")
"""Corners a logo sits in, inside the platforms' safe area."""

LOGO_SIZE_RANGE: Final = (0.05, 0.5)
"""A logo's width as a fraction of the output's width."""
LOGO_OPACITY_RANGE: Final = (0.05, 1.0)

COLOR_RE: Final = re.compile(r"^#[0-9A-Fa-f]{6}$")
"""Colours are ``#RRGGBB``."""

ASSET_KINDS: Final = ("logo", "font", "background")
"""Files uploaded to a kit itself; the intro and outro are sources of the workspace."""
ASSET_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "logo": ("image/png", "image/jpeg", "image/webp"),
    "font": ("font/ttf", "font/otf"),
    "background": ("image/png", "image/jpeg", "image/webp"),
}
ASSET_MAX_BYTES: Final = 10 * 1024 * 1024
NAME_MAX: Final = 80


@dataclass(frozen=True)
class BrandKit:
    """One kit, as the render needs it. ``*_key`` are object keys on the workspace's media
    bucket (None: not set); ``intro_source_id``/``outro_source_id`` name sources of the
    same workspace whose video is played before and after each clip."""

    id: str
    workspace_id: str
    name: str
    logo_key: str | None = None
    logo_position: LogoPosition = "top_right"
    logo_size: float = 0.15
    logo_opacity: float = 0.9
    primary_color: str = "#FFFFFF"
    """Caption text."""
    accent_color: str = "#FFD400"
    """The spoken word's highlight in the captions, and the hook's band."""
    background_color: str = "#101014"
    """The audiogram canvas where the kit has no background picture."""
    font_family: str | None = None
    """An installed font's family name; the uploaded font (``font_key``) wins."""
    font_key: str | None = None
    background_key: str | None = None
    intro_source_id: str | None = None
    outro_source_id: str | None = None

    @property
    def has_assets(self) -> bool:
        return any((self.logo_key, self.font_key, self.background_key,
                    self.intro_source_id, self.outro_source_id))  # fmt: skip


def invalid_field(kit: BrandKit) -> tuple[str, str] | None:
    """The first of ``kit``'s fields out of range, as ``(field, why)``; None when valid.

    The API refuses such a kit with ``BRAND_KIT_INVALID``; the render never sees one."""
    if not kit.name.strip() or len(kit.name) > NAME_MAX:
        return "name", f"a kit's name is 1 to {NAME_MAX} characters"
    if kit.logo_position not in LOGO_POSITIONS:
        return "logo_position", f"one of {', '.join(LOGO_POSITIONS)}"
    lo, hi = LOGO_SIZE_RANGE
    if not lo <= kit.logo_size <= hi:
        return "logo_size", f"a fraction of the output's width from {lo} to {hi}"
    lo, hi = LOGO_OPACITY_RANGE
    if not lo <= kit.logo_opacity <= hi:
        return "logo_opacity", f"from {lo} to {hi}"
    for name in ("primary_color", "accent_color", "background_color"):
        if not COLOR_RE.match(getattr(kit, name)):
            return name, "a colour as #RRGGBB"
    if kit.font_family is not None and not 0 < len(kit.font_family.strip()) <= NAME_MAX:
        return "font_family", f"a font family's name is 1 to {NAME_MAX} characters"
    return None
