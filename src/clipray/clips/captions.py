"""Word-timed captions for a clip as an Advanced SubStation Alpha (``.ass``) document.

Short-form video is watched muted, so the transcript's words are burned in, a few at a
time, with the spoken word marked as it is said. The ASR's word timings are moved to the
clip (``0`` is the clip's first frame), grouped into short pages of at most ``max_lines``
lines, and written as ``Dialogue`` events for libass (ffmpeg's ``subtitles`` filter):

    >>> words = [w for s in transcript.segments for w in s.words]        # doctest: +SKIP
    >>> ass = build_ass(words, 12.0, 40.0, 1080, 1920, CaptionConfig())  # doctest: +SKIP
    >>> Path("captions.ass").write_text(ass)                             # doctest: +SKIP
    ffmpeg ... -vf "crop=...,scale=1080:1920,subtitles=captions.ass" clip.mp4

Styles: ``highlight_word`` (the page stays, the active word changes colour: one event per
word and per pause), ``karaoke`` (one event per page with ``\\k`` timings, libass colours
each word from its start), ``pop_in`` (words appear one by one at their start, fading in;
the hidden ones are laid out transparent so the line never re-centres), ``typewriter``
(one event per page; each word's letters are typed out over the time it is said, with
libass's ``\\ko`` karaoke over a transparent unsung colour), ``bounce`` (as
``highlight_word``, the spoken word also springs up and back), ``none`` (no events).
:func:`hook_event` adds a hook, a title over the first seconds, to the same document.
Sizes are fractions of the output, so one config fits 9:16, 1:1 and 16:9.

``emoji``: a word of the built-in dictionary (``clips/emoji.py``) gets its emoji after
it, at most one a line and one every two seconds, drawn in an outline emoji font (libass
draws outline glyphs only: a colour bitmap font such as Noto Color Emoji comes out as
empty boxes, so the emoji are drawn in the caption's colours, from Symbola).
``safe_area``: on a vertical frame the lines are wrapped and placed inside the chosen
platform's UI-free area (``clips/safe_area.py``) instead of the config's own margins.

Everything here is pure string building; :func:`resolve_font` and :func:`emoji_font` are
the calls that ask the system (fontconfig) anything, and :func:`emoji_fallback` (at render
time) drops the emoji where no emoji font is installed, rather than draw empty boxes.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from clipray.clips import emoji as emoji_dict
from clipray.clips.safe_area import SAFE_AREAS, area
from clipray.schemas import Word

log = logging.getLogger(__name__)

CaptionStyle = Literal["highlight_word", "karaoke", "pop_in", "typewriter", "bounce", "none"]
STYLES: tuple[str, ...] = ("highlight_word", "karaoke", "pop_in", "typewriter", "bounce", "none")

FALLBACK_FONTS: tuple[str, ...] = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial")
"""Tried in order by :func:`resolve_font` when the configured font is not installed."""

SENTENCE_END = (".", "!", "?", "…")
"""A word ending so ends the page: a new sentence starts on a fresh caption."""
CLAUSE_END = (",", ";", ":", "—", "-")
"""A word ending so ends the line."""

_HIDDEN = "{\\alpha&HFF&}"
EMOJI_FONT = "Symbola"
"""The family an emoji is drawn in (Debian's ``fonts-symbola``, an outline font with the
emoji); :func:`emoji_fallback` swaps in another installed outline font that has it."""
_EMOJI = re.compile(r" \{\\fn" + re.escape(EMOJI_FONT) + r"\}([^{]*)\{\\fn[^}]*\}")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class CaptionConfig:
    """How captions look and how words are grouped. Sizes are fractions of the output."""

    style: CaptionStyle = "highlight_word"
    font: str = "DejaVu Sans"
    """A fontconfig family name; pass it through :func:`resolve_font` on the render machine
    to fall back to an installed one (libass would otherwise pick one itself)."""
    font_size: float = 0.045
    """Font size as a share of the output height (86 px on 1920): readable on a phone."""
    bold: bool = True
    uppercase: bool = False
    max_words_per_line: int = 4
    max_lines: int = 2
    margin_bottom: float = 0.2
    """Distance of the last line from the bottom, as a share of the output height: clear of
    the platforms' buttons and description overlay at the bottom of a vertical video."""
    margin_side: float = 0.06
    """Left and right margin as a share of the output width; also bounds line length."""
    colour: str = "#FFFFFF"
    highlight_colour: str = "#FFD400"
    """The spoken word's colour (``highlight_word``), sung colour (``karaoke``)."""
    outline_colour: str = "#000000"
    outline: float = 0.08
    """Outline width as a share of the font size: keeps white text legible on white."""
    shadow: float = 0.03
    """Drop shadow offset as a share of the font size."""
    max_gap: float = 1.0
    """A pause longer than this (seconds) starts a new page: no stale caption over silence."""
    linger: float = 0.4
    """How long (seconds) a page stays after its last word, unless the next one starts."""
    pop_ms: int = 80
    """``pop_in``: fade-in time of a new word, in milliseconds."""
    bounce_ms: int = 90
    """``bounce``: time the spoken word takes to spring up (and as long back), in ms."""
    bounce_scale: int = 125
    """``bounce``: the spoken word's size at the top of its spring, in percent."""
    emoji: bool = False
    """An emoji after dictionary words (``clips/emoji.py``)."""
    safe_area: str | None = None
    """On a vertical frame, the platform whose UI-free area holds the lines (``all``:
    every platform's); None: ``margin_side`` and ``margin_bottom`` as they are."""

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {self.style!r}")
        for name in ("colour", "highlight_colour", "outline_colour"):
            if not _COLOUR.match(getattr(self, name)):
                raise ValueError(f"{name} must be '#RRGGBB': {getattr(self, name)!r}")
        if self.max_words_per_line < 1 or self.max_lines < 1:
            raise ValueError("max_words_per_line and max_lines must be at least 1")
        if self.safe_area is not None and self.safe_area not in SAFE_AREAS:
            raise ValueError(f"safe_area must be one of {SAFE_AREAS}, not {self.safe_area!r}")

    def margins(self, width: int, height: int) -> tuple[int, int, int]:
        """The style's ``MarginL``, ``MarginR`` and ``MarginV`` in output pixels."""
        if self.safe_area is None or height <= width:  # no overlay: the plain margins
            side = round(self.margin_side * width)
            return side, side, round(self.margin_bottom * height)
        # the outline and shadow are drawn outside the text's box: they stay inside too
        pad = math.ceil((self.outline + self.shadow) * round(self.font_size * height))
        m = area(self.safe_area, width, height)
        return (round(m.left * width) + pad, round(m.right * width) + pad,
                round(m.bottom * height) + pad)  # fmt: skip


