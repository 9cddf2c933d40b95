"""FCPXML and CMX 3600 export: read back by OpenTimelineIO's adapters and by hand.

Every case is written in both formats and read back: the EDL with otio-cmx3600-adapter at
the source's exact rate, the FCPXML with otio-fcpx-xml-adapter and, because that adapter
is lossy (below), with ElementTree and exact fractions too. The in and out points must come
back to the requested ones within a frame.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from types import ModuleType
from urllib.parse import unquote, urlparse

import pytest

from clipray.clips.nle import (
    EDL_RECORD_START,
    NleClip,
    frame_rate,
    media_url,
    one_line,
    rational_time,
    timecode,
    timecode_frame,
    to_edl,
    to_fcpxml,
    to_frame,
)

pytestmark = pytest.mark.unit

FIVE_HOURS = 5 * 3600.0


def make_clip(**overrides: object) -> NleClip:
    fields: dict[str, object] = {
        "name": "Why we ship on Fridays",
        "source_name": "talk.mp4",
        "source_url": "/media/talk.mp4",
        "source_duration": FIVE_HOURS,
        "fps": 25,
        "width": 1920,
        "height": 1080,
        "has_audio": True,
        "start": 12.34,
        "end": 45.67,
    }
    fields.update(overrides)
    return NleClip(**fields)  # type: ignore[arg-type]


CASES = [
    pytest.param(25, 12.34, 45.67, id="25/short"),
    pytest.param(25, 3599.98, 3661.02, id="25/across-1h"),
    pytest.param(29.97, 3725.5, 3781.25, id="29.97/past-1h"),
    pytest.param(29.97, 0.0, 0.0334, id="29.97/one-frame-at-zero"),
    pytest.param(29.97, 14399.9, 14460.0, id="29.97/4h"),
    pytest.param(30, 7.0, 67.5, id="30/short"),
    pytest.param(30, 4000.016, 4003.983, id="30/past-1h"),
    pytest.param(23.976, 1.001, 31.2, id="23.976/short"),
    pytest.param(23.976, 4000.123, 4010.9, id="23.976/past-1h"),
    pytest.param(59.94, 3601.1, 3630.0, id="59.94/past-1h"),
]

NASTY_NAMES = [
    pytest.param("He said \"no\" / 'yes'", id="quotes-slashes"),
    pytest.param("Ünïcødé 日本語 🎬👩🏽‍💻", id="unicode"),
    pytest.param("two\nlines\r\nand\u2028more", id="newlines"),
    pytest.param("x\n002  AX       V     C        00:00:00:00 00:00:01:00", id="edl-injection"),
    pytest.param("<b>&amp; ]]> \x00\x1b\x7f", id="xml-specials-controls"),
    pytest.param("TITLE: * FROM CLIP NAME: evil", id="edl-keywords"),
]


@pytest.fixture(scope="module")
def otio() -> ModuleType:
    """OpenTimelineIO with both adapters (the dev extra installs them: a missing one fails)."""
    import opentimelineio as module

    for adapter in ("cmx_3600", "fcpx_xml"):
        try:
            module.adapters.from_name(adapter)
        except Exception as exc:  # any failure means the plugin cannot be used
            pytest.fail(f"OTIO adapter {adapter} is not installed: {exc}")
    return module


def parse_time(value: str) -> Fraction:
    """An FCPXML time ("1001/30000s", "10s", "0s") as an exact number of seconds."""
    assert value.endswith("s"), value
    return Fraction(value[:-1])


def parse_xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own output, not untrusted input


def only_clip(composition: object) -> object:
    clips = list(composition.find_clips())  # type: ignore[attr-defined]
    assert len(clips) == 1, clips
    return clips[0]


# -- frame rates, frames, timecode --------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        pytest.param(25, Fraction(25), id="25"),
        pytest.param(30.0, Fraction(30), id="30"),
        pytest.param(29.97, Fraction(30000, 1001), id="29.97"),
        pytest.param(29.97002997, Fraction(30000, 1001), id="29.97-probed"),
        pytest.param(23.976, Fraction(24000, 1001), id="23.976"),
        pytest.param(23.98, Fraction(24000, 1001), id="23.98"),
        pytest.param(59.94, Fraction(60000, 1001), id="59.94"),
        pytest.param(12.5, Fraction(25, 2), id="12.5"),
        pytest.param(Fraction(30000, 1001), Fraction(30000, 1001), id="fraction"),
    ],
)
def test_frame_rate_is_exact(fps: float | Fraction, expected: Fraction) -> None:
    assert frame_rate(fps) == expected


@pytest.mark.parametrize("fps", [0, -25, math.nan, math.inf, Fraction(0)])
def test_frame_rate_rejects_nonsense(fps: float) -> None:
    with pytest.raises(ValueError, match="frame rate"):
        frame_rate(fps)


def test_to_frame_rounds_to_nearest_exactly() -> None:
    ntsc = Fraction(30000, 1001)
    assert to_frame(3600.0, ntsc) == 107892  # 107892.107...
    assert to_frame(float(Fraction(107892) / ntsc), ntsc) == 107892  # float of a frame time
    assert to_frame(0.02, Fraction(25)) == 1  # half a frame rounds up
    assert to_frame(0.0199, Fraction(25)) == 0


def test_rational_time_is_a_multiple_of_the_frame_duration() -> None:
    assert rational_time(0, Fraction(30000, 1001)) == "0s"
    assert rational_time(1, Fraction(30000, 1001)) == "1001/30000s"
    assert rational_time(3, Fraction(24000, 1001)) == "3003/24000s"
    assert rational_time(250, Fraction(25)) == "250/25s"
    assert rational_time(7, Fraction(1, 2)) == "14s"


@pytest.mark.parametrize(
    ("frame", "nominal", "drop_frame", "label"),
    [
        pytest.param(0, 25, False, "00:00:00:00", id="zero"),
        pytest.param(90_000 + 24, 25, False, "01:00:00:24", id="25/1h"),
        pytest.param(107_892, 30, False, "00:59:56:12", id="ndf/107892"),
        pytest.param(1799, 30, True, "00:00:59;29", id="df/before-first-drop"),
        pytest.param(1800, 30, True, "00:01:00;02", id="df/first-drop"),
        pytest.param(17_982, 30, True, "00:10:00;00", id="df/tenth-minute-not-dropped"),
        pytest.param(107_892, 30, True, "01:00:00;00", id="df/1h"),
        pytest.param(3600, 60, True, "00:01:00;04", id="df59.94/first-drop"),
    ],
)
def test_timecode_golden(frame: int, nominal: int, drop_frame: bool, label: str) -> None:
    assert timecode(frame, nominal, drop_frame=drop_frame) == label
    assert timecode_frame(label, nominal, drop_frame=drop_frame) == frame


@pytest.mark.parametrize(
    ("nominal", "drop_frame"),
    [(24, False), (25, False), (30, False), (30, True), (60, True)],
)
def test_timecode_round_trips_and_agrees_with_otio(
    otio: ModuleType, nominal: int, drop_frame: bool
) -> None:
    """Every frame around minute and ten-minute boundaries, up to 23 h, both directions."""
    rate = 1000 * nominal / 1001 if drop_frame else nominal
    per_minute = nominal * 60
    frames = {0, 1, 23 * 3600 * nominal}
    for minute in (1, 2, 9, 10, 11, 59, 60, 61, 600):
        base = minute * per_minute
        frames.update(range(base - 2 * nominal - 6, base + 6))
    for frame in sorted(frames):
        label = timecode(frame, nominal, drop_frame=drop_frame)
        assert timecode_frame(label, nominal, drop_frame=drop_frame) == frame
        theirs = otio.opentime.to_timecode(
            otio.opentime.RationalTime(frame, rate), rate, drop_frame
        )
        assert label == theirs, frame


def test_timecode_limits() -> None:
    with pytest.raises(ValueError, match="24 hours"):
        timecode(24 * 3600 * 25, 25)
    with pytest.raises(ValueError, match="drop-frame"):
        timecode(0, 25, drop_frame=True)
    with pytest.raises(ValueError, match=">= 0"):
        timecode(-1, 25)


# -- the clip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        pytest.param({"start": 10.0, "end": 10.0}, "start < end", id="empty"),
        pytest.param({"start": 10.0, "end": 5.0}, "start < end", id="reversed"),
        pytest.param({"start": 10.0, "end": 10.01}, "start < end", id="under-a-frame"),
        pytest.param({"end": FIVE_HOURS + 1}, "source_duration", id="past-the-end"),
        pytest.param({"start": -1.0}, "start < end", id="negative"),
        pytest.param({"end": math.nan}, "finite", id="nan"),
        pytest.param({"width": 0}, "frame size", id="no-width"),
        pytest.param({"source_url": "media/talk.mp4"}, "absolute", id="relative-path"),
        pytest.param({"fps": 0}, "frame rate", id="no-rate"),
    ],
)
def test_clip_rejects_impossible_edits(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_clip(**overrides)


def test_clip_end_within_half_a_frame_of_the_source_end_is_allowed() -> None:
    clip = make_clip(start=0.0, end=FIVE_HOURS + 0.01)
    assert clip.frames == (0, 450_000, 450_000)


@pytest.mark.parametrize(
    ("source_name", "file_name"),
    [
        pytest.param("talk.mp4", "talk.mp4", id="plain"),
        pytest.param("/srv/media/talk.mp4", "talk.mp4", id="posix-path"),
        pytest.param("C:\\Users\\me\\My talk.mov", "My talk.mov", id="windows-path"),
        pytest.param("a\nb\t.mp4", "a b .mp4", id="controls"),
        pytest.param("dir/", "source", id="nothing-left"),
        pytest.param("..", "source", id="dots"),
        pytest.param("Ünï 🎬.mp4", "Ünï 🎬.mp4", id="unicode-kept"),
    ],
)
def test_file_name_is_a_safe_basename(source_name: str, file_name: str) -> None:
    assert make_clip(source_name=source_name).file_name == file_name


@pytest.mark.parametrize(
    ("source", "url"),
    [
        pytest.param("/media/My talk #1.mp4", "file:///media/My%20talk%20%231.mp4", id="posix"),
        pytest.param("/m/日本.mp4", "file:///m/%E6%97%A5%E6%9C%AC.mp4", id="posix-unicode"),
        pytest.param("C:\\Media\\a b.mp4", "file:///C:/Media/a%20b.mp4", id="windows"),
        pytest.param("file:///m/a%20b.mp4", "file:///m/a%20b.mp4", id="url-kept"),
        pytest.param("file:///m/a b.mp4", "file:///m/a%20b.mp4", id="url-space-escaped"),
        pytest.param("s3://bucket/k/v.mp4?x=1", "s3://bucket/k/v.mp4?x=1", id="other-scheme"),
    ],
)
def test_media_url(source: str, url: str) -> None:
    assert media_url(source) == url


def test_one_line_keeps_text_and_drops_breaks() -> None:
    assert one_line(" a\r\n b\u2028c\x00d\t\te ") == "a b c d e"
    assert one_line("\"q\" / 's' 日本 👩🏽‍💻") == "\"q\" / 's' 日本 👩🏽‍💻"


# -- FCPXML -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fps", "start", "end"), CASES)
def test_fcpxml_cuts_the_requested_frames(fps: float, start: float, end: float) -> None:
    """Read back exactly, as an NLE does: whole frames, within half a frame of the request."""
    clip = make_clip(fps=fps, start=start, end=end)
    rate = frame_rate(fps)
    root = parse_xml(to_fcpxml(clip))

    (fmt,) = root.iterfind("resources/format")
    frame = parse_time(fmt.get("frameDuration", ""))
    assert frame == 1 / rate
    (asset,) = root.iterfind("resources/asset")
    (asset_clip,) = root.iterfind("library/event/project/sequence/spine/asset-clip")
    assert asset_clip.get("ref") == asset.get("id")
    assert asset_clip.get("format") == fmt.get("id") == asset.get("format")
    clip_start = parse_time(asset_clip.get("start", ""))
    clip_length = parse_time(asset_clip.get("duration", ""))
    for value in (clip_start, clip_length, parse_time(asset.get("duration", ""))):
        assert (value / frame).denominator == 1, "not a whole number of frames"
    assert abs(clip_start - Fraction(start)) <= frame / 2
    assert abs(clip_start + clip_length - Fraction(end)) <= frame / 2
    assert parse_time(asset.get("duration", "")) >= clip_start + clip_length
    (sequence,) = root.iterfind("library/event/project/sequence")
    assert sequence.get("duration") == asset_clip.get("duration")


@pytest.mark.parametrize(("fps", "start", "end"), CASES)
def test_fcpxml_round_trips_through_otio(
    otio: ModuleType, fps: float, start: float, end: float
) -> None:
    """otio-fcpx-xml-adapter 1.0.0 reads times onto a grid of 1/int(rate) seconds (29 for
    29.97), flooring each of ``start`` and ``duration`` in floats (``N/25s`` can come back
    one frame short). So beyond our half-frame snap its in-point may be up to one grid step
    early and its out-point (in plus duration) up to two. The frame-exact round trip is
    :func:`test_fcpxml_cuts_the_requested_frames`, which reads the times as FCP does."""
    clip = make_clip(fps=fps, start=start, end=end)
    rate = frame_rate(fps)
    collection = otio.adapters.read_from_string(to_fcpxml(clip), adapter_name="fcpx_xml")
    (timeline,) = collection
    read = only_clip(timeline.tracks).source_range
    grid = 1 / math.floor(rate)
    snap = 0.5 / float(rate) + 1e-9
    otio_in = read.start_time.to_seconds()
    otio_out = read.end_time_exclusive().to_seconds()
    assert -(snap + grid) <= otio_in - start <= snap
    assert -(snap + 2 * grid) <= otio_out - end <= snap


def test_fcpxml_document_shape() -> None:
    clip = make_clip(fps=29.97, start=3725.5, end=3781.25, width=1080, height=1920)
    text = to_fcpxml(clip)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n')
    root = parse_xml(text)
    assert root.tag == "fcpxml"
    assert root.get("version") == "1.9"
    assert [child.tag for child in root] == ["resources", "library"]
    fmt = root.find("resources/format")
    assert fmt is not None
    assert (fmt.get("frameDuration"), fmt.get("width"), fmt.get("height")) == (
        "1001/30000s",
        "1080",
        "1920",
    )
    asset = root.find("resources/asset")
    assert asset is not None
    assert (asset.get("hasVideo"), asset.get("hasAudio"), asset.get("start")) == ("1", "1", "0s")
    assert asset.get("name") == "talk.mp4"
    rep = asset.find("media-rep")
    assert rep is not None
    assert (rep.get("kind"), rep.get("src")) == ("original-media", "file:///media/talk.mp4")
    asset_clip = root.find("library/event/project/sequence/spine/asset-clip")
    assert asset_clip is not None
    assert asset_clip.get("start") == f"{111_653 * 1001}/30000s"
    assert asset_clip.get("duration") == f"{1671 * 1001}/30000s"
    assert asset_clip.get("offset") == "0s"
    assert to_fcpxml(clip) == text, "deterministic"


def test_fcpxml_without_audio_and_version_1_10() -> None:
    root = parse_xml(to_fcpxml(make_clip(has_audio=False), version="1.10"))
    assert root.get("version") == "1.10"
    asset = root.find("resources/asset")
    assert asset is not None
    assert asset.get("hasAudio") == "0"
    assert "audioSources" not in asset.attrib
    sequence = root.find("library/event/project/sequence")
    assert sequence is not None
    assert "audioLayout" not in sequence.attrib


def test_fcpxml_rejects_other_versions() -> None:
    with pytest.raises(ValueError, match="version"):
        to_fcpxml(make_clip(), version="1.8")


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_fcpxml_survives_nasty_names(otio: ModuleType, name: str) -> None:
    source = f"/media/{name.replace(chr(0), '')}.mp4"
    clip = make_clip(name=name, source_name=name + ".mp4", source_url=source)
    text = to_fcpxml(clip)
    root = parse_xml(text)
    asset_clip = root.find("library/event/project/sequence/spine/asset-clip")
    project = root.find("library/event/project")
    asset = root.find("resources/asset")
    rep = root.find("resources/asset/media-rep")
    assert asset_clip is not None
    assert project is not None
    assert asset is not None
    assert rep is not None
    assert asset_clip.get("name") == project.get("name") == one_line(name)
    assert asset.get("name") == clip.file_name
    assert unquote(urlparse(rep.get("src", "")).path) == source
    collection = otio.adapters.read_from_string(text, adapter_name="fcpx_xml")
    (timeline,) = collection
    assert timeline.name == one_line(name)
    assert only_clip(timeline.tracks).name == one_line(name)


# -- EDL --------------------------------------------------------------------------------


def test_edl_golden() -> None:
    clip = make_clip(fps=25, start=3725.5, end=3781.24)  # frame 93137.5 rounds up
    assert to_edl(clip, "Episode 12") == (
        "TITLE: Episode 12\n"
        "FCM: NON-DROP FRAME\n"
        "\n"
        "001  AX       V     C        01:02:05:13 01:03:01:06 01:00:00:00 01:00:55:18\n"
        "* FROM CLIP NAME: talk.mp4\n"
        "* COMMENT: Why we ship on Fridays\n"
        "002  AX       AA    C        01:02:05:13 01:03:01:06 01:00:00:00 01:00:55:18\n"
        "* FROM CLIP NAME: talk.mp4\n"
        "* COMMENT: Why we ship on Fridays\n"
    )


def test_edl_without_audio_has_one_event_and_titles_itself() -> None:
    text = to_edl(make_clip(has_audio=False))
    lines = text.splitlines()
    assert lines[0] == "TITLE: Why we ship on Fridays"
    assert [line[:3] for line in lines if line[:1].isdigit()] == ["001"]


@pytest.mark.parametrize(("fps", "start", "end"), CASES)
def test_edl_round_trips_through_otio(
    otio: ModuleType, fps: float, start: float, end: float
) -> None:
    """The adapter reads frame-exact at the source's rate: our frames, within half a frame
    of the request, on V and on A1 and A2."""
    clip = make_clip(fps=fps, start=start, end=end)
    rate = frame_rate(fps)
    in_frame, out_frame, _ = clip.frames
    timeline = otio.adapters.read_from_string(
        to_edl(clip, "t"), adapter_name="cmx_3600", rate=float(rate)
    )
    assert timeline.name == "t"
    assert [(track.name, track.kind) for track in timeline.tracks] == [
        ("V", "Video"),
        ("A1", "Audio"),
        ("A2", "Audio"),
    ]
    for track in timeline.tracks:
        read = only_clip(track).source_range
        assert (read.start_time.value, read.end_time_exclusive().value) == (in_frame, out_frame)
        assert abs(read.start_time.to_seconds() - start) <= 0.5 / float(rate) + 1e-6
        assert abs(read.end_time_exclusive().to_seconds() - end) <= 0.5 / float(rate) + 1e-6
        assert only_clip(track).name == "talk.mp4"


@pytest.mark.parametrize("fps", [29.97, 59.94])
def test_edl_drop_frame_round_trips_through_otio(otio: ModuleType, fps: float) -> None:
    clip = make_clip(fps=fps, start=3725.5, end=3781.25)
    rate = frame_rate(fps)
    text = to_edl(clip, drop_frame=True)
    assert "FCM: DROP FRAME" in text
    event = text.splitlines()[3].split()
    assert event[4:6] == [
        timecode(frame, round(rate), drop_frame=True) for frame in clip.frames[:2]
    ]
    assert event[6] == EDL_RECORD_START[:8] + ";00"
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate))
    read = only_clip(timeline.tracks[0]).source_range
    assert (read.start_time.value, read.end_time_exclusive().value) == clip.frames[:2]
    assert abs(read.start_time.to_seconds() - 3725.5) <= 0.5 / float(rate) + 1e-6


def test_edl_drop_frame_needs_an_ntsc_rate() -> None:
    with pytest.raises(ValueError, match="drop-frame"):
        to_edl(make_clip(fps=25), drop_frame=True)
    with pytest.raises(ValueError, match="drop-frame"):
        to_edl(make_clip(fps=23.976), drop_frame=True)


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_edl_survives_nasty_names(otio: ModuleType, name: str) -> None:
    clip = make_clip(name=name, source_name=f"/in/{name}.mp4")
    text = to_edl(clip, name)
    events = [line for line in text.splitlines() if line[:1].isdigit()]
    assert [line[:3] for line in events] == ["001", "002"]
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=25)
    assert timeline.name == one_line(name).replace("TITLE:", "").strip()
    for track in timeline.tracks:
        read = only_clip(track)
        assert read.name == clip.file_name
        assert list(read.metadata["cmx_3600"]["comments"]) == [f"COMMENT: {one_line(name)}"]
        assert read.source_range.start_time.value == clip.frames[0]
