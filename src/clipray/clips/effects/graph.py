"""The effects graph of one clip: an ordered list of steps, each with its config.

The steps run in :data:`STEP_ORDER` (base cut, reframe, zooms, B-roll, captions, brand,
audio, export). A step the graph does not hold is a passthrough, so a plain clip's graph
is empty and its render spec is what it was before the graph existed (its hash, which
decides whether a render is reused, stays the same). The whole graph is stored in the
render spec: a changed step changes the spec, and so adds a clip version.

Steps planned here: ``base_cut`` (:class:`BaseCut`, the parts of the span kept after
silence and filler removal, joined with short audio crossfades), ``zooms``
(:class:`Zooms`), the hook, a title over the first seconds drawn with the captions
(:class:`Hook`), and ``audio`` (:class:`Audio`: censored words muted or bleeped,
denoising). Reframe, captions and export keep their own fields in the spec.

    >>> g = EffectsGraph((Hook("Why sleep matters"),))
    >>> EffectsGraph.from_json(g.to_json()) == g
    True
    >>> [name for name, step in g.steps() if step is not None]
    ['hook']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

FPS = 30
"""The output frame rate (the encode's ``-r 30``): cut points sit on its frame grid."""

STEP_ORDER: tuple[str, ...] = (
    "base_cut", "reframe", "zooms", "broll", "captions", "hook", "brand", "audio", "export",
)  # fmt: skip

ZoomStyle = Literal["smooth", "snap", "ken_burns", "pulse"]
ZOOM_STYLES: tuple[str, ...] = ("smooth", "snap", "ken_burns", "pulse")
CensorMode = Literal["bleep", "silence"]
CENSOR_MODES: tuple[str, ...] = ("bleep", "silence")


class GraphError(ValueError):
    """A step's config is out of range (a stored spec that no code could have written)."""

    code = "EFFECTS_INVALID"


@dataclass(frozen=True)
class BaseCut:
    """Which parts of the span are kept, in seconds from the span's start, in order.

    Every boundary is on the output's frame grid; consecutive parts are joined with an
    audio crossfade of ``crossfade`` seconds (one frame), the video of every part but the
    last ending that much early, so picture and sound stay in step."""

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
    for, so a re-render asks for them again."""

    name: ClassVar[str] = "audio"
    censor: tuple[str, ...] = ()
    mode: CensorMode = "bleep"
    spans: tuple[tuple[float, float], ...] = ()
    denoise: bool = False
    music: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in CENSOR_MODES:
            raise GraphError(f"censor mode must be one of {CENSOR_MODES}, not {self.mode!r}")
        if bool(self.spans) != bool(self.censor):
            raise GraphError("censored spans and censored words go together")
        if not self.spans and not self.denoise and self.music is None:
            raise GraphError("an audio step that changes nothing is a passthrough")
        if self.music is not None and not 0 < len(self.music) <= 1024:
            raise GraphError("a music track is a key or path of 1 to 1024 characters")
        last = 0.0
        for a, b in self.spans:
            if a < last or b <= a:
                raise GraphError(f"censored spans must be ordered and apart: {a}-{b}")
            last = b


Step = BaseCut | Zooms | Hook | Audio
_KINDS: dict[str, type[Step]] = {k.name: k for k in (BaseCut, Zooms, Hook, Audio)}


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

    def output_duration(self, span: float) -> float:
        cut = self.base_cut
        return cut.duration if cut is not None else span

    def to_json(self) -> list[dict[str, Any]]:
        return [{"step": s.name, **asdict(s)} for s in self.held]

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
            held.append(kind(**fields))
        return cls(tuple(held))