@dataclass(frozen=True)
class _Timed:
    """A word on the clip's timeline, in integer centiseconds (the ASS time unit), so event
    boundaries computed from it match exactly."""

    start: int
    end: int
    text: str


def build_ass(
    words: Sequence[Word],
    clip_start: float,
    clip_end: float,
    width: int,
    height: int,
    cfg: CaptionConfig | None = None,
) -> str:
    """The ``.ass`` document captioning ``[clip_start, clip_end)`` at ``width`` x ``height``.

    Args:
        words: the transcript's words in source seconds, as ``Word`` or dicts with
            ``start``, ``end``, ``word``; words overlapping the clip are kept and clamped.
        width, height: the rendered clip's size; they become ``PlayResX/Y``, so every size
            and margin in the document is in output pixels.
    """
    cfg = cfg or CaptionConfig()
    duration = round((clip_end - clip_start) * 100)
    timed = _retime(words, clip_start, clip_end, duration, cfg.uppercase)
    header = _header(width, height, cfg)
    if cfg.style == "none" or not timed:
        return header
    font_px = cfg.font_size * height
    left, right, _ = cfg.margins(width, height)
    max_chars = max(8, int((width - left - right) / (0.6 * font_px)))
    # an emoji is about two letters wide: a line leaves room for one
    pages = _pages(timed, cfg, max_chars - 2 * cfg.emoji)
    events: list[str] = []
    last_emoji: float | None = None
    for p, page in enumerate(pages):
        flat = [i for line in page for i in line]
        next_start = timed[pages[p + 1][0][0]].start if p + 1 < len(pages) else duration
        last = timed[flat[-1]].end
        end = max(last, min(next_start, last + round(cfg.linger * 100), duration))
        marks: dict[int, str] = {}
        if cfg.emoji:
            got, last_emoji = emoji_dict.pick(
                [[(timed[i].start / 100, timed[i].text) for i in line] for line in page],
                last_emoji)  # fmt: skip
            marks = {page[n][k]: _emoji_tag(e, cfg.font) for (n, k), e in got.items()}
        events += _page_events(timed, page, flat, end, cfg, marks)
    return header + "".join(events)


