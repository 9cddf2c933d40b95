"""Hand a clip to an editor: an FCPXML and a CMX 3600 EDL that cut the SOURCE video.

A rendered clip is a flattened MP4. An editor who wants to recut it needs the edit instead:
the source file and the in and out points in that file, so the NLE can rebuild the clip
from the original media at full quality, with handles on both sides. Both writers here
are pure functions from one :class:`NleClip` to text; nothing touches the disk.

Times are snapped to whole source frames with exact rational arithmetic, because NLEs
reject or silently move cuts that fall between frames, and NTSC rates (29.97 is really
30000/1001) drift by a frame every 33 s if done in floats::

    clip = NleClip(
        name="Why we ship on Fridays",
        source_name="talk.mp4",
        source_url="/media/talk.mp4",
        source_duration=5400.0,
        fps=29.97,
        width=1920,
        height=1080,
        has_audio=True,
        start=3725.5,
        end=3781.25,
    )
    Path("clip.fcpxml").write_text(to_fcpxml(clip), encoding="utf-8")
    Path("clip.edl").write_text(to_edl(clip), encoding="utf-8")

Both formats assume the source's own timecode starts at 00:00:00:00, which holds for the
files this project ingests (downloads, phone and screen recordings carry no timecode
track). A camera original with a start timecode would need that offset added.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

FCPXML_VERSIONS = ("1.9", "1.10")
"""What :func:`to_fcpxml` writes. 1.9 is the oldest with ``media-rep`` (FCP 10.4.9); both
import into current Final Cut Pro, DaVinci Resolve and Premiere (via its FCPXML import)."""

EDL_RECORD_START = "01:00:00:00"
"""Where the EDL's record side begins: the usual programme start, one hour in, so
pre-roll never needs negative timecode."""

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")
# Characters that end a line for str.splitlines (which the EDL readers use), or that
# XML 1.0 cannot carry at all: C0/C1 controls, line/paragraph separators, surrogates and
# the two non-characters.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# Kept as they are when a URL is percent-encoded: the reserved set and existing escapes.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


@dataclass(frozen=True)
class NleClip:
    """One clip as an NLE sees it: a stretch ``[start, end)`` of one source file.

    Names may hold any text (quotes, slashes, emoji, newlines); the writers make them
    safe for each format. ``fps`` may be a float as probed (``29.97``, ``23.976``) or an
    exact :class:`~fractions.Fraction` (``Fraction(30000, 1001)``); see :func:`frame_rate`.
    """

    name: str
    """What the editor sees: the project, sequence and clip name."""
    source_name: str
    """The source's file name as the editor's media bin shows it; a path is reduced to
    its last part (see :attr:`file_name`)."""
    source_url: str
    """Where the NLE finds the media: an absolute path (POSIX or Windows) or a URL
    (``file://`` for FCPXML media links)."""
    source_duration: float
    """Length of the source file, seconds."""
    fps: float | Fraction
    """Source frame rate."""
    width: int
    """Source frame size in pixels, as stored (a vertical phone video is 1080x1920)."""
    height: int
    has_audio: bool
    """Whether the EDL carries an audio event and the FCPXML asset an audio source."""
    start: float
    """In-point in source seconds (inclusive); snapped to the nearest frame."""
    end: float
    """Out-point in source seconds (exclusive); snapped to the nearest frame."""

    def __post_init__(self) -> None:
        if not all(math.isfinite(t) for t in (self.start, self.end, self.source_duration)):
            raise ValueError(f"times must be finite, got {self.start}, {self.end}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        start, end, total = self.frames
        if not 0 <= start < end <= total:
            raise ValueError(
                f"need 0 <= start < end <= source_duration in whole frames, got frames "
                f"[{start}, {end}) of {total} ({self.start}s-{self.end}s of "
                f"{self.source_duration}s at {self.fps} fps)"
            )
        media_url(self.source_url)

    @property
    def rate(self) -> Fraction:
        """The exact frame rate (frames per second)."""
        return frame_rate(self.fps)

    @property
    def frames(self) -> tuple[int, int, int]:
        """``(in, out, source length)`` in whole frames, each rounded to the nearest."""
        rate = self.rate
        return (
            to_frame(self.start, rate),
            to_frame(self.end, rate),
            to_frame(self.source_duration, rate),
        )

    @property
    def file_name(self) -> str:
        """The source's base name, on one line; ``"source"`` where nothing is left."""
        base = re.split(r"[\\/]", self.source_name)[-1]
        base = one_line(base)
        return base if base not in ("", ".", "..") else "source"


def frame_rate(fps: float | Fraction) -> Fraction:
    """The exact rate behind a probed one: 29.97 -> 30000/1001, 23.976 -> 24000/1001.

    Integer rates stay integers; rates within 0.005 of an NTSC rate (N*1000/1001, so the
    "23.98" that FCP displays too) become that rate; anything else is kept as the nearest
    fraction with a denominator up to 1001.
    """
    if isinstance(fps, Fraction):
        rate = fps
    else:
        if not math.isfinite(fps):
            raise ValueError(f"frame rate must be finite, got {fps}")
        whole = round(fps)
        ntsc = Fraction(round(fps * 1.001) * 1000, 1001)
        if whole > 0 and abs(fps - whole) < 1e-3:
            rate = Fraction(whole)
        elif abs(fps - float(ntsc)) < 5e-3:
            rate = ntsc
        else:
            rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    return rate


def to_frame(seconds: float, rate: Fraction) -> int:
    """The frame nearest to ``seconds`` (halves round up), computed exactly."""
    return math.floor(Fraction(seconds) * rate + Fraction(1, 2))


def one_line(text: str) -> str:
    """``text`` on one line with single spaces, safe in XML 1.0 and in EDL comments.

    Line breaks would start a new (malformed) EDL event line, and control characters
    cannot appear in XML at all, even escaped.
    """
    return " ".join(_UNSAFE_CHARS.sub(" ", text).split())


def media_url(source: str) -> str:
    """A URL for ``source``: absolute paths become ``file://`` URLs, URLs are kept.

    Raises ValueError for a relative path: an NLE resolves links against nothing useful.
    """
    if _URL_SCHEME.match(source):
        return quote(source, safe=_URL_SAFE)
    if _WINDOWS_PATH.match(source):
        return PureWindowsPath(source).as_uri()
    if source.startswith("/"):
        return PurePosixPath(source).as_uri()
    raise ValueError(f"source_url must be an absolute path or a URL, got {source!r}")


def rational_time(frames: int, rate: Fraction) -> str:
    """FCPXML time for ``frames`` frames: a multiple of the frame duration, ``"1001/30000s"``
    style, or ``"0s"``. Whole seconds at integer rates still read ``"250/25s"``."""
    if frames == 0:
        return "0s"
    step = 1 / rate
    if step.denominator == 1:
        return f"{frames * step.numerator}s"
    return f"{frames * step.numerator}/{step.denominator}s"


def to_fcpxml(clip: NleClip, *, version: str = "1.9", event: str = "clipray") -> str:
    """An FCPXML document with one project whose spine holds the clip as an asset-clip.

    The asset-clip's ``start`` is the in-point in the source and its ``duration`` the
    clip's length, both whole frames. The asset links to the source through a
    ``media-rep`` (FCPXML 1.9+); its format carries the exact frame duration.

    Args:
        clip: What to write.
        version: ``"1.9"`` (default, opens in the widest range of NLEs) or ``"1.10"``.
        event: The FCP event (bin) the project lands in.

    Returns:
        The document as text, UTF-8 declared, with the ``<!DOCTYPE fcpxml>`` line FCP expects.
    """
    if version not in FCPXML_VERSIONS:
        raise ValueError(f"FCPXML version must be one of {FCPXML_VERSIONS}, got {version!r}")
    rate = clip.rate
    start, end, total = clip.frames
    name = one_line(clip.name) or clip.file_name
    audio = "1" if clip.has_audio else "0"

    root = ET.Element("fcpxml", version=version)
    resources = ET.SubElement(root, "resources")
    # No format name: FCP's named formats cover only standard sizes, and a frameDuration
    # with width and height defines a custom one (vertical video, odd sizes) just as well.
    ET.SubElement(
        resources,
        "format",
        id="r1",
        frameDuration=rational_time(1, rate),
        width=str(clip.width),
        height=str(clip.height),
    )
    asset = ET.SubElement(
        resources,
        "asset",
        id="r2",
        name=clip.file_name,
        start="0s",
        duration=rational_time(total, rate),
        hasVideo="1",
        hasAudio=audio,
        format="r1",
        videoSources="1",
    )
    if clip.has_audio:
        asset.set("audioSources", "1")
    ET.SubElement(asset, "media-rep", kind="original-media", src=media_url(clip.source_url))

    library = ET.SubElement(root, "library")
    project = ET.SubElement(
        ET.SubElement(library, "event", name=one_line(event) or "clipray"), "project", name=name
    )
    length = rational_time(end - start, rate)
    sequence = ET.SubElement(
        project, "sequence", format="r1", duration=length, tcStart="0s", tcFormat="NDF"
    )
    if clip.has_audio:
        sequence.set("audioLayout", "stereo")
        sequence.set("audioRate", "48k")
    spine = ET.SubElement(sequence, "spine")
    ET.SubElement(
        spine,
        "asset-clip",
        ref="r2",
        name=name,
        offset="0s",
        start=rational_time(start, rate),
        duration=length,
        format="r1",
        tcFormat="NDF",
    )
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'


def timecode(frame: int, nominal: int, *, drop_frame: bool = False) -> str:
    """SMPTE timecode of 0-based ``frame`` at the integer ``nominal`` rate (30 for 29.97).

    Drop-frame skips labels ``;00`` and ``;01`` (``;00``-``;03`` at 59.94) at the start of
    every minute except each tenth, so the labels keep up with the real clock.
    """
    if frame < 0:
        raise ValueError(f"frame must be >= 0, got {frame}")
    separator = ":"
    if drop_frame:
        if nominal not in (30, 60):
            raise ValueError(f"drop-frame timecode needs a 29.97 or 59.94 rate, got {nominal}")
        dropped = nominal // 15
        per_minute = nominal * 60 - dropped
        per_ten = nominal * 600 - 9 * dropped
        tens, rest = divmod(frame, per_ten)
        frame += 9 * dropped * tens
        if rest >= dropped:
            frame += dropped * ((rest - dropped) // per_minute)
        separator = ";"
    seconds, ff = divmod(frame, nominal)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    if hh >= 24:
        raise ValueError(f"frame {frame} is past 24 hours of timecode")
    return f"{hh:02d}:{mm:02d}:{ss:02d}{separator}{ff:02d}"


def timecode_frame(label: str, nominal: int, *, drop_frame: bool = False) -> int:
    """The 0-based frame that ``label`` (``HH:MM:SS:FF``, any of ``:;.`` before the frames)
    names: the inverse of :func:`timecode`."""
    hh, mm, ss, ff = (int(part) for part in re.split(r"[:;.]", label))
    frame = ((hh * 60 + mm) * 60 + ss) * nominal + ff
    if drop_frame:
        minutes = hh * 60 + mm
        frame -= nominal // 15 * (minutes - minutes // 10)
    return frame


def to_edl(clip: NleClip, title: str | None = None, *, drop_frame: bool = False) -> str:
    """A CMX 3600 EDL with the clip as one cut: a video event, and an audio event (AA:
    channels A1 and A2) when the source has sound.

    Source timecodes are the clip's in and out points in the source; the record side
    starts at :data:`EDL_RECORD_START`. Timecode runs at the rounded rate (30 for 29.97).
    Non-drop-frame is the default: it counts every frame, so it is unambiguous for sources
    that carry no timecode track; NLEs convert it to their display mode on import.

    Each event names the source by file name (``* FROM CLIP NAME:``), which is what
    Premiere and Resolve match against their media bins when they conform. The clip's own
    name follows as ``* COMMENT:``.

    Args:
        clip: What to write.
        title: The EDL's title; the clip's name where None or blank.
        drop_frame: Drop-frame timecode (only for 29.97 and 59.94 sources).

    Returns:
        The EDL text, lines ending in ``\\n``; write it as UTF-8 where names are not ASCII.
    """
    rate = clip.rate
    nominal = round(rate)
    if drop_frame and (rate.denominator != 1001 or nominal not in (30, 60)):
        raise ValueError(f"drop-frame timecode needs a 29.97 or 59.94 source, got {rate} fps")
    start, end, _ = clip.frames
    rec_in = timecode_frame(EDL_RECORD_START, nominal, drop_frame=drop_frame)
    rec_out = rec_in + end - start
    times = " ".join(
        timecode(frame, nominal, drop_frame=drop_frame) for frame in (start, end, rec_in, rec_out)
    )
    name = one_line(clip.name)
    lines = [
        f"TITLE: {one_line(title or '') or name or clip.file_name}",
        f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}",
        "",
    ]
    channels = ["V", "AA"] if clip.has_audio else ["V"]
    for number, channel in enumerate(channels, start=1):
        lines.append(f"{number:03d}  {'AX':8} {channel:5} C        {times}")
        lines.append(f"* FROM CLIP NAME: {clip.file_name}")
        if name:
            lines.append(f"* COMMENT: {name}")
    return "\n".join(lines) + "\n"
