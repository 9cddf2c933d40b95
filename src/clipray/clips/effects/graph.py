"""The effects graph of one clip: an ordered list of steps, each with its config.

The steps run in :data:`STEP_ORDER` (base cut, reframe, zooms, B-roll, captions, brand,
audio, export). A step the graph does not hold is a passthrough, so a plain clip's graph
is empty and its render spec is what it was before the graph existed (its hash, which
decides whether a render is reused, stays the same). The whole graph is stored in the
render spec: a changed step changes the spec, and so adds a clip version.

Steps planned here: ``base_cut`` (:class:`BaseCut`, the parts of the span kept after
silence and filler removal, joined with short audio crossfades), ``transitions``
(:class:`Transitions`, how those parts join on screen), ``zooms`` (:class:`Zooms`),
``broll`` (:class:`BRoll`, cutaways from the workspace's library), the hook, a title
over the first seconds drawn with the captions (:class:`Hook`), ``brand``
(:class:`Brand`, a brand kit's logo, colours, font, intro and outro), ``sfx``
(:class:`Sfx`, sound effects on keywords) and ``audio`` (:class:`Audio`: censored words
muted or bleeped, denoising, music). Reframe, captions and export keep their own fields
in the spec.

    >>> g = EffectsGraph((Hook("Why sleep matters"),))
    >>> EffectsGraph.from_json(g.to_json()) == g
    True
    >>> [name for name, step in g.steps() if step is not None]
    ['hook']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from clipray.domain.brand import BrandKit, invalid_field

FPS = 30
"""The output frame rate (the encode's ``-r 30``): cut points sit on its frame grid."""

STEP_ORDER: tuple[str, ...] = (
    "base_cut", "transitions", "reframe", "zooms", "broll", "captions", "hook", "brand",
    "sfx", "audio", "export",
)  # fmt: skip

ZoomStyle = Literal["smooth", "snap", "ken_burns", "pulse"]
ZOOM_STYLES: tuple[str, ...] = ("smooth", "snap", "ken_burns", "pulse")
CensorMode = Literal["bleep", "silence"]
CENSOR_MODES: tuple[str, ...] = ("bleep", "silence")
TransitionStyle = Literal["crossfade", "wipe", "zoom"]
TRANSITION_STYLES: tuple[str, ...] = ("crossfade", "wipe", "zoom")


class GraphError(ValueError):
    """A step's config is out of range (a stored spec that no code could have written)."""

    code = "EFFECTS_INVALID"


@dataclass(frozen=True)
class BaseCut:
    """Which parts of the span are kept, in seconds from the span's start, in order.

    Every boundary is on the output's frame grid; consecutive parts are joined with an
    audio crossfade of ``crossfade`` seconds (one frame), the video of every part but the
    last ending that much early, so picture and sound stay in step. Where the graph holds
    :class:`Transitions`, ``crossfade`` is the transition's duration: picture and sound
    overlap that long at each join, and every time below (the output's length, where a
    part starts, the captions' retiming) counts it so."""

    name: ClassVar[str] = "base_cut"
    keep: tuple[tuple[float, float], ...]
    crossfade: float = 1 / FPS

    def __post_init__(self) -> None:
        last = 0.0
        for a, b in self.keep:
            if a < last - 1e-9 or b - a < 2 * self.crossfade - 1e-9:
                raise GraphError(f"base_cut parts must be ordered and longer than the "
                                 f"crossfade: {a:.3f}-{b:.3f}")  # fmt: skip
            last = b
        if not self.keep:
            raise GraphError("base_cut keeps nothing")

    @property
    def duration(self) -> float:
        """The output's length: the parts, less one crossfade per join."""
        return sum(b - a for a, b in self.keep) - self.crossfade * (len(self.keep) - 1)

    def offsets(self) -> list[float]:
        """Where each part starts on the output's timeline."""
        out, t = [], 0.0
        for a, b in self.keep:
            out.append(t)
            t += b - a - self.crossfade
        return out

    def source_time(self, t: float) -> float:
        """Output time ``t`` back on the span's timeline (the later part where two overlap)."""
        found = self.keep[0][0] + t
        for (a, b), off in zip(self.keep, self.offsets(), strict=True):
            if t >= off:
                found = min(a + t - off, b)
        return found

    def map_time(self, t: float) -> float | None:
        """Span time ``t`` on the output's timeline; None where it was cut away."""
        for (a, b), off in zip(self.keep, self.offsets(), strict=True):
            if a <= t < b:
                return off + t - a
        return None


@dataclass(frozen=True)
class Zoom:
    """One push-in on the output frame: from ``start`` to ``end`` (output seconds), up to
    ``scale``, centred on ``(cx, cy)`` (fractions of the output frame)."""

    start: float
    end: float
    scale: float
    cx: float
    cy: float


@dataclass(frozen=True)
class Zooms:
    """Magic zooms on moments of emphasis, each drawn in ``style``:
    ``smooth`` (ease in, hold, ease out), ``snap`` (a cut to the zoom, held), ``ken_burns``
    (a slow push over the whole zoom), ``pulse`` (in and straight back out)."""

    name: ClassVar[str] = "zooms"
    style: ZoomStyle
    zooms: tuple[Zoom, ...]

    def __post_init__(self) -> None:
        if self.style not in ZOOM_STYLES:
            raise GraphError(f"zoom style must be one of {ZOOM_STYLES}, not {self.style!r}")
        for z in self.zooms:
            if not (1.0 <= z.scale <= 2.0 and 0 <= z.cx <= 1 and 0 <= z.cy <= 1
                    and z.end > z.start):  # fmt: skip
                raise GraphError(f"zoom out of range: {z}")


@dataclass(frozen=True)
class Hook:
    """A short title over the clip's first ``duration`` seconds."""

    name: ClassVar[str] = "hook"
    text: str
    duration: float = 3.0

    def __post_init__(self) -> None:
        if not self.text.strip() or len(self.text) > 120:
            raise GraphError("a hook is 1 to 120 characters")
        if not 0.5 <= self.duration <= 10:
            raise GraphError("a hook lasts 0.5 to 10 seconds")


@dataclass(frozen=True)
class Audio:
    """The audio suite (``clips/effects/audio.py``): the censored ``spans`` (output
    seconds) muted, with a bleep in ``bleep`` mode; ``denoise``: FFT noise reduction;
    ``music``: a track (a workspace object key, or a local path from the CLI) looped
    under the clip and ducked while someone speaks. ``censor`` keeps the words asked
    for, so a re-render asks for them again. ``beat_sync``: the graph's cut points were
    snapped to the music's beats (``clips/effects/beats.py``)."""

    name: ClassVar[str] = "audio"
    later: ClassVar[dict[str, Any]] = {"beat_sync": False}
    """Fields added after clips were rendered: stored only where set, so an older clip's
    spec (and its hash) stays what it was."""
    censor: tuple[str, ...] = ()
    mode: CensorMode = "bleep"
    spans: tuple[tuple[float, float], ...] = ()
    denoise: bool = False
    music: str | None = None
    beat_sync: bool = False

    def __post_init__(self) -> None:
        if self.mode not in CENSOR_MODES:
            raise GraphError(f"censor mode must be one of {CENSOR_MODES}, not {self.mode!r}")
        if bool(self.spans) != bool(self.censor):
            raise GraphError("censored spans and censored words go together")
        if not self.spans and not self.denoise and self.music is None:
            raise GraphError("an audio step that changes nothing is a passthrough")
        if self.beat_sync and self.music is None:
            raise GraphError("beat sync needs a music track")
        if self.music is not None and not 0 < len(self.music) <= 1024:
            raise GraphError("a music track is a key or path of 1 to 1024 characters")
        last = 0.0
        for a, b in self.spans:
            if a < last or b <= a:
                raise GraphError(f"censored spans must be ordered and apart: {a}-{b}")
            last = b


@dataclass(frozen=True)
class Transitions:
    """How the parts a :class:`BaseCut` keeps are joined on screen: ``style`` over
    ``duration`` seconds at each join (without this step a join is a straight cut). The
    sound crossfades over the same seconds, so the graph's base cut has ``duration`` as its
    ``crossfade``: the output is the parts less one ``duration`` per join."""

    name: ClassVar[str] = "transitions"
    style: TransitionStyle
    duration: float = 0.25

    def __post_init__(self) -> None:
        if self.style not in TRANSITION_STYLES:
            raise GraphError(f"transition style must be one of {TRANSITION_STYLES}, "
                             f"not {self.style!r}")  # fmt: skip
        if not 1 / FPS <= self.duration <= 1.0:
            raise GraphError("a transition lasts one frame to 1 second")


@dataclass(frozen=True)
class Insert:
    """One B-roll cutaway: output seconds ``[start, end)`` show the video at ``key`` (an
    object key on the workspace's media bucket) from its second ``src_start``, filling the
    frame; the clip's own sound goes on under it."""

    start: float
    end: float
    key: str
    src_start: float = 0.0


@dataclass(frozen=True)
class BRoll:
    """B-roll cutaways from the workspace's library, ordered and apart."""

    name: ClassVar[str] = "broll"
    inserts: tuple[Insert, ...]

    def __post_init__(self) -> None:
        if not self.inserts:
            raise GraphError("a B-roll step without inserts is a passthrough")
        last = 0.0
        for i in self.inserts:
            if i.start < last or i.end <= i.start or i.src_start < 0 or not i.key:
                raise GraphError(f"B-roll inserts must be ordered, apart and named: {i}")
            last = i.end


@dataclass(frozen=True)
class SoundHit:
    """A sound effect (object ``key``, a library sound) played from output second ``at``,
    ``gain_db`` relative to its own level."""

    at: float
    key: str
    gain_db: float = -6.0


@dataclass(frozen=True)
class Sfx:
    """Sound effects on keywords, mixed in the audio run before the loudness pass."""

    name: ClassVar[str] = "sfx"
    hits: tuple[SoundHit, ...]

    def __post_init__(self) -> None:
        if not self.hits:
            raise GraphError("a sound-effects step without hits is a passthrough")
        last = -1.0
        for h in self.hits:
            if h.at < last or not h.key or not -40 <= h.gain_db <= 12:
                raise GraphError(f"sound effects must be ordered and named, -40 to +12 dB: {h}")
            last = h.at


@dataclass(frozen=True)
class Brand:
    """A brand kit as the render draws it (``clipray.domain.brand.BrandKit``, with its
    intro and outro sources resolved to their object keys). Keys are content-addressed,
    so a kit whose logo changes gives another spec."""

    name: ClassVar[str] = "brand"
    kit_id: str
    logo_key: str | None = None
    logo_position: str = "top_right"
    logo_size: float = 0.15
    logo_opacity: float = 0.9
    primary_color: str = "#FFFFFF"
    accent_color: str = "#FFD400"
    background_color: str = "#101014"
    font_family: str | None = None
    font_key: str | None = None
    background_key: str | None = None
    intro_key: str | None = None
    outro_key: str | None = None

    def __post_init__(self) -> None:
        bad = invalid_field(self.kit())
        if bad is not None:
            raise GraphError(f"brand {bad[0]}: {bad[1]}")

    def kit(self) -> BrandKit:
        """The kit as it was when the clip was planned (its keys name the very bytes
        drawn; the kit's name and workspace are not part of the step)."""
        return BrandKit(self.kit_id, "", "kit", self.logo_key,
                        self.logo_position, self.logo_size,  # type: ignore[arg-type]
                        self.logo_opacity, self.primary_color, self.accent_color,
                        self.background_color, self.font_family, self.font_key,
                        self.background_key)  # fmt: skip

    @classmethod
    def of(cls, kit: BrandKit, intro_key: str | None = None,
           outro_key: str | None = None) -> Brand:  # fmt: skip
        """The step of ``kit``; its intro and outro sources' object keys are the caller's
        to look up (the pure core reads no database)."""
        return cls(kit.id, kit.logo_key, kit.logo_position, kit.logo_size, kit.logo_opacity,
                   kit.primary_color, kit.accent_color, kit.background_color, kit.font_family,
                   kit.font_key, kit.background_key, intro_key, outro_key)  # fmt: skip


Step = BaseCut | Transitions | Zooms | BRoll | Hook | Brand | Sfx | Audio
_KINDS: dict[str, type[Step]] = {
    k.name: k for k in (BaseCut, Transitions, Zooms, BRoll, Hook, Brand, Sfx, Audio)
}


@dataclass(frozen=True)
class EffectsGraph:
    """The steps a clip goes through, at most one of each kind."""

    held: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        names = [s.name for s in self.held]
        if len(set(names)) != len(names):
            raise GraphError(f"a step appears twice: {names}")
        order = sorted(self.held, key=lambda s: STEP_ORDER.index(s.name))
        object.__setattr__(self, "held", tuple(order))
        joins, cut = self.transitions, self.base_cut
        if joins is not None and (cut is None or len(cut.keep) < 2
                                  or abs(cut.crossfade - joins.duration) > 1e-9):  # fmt: skip
            raise GraphError("transitions join a base cut's parts: the cut needs two parts "
                             "or more, overlapping by the transition's duration")  # fmt: skip

    def get(self, name: str) -> Any:
        """The step called ``name``, or None where it is a passthrough."""
        return next((s for s in self.held if s.name == name), None)

    def steps(self) -> list[tuple[str, Step | None]]:
        """Every step in order with its config; None is a passthrough."""
        return [(name, self.get(name)) for name in STEP_ORDER]

    @property
    def base_cut(self) -> BaseCut | None:
        return self.get("base_cut")

    @property
    def zooms(self) -> Zooms | None:
        return self.get("zooms")

    @property
    def hook(self) -> Hook | None:
        return self.get("hook")

    @property
    def audio(self) -> Audio | None:
        return self.get("audio")

    @property
    def transitions(self) -> Transitions | None:
        return self.get("transitions")

    @property
    def broll(self) -> BRoll | None:
        return self.get("broll")

    @property
    def sfx(self) -> Sfx | None:
        return self.get("sfx")

    @property
    def brand(self) -> Brand | None:
        return self.get("brand")

    def output_duration(self, span: float) -> float:
        cut = self.base_cut
        return cut.duration if cut is not None else span

    def to_json(self) -> list[dict[str, Any]]:
        later = {s.name: getattr(s, "later", {}) for s in self.held}
        return [{"step": s.name, **{k: v for k, v in asdict(s).items()
                                    if k not in later[s.name] or v != later[s.name][k]}}
                for s in self.held]  # fmt: skip

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> EffectsGraph:
        held: list[Step] = []
        for item in data:
            fields = {k: v for k, v in item.items() if k != "step"}
            kind = _KINDS.get(item.get("step", ""))
            if kind is None:
                raise GraphError(f"unknown step {item.get('step')!r}")
            if kind is BaseCut:
                fields["keep"] = tuple((float(a), float(b)) for a, b in fields["keep"])
            if kind is Zooms:
                fields["zooms"] = tuple(Zoom(**z) for z in fields["zooms"])
            if kind is Audio:
                fields["censor"] = tuple(fields.get("censor", ()))
                fields["spans"] = tuple((float(a), float(b)) for a, b in fields.get("spans", ()))
            if kind is BRoll:
                fields["inserts"] = tuple(Insert(**i) for i in fields["inserts"])
            if kind is Sfx:
                fields["hits"] = tuple(SoundHit(**h) for h in fields["hits"])
            held.append(kind(**fields))
        return cls(tuple(held))
