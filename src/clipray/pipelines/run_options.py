"""A job's clip settings (what ``POST /api/jobs``' ``settings`` and ``clipray run``'s flags
say), and the pure configs they turn into: the selection's and the effects graph's.

    >>> RunOptions(max_clips=3, zooms="pulse").effects.zooms
    'pulse'
"""

from __future__ import annotations

from dataclasses import dataclass

from clipray.clips.effects.audio import CensorConfig
from clipray.clips.effects.plan import EffectsConfig
from clipray.clips.select import SelectConfig
from clipray.domain.brand import BrandKit


@dataclass(frozen=True)
class RunOptions:
    max_clips: int = 5
    min_duration: float = 15.0
    max_duration: float = 60.0
    aspect: str = "9:16"
    captions: str = "highlight_word"
    layout: str = "auto"
    """How faces are framed (``clips/speaker.py``): auto, speaker, split or wide."""
    zooms: str | None = None
    """A zoom style (``clips.effects.zooms``), None: no zooms."""
    hook: str | None = None
    """A hook's text, ``auto`` for each clip's title, None: no hook."""
    remove_fillers: bool = False
    censor: CensorConfig | None = None
    """Words muted or bleeped, and starred in the captions (a job's stored settings hold
    it as ``{"words": [...], "mode": ...}``)."""
    denoise: bool = False
    music: str | None = None
    """A music track ducked under the speech: a workspace object key (or a local path)."""
    transition: str | None = None
    """How the parts left by filler removal join (crossfade, wipe, zoom); None: cuts."""
    broll: bool = False
    """Cutaways to the workspace library's B-roll (``clips/broll.py``)."""
    sfx: bool = False
    """The library's sound effects on the spoken words they are tagged with."""
    brand_kit_id: str | None = None
    """The workspace's brand kit the clips wear (a job's stored settings name it); the
    service that plans resolves it into ``brand`` and ``brand_keys``."""
    brand: BrandKit | None = None
    brand_keys: tuple[str | None, str | None] = (None, None)
    """The kit's intro and outro sources' object keys."""
    emoji: bool = False
    """Emoji after the captions' dictionary words."""
    safe_area: str = "all"
    """Whose UI-free area holds 9:16 captions: all (every platform's), tiktok, reels, shorts."""
    beat_sync: bool = False
    """Cut points snapped to the music's beats (needs ``music``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "censor", CensorConfig.of(self.censor))
        if self.transition == "none":  # a job's stored settings say none as a word
            object.__setattr__(self, "transition", None)

    @property
    def effects(self) -> EffectsConfig:
        """The effects asked for; the defaults add none (a plain clip)."""
        return EffectsConfig(self.zooms, self.hook, self.remove_fillers,  # type: ignore[arg-type]
                             self.censor, self.denoise, self.music, brand=self.brand,
                             transition=self.transition, broll=self.broll, sfx=self.sfx,
                             brand_keys=self.brand_keys,  # type: ignore[arg-type]
                             beat_sync=self.beat_sync)  # fmt: skip

    def select_config(self) -> SelectConfig:
        return SelectConfig(self.max_clips, self.min_duration, self.max_duration)
