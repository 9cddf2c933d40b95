"""Where a vertical clip's captions stay clear of each platform's buttons and overlays.

TikTok, Instagram Reels and YouTube Shorts draw their UI over a 9:16 video: the status
and tab bar on top, the like/comment/share column on the right, the account name,
description and progress bar at the bottom. Captions burned into those bands are hidden.
Each platform's UI-free area is a set of margins (fractions of the frame); ``all`` is
their intersection, the default, so one render suits every platform. Other aspects get a
plain margin (they are played letterboxed or in a feed, without the overlay).

    >>> a = area("all", 1080, 1920)
    >>> a.right >= AREAS["tiktok"].right and a.bottom >= AREAS["reels"].bottom
    True
    >>> area("tiktok", 1920, 1080) == PLAIN
    True

The figures are published ones, rounded up; app updates move the UI by a few pixels, so
each keeps a little room. Where a figure comes from is noted next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SafeAreaName = Literal["all", "tiktok", "reels", "shorts"]
SAFE_AREAS: tuple[str, ...] = ("all", "tiktok", "reels", "shorts")


@dataclass(frozen=True)
class Margins:
    """The UI-covered bands of a frame, as fractions of its height (top, bottom) and
    width (left, right); inside them the picture is seen."""

    top: float
    bottom: float
    left: float
    right: float

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The seen area in pixels: ``(x0, y0, x1, y1)``, inclusive-exclusive."""
        x0, y0 = round(self.left * width), round(self.top * height)
        return x0, y0, width - round(self.right * width), height - round(self.bottom * height)


AREAS: dict[str, Margins] = {
    # TikTok Creative Center's ad safe zone for 1080x1920 (as summarised in
    # houseofmarketers.com/guide-to-safe-zones-tiktok-facebook-instagram-stories-reels):
    # keep clear of the lower 20% (captions, sound, CTA) and the right-side buttons;
    # the button column is ~120 px of 1080 (cutedyno.com/blog/short-form-video-safe-zones-
    # reels-shorts-2026: "TikTok's right rail"), the top ~13% (search and tabs). The
    # bottom is taken at 25% for a two-line description.
    "tiktok": Margins(top=0.13, bottom=0.25, left=0.06, right=0.12),
    # Meta Business Help Center, Reels safe zone (same summary): keep clear of the top
    # 14%, the bottom 35% and 6% on each side; the right side also holds the buttons,
    # taken here as TikTok's column.
    "reels": Margins(top=0.14, bottom=0.35, left=0.06, right=0.12),
    # YouTube Shorts: the lower ~25% (~480 px of 1920) holds the title, channel and
    # subscribe button (youraithumbnailgenerator.com/guides/youtube-shorts-safe-zones-
    # complete-guide); the like/comment column on the right is as wide as TikTok's; the
    # top ~10% holds the search and menu icons.
    "shorts": Margins(top=0.10, bottom=0.25, left=0.06, right=0.12),
}
"""Each platform's covered bands on a 9:16 frame."""

AREAS["all"] = Margins(*(max(getattr(m, f) for m in AREAS.values())
                         for f in ("top", "bottom", "left", "right")))  # fmt: skip

PLAIN = Margins(top=0.05, bottom=0.2, left=0.06, right=0.06)
"""1:1 and 16:9: the captions' own margins (``CaptionConfig``'s defaults) as before."""


def area(name: str, width: int, height: int) -> Margins:
    """The margins captions keep on a ``width`` x ``height`` frame: the platform's (or
    all platforms') on a vertical frame, :data:`PLAIN` otherwise.

    Raises:
        ValueError: ``name`` is not one of :data:`SAFE_AREAS`.
    """
    if name not in AREAS:
        raise ValueError(f"safe_area must be one of {SAFE_AREAS}, not {name!r}")
    return AREAS[name] if height > width else PLAIN


__all__ = ["AREAS", "PLAIN", "SAFE_AREAS", "Margins", "SafeAreaName", "area"]