def _emoji_tag(emoji: str, font: str) -> str:
    """An emoji after its word: a space, then the emoji in :data:`EMOJI_FONT`, then the
    caption font again (libass would otherwise look the emoji up in the caption font)."""
    return f" {{\\fn{EMOJI_FONT}}}{emoji}{{\\fn{font.replace(',', ' ')}}}"


def _retime(
    words: Sequence[Word],
    clip_start: float,
    clip_end: float,
    duration: int,
    uppercase: bool,
) -> list[_Timed]:
    """Clip-relative, clamped, sorted, non-overlapping word times. ASR words may overlap by
    a few centiseconds; two active words at once would flash two events."""
    out: list[tuple[int, int, str]] = []
    for w in words:
        start, end = w.start, w.end
        text = " ".join(w.word.split())
        if not text or end <= clip_start or start >= clip_end:
            continue
        s = min(max(round((start - clip_start) * 100), 0), duration)
        e = min(max(round((end - clip_start) * 100), 0), duration)
        out.append((s, max(e, s), text.upper() if uppercase else text))
    out.sort(key=lambda x: (x[0], x[1]))
    timed = []
    for k, (s, e, text) in enumerate(out):
        e = min(e, out[k + 1][0]) if k + 1 < len(out) else e
        timed.append(_Timed(s, e, text))
    return timed


def _pages(timed: list[_Timed], cfg: CaptionConfig, max_chars: int) -> list[list[list[int]]]:
    """Word indices as pages of lines. A line ends at ``max_words_per_line``, at a clause
    mark or before it would pass ``max_chars``; a page ends after ``max_lines`` lines, at
    a sentence end or at a pause longer than ``max_gap``."""
    pages: list[list[list[int]]] = []
    page: list[list[int]] = []
    line: list[int] = []
    for i, w in enumerate(timed):
        if line:
            prev = timed[i - 1]
            chars = sum(len(timed[j].text) + 1 for j in line) + len(w.text)
            new_page = prev.text.endswith(SENTENCE_END) or w.start - prev.end > cfg.max_gap * 100
            if (
                new_page
                or len(line) >= cfg.max_words_per_line
                or prev.text.endswith(CLAUSE_END)
                or chars > max_chars
            ):
                page.append(line)
                line = []
                if new_page or len(page) >= cfg.max_lines:
                    pages.append(page)
                    page = []
        line.append(i)
    page.append(line)
    pages.append(page)
    return pages


def _page_events(
    timed: list[_Timed], page: list[list[int]], flat: list[int], end: int, cfg: CaptionConfig,
    marks: Mapping[int, str] | None = None,
) -> list[str]:
    """The Dialogue lines of one page, shown until ``end`` (centiseconds); ``marks``: the
    emoji tag after a word, by word index."""
    marks = marks or {}
    if cfg.style == "typewriter":
        plain = {j: escape(timed[j].text) for j in flat}
        return [_dialogue(timed[flat[0]].start, end, _typed(timed, page, flat, plain, marks))]
    plain = {j: escape(timed[j].text) + marks.get(j, "") for j in flat}
    if cfg.style == "karaoke":
        sung, unsung = _ass_colour(cfg.highlight_colour), _ass_colour(cfg.colour)
        nexts = [timed[j].start for j in flat[1:]] + [timed[flat[-1]].end]
        sweep = {
            i: f"{{\\k{nxt - timed[i].start}}}{plain[i]}"
            for i, nxt in zip(flat, nexts, strict=True)
        }
        text = f"{{\\1c{sung}\\2c{unsung}}}{_page_text(page, sweep)}"
        return [_dialogue(timed[flat[0]].start, end, text)]
    events: list[str] = []
    on = _ass_colour(cfg.highlight_colour)
    spring = (f"\\t(0,{cfg.bounce_ms},\\fscx{cfg.bounce_scale}\\fscy{cfg.bounce_scale})"
              f"\\t({cfg.bounce_ms},{2 * cfg.bounce_ms},\\fscx100\\fscy100)")  # fmt: skip
    fade = f"{{\\alpha&HFF&\\t(0,{cfg.pop_ms},\\alpha&H00&)}}"
    for k, i in enumerate(flat):
        w = timed[i]
        following = timed[flat[k + 1]].start if k + 1 < len(flat) else end
        if cfg.style in ("highlight_word", "bounce"):
            mark = f"\\1c{on}{spring if cfg.style == 'bounce' else ''}"
            active = {j: f"{{{mark}}}{plain[j]}{{\\r}}" if j == i else plain[j] for j in flat}
            events.append(_dialogue(w.start, w.end, _page_text(page, active)))
            events.append(_dialogue(w.end, following, _page_text(page, plain)))
        else:  # pop_in: earlier words shown, this one fading in, later ones laid out unseen
            shown = {
                j: plain[j] if j < i else f"{fade if j == i else _HIDDEN}{plain[j]}" for j in flat
            }
            events.append(_dialogue(w.start, following, _page_text(page, shown)))
    return [e for e in events if e]


def _typed(timed: list[_Timed], page: list[list[int]], flat: list[int],
           plain: Mapping[int, str], marks: Mapping[int, str]) -> str:  # fmt: skip
    """A typewriter page: each letter a ``\\ko`` syllable, a word's letters sharing the
    time it is said and its pause before the next word; the unsung colour transparent,
    so letters appear as they are typed and the line is laid out once. A word's emoji is
    one more syllable, of no time, after its last letter."""
    nexts = [timed[j].start for j in flat[1:]] + [timed[flat[-1]].end]
    typed: dict[int, str] = {}
    prev = timed[flat[0]].start
    for i, nxt in zip(flat, nexts, strict=True):
        w = timed[i]
        letters = _letters(plain[i])
        lead = w.start - prev  # the pause before the word: the space waits it out
        each, spare = divmod(max(w.end - w.start, 0), len(letters))
        typed[i] = f"{{\\ko{lead}}}" * (lead > 0) + "".join(
            f"{{\\ko{each + (1 if k < spare else 0)}}}{c}" for k, c in enumerate(letters)
        ) + (f"{{\\ko0}}{marks[i]}" if i in marks else "")
        prev = w.end if nxt > w.end else nxt
    return "{\\2a&HFF&}" + _page_text(page, typed)


def _letters(text: str) -> list[str]:
    """An escaped word cut into letters, keeping an escape (``\\{``, a backslash with
    its joiner) in one piece."""
    out: list[str] = []
    k = 0
    while k < len(text):
        step = 2 if text[k] == "\\" and k + 1 < len(text) else 1
        out.append(text[k:k + step])
        k += step
    return out


def hook_event(text: str, duration: float, width: int, height: int, cfg: CaptionConfig) -> str:
    """A hook: ``text`` large, near the top, fading in and out over the first ``duration``
    seconds; one Dialogue line for the captions' document (its ``Caption`` style, placed
    and sized by overrides, so the captions' header serves both)."""
    size = round(cfg.font_size * height * 1.35)
    top = round(height * 0.14)
    wrap = max(8, int(width * (1 - 2 * cfg.margin_side) / (0.6 * size)))
    lines, line = [], ""
    for word in escape(" ".join(text.split())).split(" "):
        if line and len(line) + 1 + len(word) > wrap:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    body = f"{{\\an8\\pos({width // 2},{top})\\fs{size}\\fad(200,300)}}" + "\\N".join(lines)
    return f"Dialogue: 1,{ass_time(0)},{ass_time(round(duration * 100))},Caption,,0,0,0,,{body}\n"


def _page_text(page: list[list[int]], text: Mapping[int, str]) -> str:
    """Lines joined with ASS's hard break ``\\N``, words with spaces."""
    return "\\N".join(" ".join(text[i] for i in line) for line in page)


def _dialogue(start: int, end: int, text: str) -> str:
    """One event; empty when it would last no time (libass would never show it)."""
    if end <= start:
        return ""
    return f"Dialogue: 0,{ass_time(start)},{ass_time(end)},Caption,,0,0,0,,{text}\n"


def escape(text: str) -> str:
    """Word text made literal for an ASS event. ``{`` and ``}`` become libass's ``\\{`` and
    ``\\}``; a backslash gets an invisible WORD JOINER after it, the only way to keep
    ``\\N``, ``\\n`` or ``\\h`` in a transcript from turning into line breaks or spaces."""
    text = text.replace("\\", "\\\u2060")
    return text.replace("{", "\\{").replace("}", "\\}")


def ass_time(cs: int) -> str:
    """Centiseconds as ASS's ``H:MM:SS.cc``."""
    h, rest = divmod(cs, 360_000)
    m, rest = divmod(rest, 6_000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


def _ass_colour(rgb: str) -> str:
    """``#RRGGBB`` as an override colour ``&HBBGGRR&`` (ASS is blue-green-red)."""
    r, g, b = rgb[1:3], rgb[3:5], rgb[5:7]
    return f"&H{b}{g}{r}&".upper()


def _style_colour(rgb: str, alpha: int = 0) -> str:
    """``#RRGGBB`` as a style colour ``&HAABBGGRR`` (alpha 0 is opaque)."""
    return f"&H{alpha:02X}{rgb[5:7]}{rgb[3:5]}{rgb[1:3]}".upper()


def _header(width: int, height: int, cfg: CaptionConfig) -> str:
    size = round(cfg.font_size * height)
    left, right, bottom = cfg.margins(width, height)
    style = ",".join(
        str(v)
        for v in (
            "Caption", cfg.font.replace(",", " "), size,
            _style_colour(cfg.colour), _style_colour(cfg.colour),
            _style_colour(cfg.outline_colour), _style_colour(cfg.outline_colour, 0x80),
            -1 if cfg.bold else 0, 0, 0, 0, 100, 100, 0, 0,
            1, round(cfg.outline * size, 1), round(cfg.shadow * size, 1),
            2, left, right, bottom, 1,
        )
    )  # fmt: skip
    return (
        "[Script Info]\n"
        "; Captions by clipray\n"
        "ScriptType: v4.00+\n"
        f"PlayResX: {width}\n"
        f"PlayResY: {height}\n"
        "WrapStyle: 0\n"
        "ScaledBorderAndShadow: yes\n"
        "YCbCr Matrix: None\n"
        "\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: {style}\n"
        "\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )


@functools.lru_cache(maxsize=32)
def resolve_font(preferred: str, fallbacks: tuple[str, ...] = FALLBACK_FONTS) -> str:
    """An installed font family: ``preferred`` if fontconfig lists it, else the first
    installed fallback, else any installed family. Without ``fc-list`` (no fontconfig
    tools) ``preferred`` comes back unchanged and libass does its own fallback."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return preferred
    proc = subprocess.run(
        [fc_list, ":", "family"], capture_output=True, text=True, check=False, timeout=30
    )
    families = {name.strip(): None for line in proc.stdout.splitlines() for name in line.split(",")}
    lowered = {f.lower(): f for f in families if f}
    for name in (preferred, *fallbacks):
        if name.lower() in lowered:
            return lowered[name.lower()]
    return next(iter(sorted(lowered.values())), preferred)


@functools.lru_cache(maxsize=256)
def emoji_font(emoji: str) -> str | None:
    """An installed outline font that has ``emoji`` (:data:`EMOJI_FONT` first, then a
    family named for emoji), or None. fontconfig is asked for outline fonts covering the
    code point: libass cannot draw a bitmap-only (colour) font's glyphs."""
    fc_list = shutil.which("fc-list")
    if fc_list is None or not emoji:
        return None
    proc = subprocess.run([fc_list, f":outline=true:charset={ord(emoji[0]):x}", "family"],
                          capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
    names = sorted({n.strip() for line in proc.stdout.splitlines() for n in line.split(",")
                    if n.strip()})  # fmt: skip
    if EMOJI_FONT in names:
        return EMOJI_FONT
    return next((n for n in names if "emoji" in n.lower()), None)


def emoji_fallback(ass: str, font_of: Callable[[str], str | None] = emoji_font) -> str:
    """The captions as the render machine can draw them: an emoji no installed outline font
    has (``font_of``, by default :func:`emoji_font`) is left out, with a warning, instead
    of being drawn as an empty box; another font that has it takes :data:`EMOJI_FONT`'s
    place."""
    missing: list[str] = []

    def one(m: re.Match[str]) -> str:
        emoji = m.group(1)
        font = font_of(emoji)
        if font is None:
            missing.append(emoji)
            return ""
        return m.group(0).replace(f"{{\\fn{EMOJI_FONT}}}", f"{{\\fn{font}}}")

    out = _EMOJI.sub(one, ass)
    if missing:
        log.warning("captions: no installed font draws %s (install fonts-symbola); "
                    "left out of the captions", " ".join(sorted(set(missing))))  # fmt: skip
    return out
