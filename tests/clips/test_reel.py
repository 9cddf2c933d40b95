"""Highlight reels from moments of several real sources, with the real FFmpeg.

Sync is checked on what a player gets: the decoded frames and samples of the reel. Each
part's sound must sit under its own pictures: the reel's audio over a part's frames is
cross-correlated with the source's audio over the part's range, and the best lag must be
(close to) zero, so a seam that shifts the sound (as joining AAC by copy does, 21 ms or
more a seam) fails. The pictures must be where they belong too: a part of testvideo.mp4
holding one of its scene cuts (PySceneDetect's ground truth) shows it at the frame its
time says.
"""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from clipray.clips.reel import (
    ReelError,
    ReelFormat,
    ReelPart,
    ReelResult,
    check_parts,
    common_format,
    concat_filter_args,
    concat_list,
    cut_part,
    frame_count,
    make_reel,
)
from clipray.storage.keys import object_key, workspace_prefix
from clipray.storage.objects import Buckets
from tests.conftest import MEDIA
from tests.frames import gray_frames

KATIE = MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4"  # 8 s, 512x512, 25
HAMILTON = MEDIA / "talking_head" / "face_recognition" / "short_hamilton_clip.mp4"  # 640x360
TESTVIDEO = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"  # 1280x720, no audio
JFK = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"  # audio only
RATE = 48_000
TESTVIDEO_FPS = Fraction(30000, 1001)
TESTVIDEO_CUTS = [30, 180, 394]  # first frames of new scenes (PySceneDetect ContentDetector)


# --- helpers -------------------------------------------------------------------------------
def _streams(path: Path) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_type,codec_name,width,height,sample_rate,channels,duration",
         "-of", "json", str(path)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"]


def _frames(path: Path) -> int:
    """Video frames a decoder gets out of ``path``."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip())


def _samples(path: Path | str) -> np.ndarray:
    """The whole audio of ``path``, decoded, mono, at :data:`RATE`."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
         "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32).astype(np.float64)


def _decodes_cleanly(path: Path) -> None:
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stderr.strip() == ""


def _lag_ms(reel: np.ndarray, source: np.ndarray, max_ms: float = 100) -> float:
    """How much later (ms) ``source``'s sound plays in ``reel`` than it should: the lag of
    the best normalised cross-correlation of the reel's middle against the source."""
    span = int(max_ms * RATE / 1000)
    body = reel[span:-span]
    best, best_lag = -math.inf, 0
    for lag in range(-span, span + 1, 8):  # 1/6 ms steps: plenty for a sync check
        ref = source[span - lag : span - lag + len(body)]
        if len(ref) < len(body):
            continue
        score = float(body @ ref) / (np.linalg.norm(body) * np.linalg.norm(ref) + 1e-12)
        if score > best:
            best, best_lag = score, lag
    assert best > 0.9, f"the part's sound is not in the reel (correlation {best:.2f})"
    return best_lag * 1000 / RATE


def _part_spans(parts: list[ReelPart], fps: Fraction) -> list[tuple[int, int]]:
    """Where each part lies in the reel, in samples: from its first frame to its last."""
    spans, at = [], Fraction(0)
    for part in parts:
        length = frame_count(part.duration, fps) / fps
        spans.append((round(at * RATE), round((at + length) * RATE)))
        at += length
    return spans


def _no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


# --- a reel of two sources: different sizes, rates, audio rates ----------------------------
MIXED = [
    # 640x360, 29.97 fps, 44.1 kHz; its picture starts 0.84 s after its sound
    ReelPart(str(HAMILTON), 0.5, 2.5),
    ReelPart(str(KATIE), 2.0, 4.5),  # 512x512, 25 fps, 16 kHz
    ReelPart(str(HAMILTON), 6.0, 7.0),
]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReelResult, list[tuple[int, int]]]:
    folder = tmp_path_factory.mktemp("reel")
    progress: list[tuple[int, int]] = []
    result = make_reel(
        MIXED, folder / "reel.mp4", on_progress=lambda done, total: progress.append((done, total))
    )
    return result, progress


def test_mixed_reel_is_one_playable_mp4(mixed: tuple[ReelResult, list]) -> None:
    result, progress = mixed
    size = common_format([(640, 360), (512, 512), (640, 360)])
    assert size == (910, 512)
    streams = _streams(result.path)
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "h264"),
        ("audio", "aac"),
    ]
    assert (streams[0]["width"], streams[0]["height"]) == size == (result.width, result.height)
    assert (int(streams[1]["sample_rate"]), streams[1]["channels"]) == (RATE, 2)
    _decodes_cleanly(result.path)
    assert result.method == "copy"
    assert result.parts == 3
    assert progress == [(1, 3), (2, 3), (3, 3)]
    _no_leftovers(result.path.parent)


def test_mixed_reel_lasts_the_sum_of_its_parts(mixed: tuple[ReelResult, list]) -> None:
    result, _ = mixed
    total = sum(p.duration for p in MIXED)
    assert abs(result.duration - total) <= 0.1
    durations = {s["codec_type"]: float(s["duration"]) for s in _streams(result.path)}
    assert abs(durations["audio"] - durations["video"]) <= 0.05
    frames, samples = _frames(result.path), len(_samples(result.path))
    assert frames == sum(frame_count(p.duration, Fraction(30)) for p in MIXED) == 165
    # the decoder keeps the last AAC frame's padding: up to 1024 samples (21 ms) more
    assert abs(samples / RATE - frames / 30) <= 0.05


@pytest.mark.parametrize("index", [0, 1, 2], ids=["hamilton/0.5", "katie/2.0", "hamilton/6.0"])
def test_mixed_reel_keeps_each_parts_sound_under_its_pictures(
    mixed: tuple[ReelResult, list], index: int
) -> None:
    result, _ = mixed
    part = MIXED[index]
    begin, end = _part_spans(MIXED, Fraction(30))[index]
    reel = _samples(result.path)[begin:end]
    source = _samples(part.uri)[round(part.start * RATE) :][: end - begin]
    assert abs(_lag_ms(reel, source)) <= 2
    head = slice(0, RATE // 4)  # the first 250 ms too (Hamilton's: before its first picture)
    score = reel[head] @ source[head] / np.linalg.norm(reel[head]) / np.linalg.norm(source[head])
    assert score > 0.9


# --- audio-only parts --------------------------------------------------------------------
def test_an_audio_only_part_draws_its_sound_and_keeps_it_in_sync(tmp_path: Path) -> None:
    """A podcast's moment beside a video's: the reel takes the video's size, the audio part's
    picture is a waveform drawn from its own sound (ink in the middle band while JFK
    speaks, none at the top), and its sound plays where its pictures are."""
    parts = [ReelPart(str(KATIE), 1.0, 2.5), ReelPart(str(JFK), 1.0, 3.0)]
    result = make_reel(parts, tmp_path / "reel.mp4")
    assert (result.width, result.height) == (512, 512)
    assert abs(result.duration - 3.5) <= 0.1
    _decodes_cleanly(result.path)
    begin, end = _part_spans(parts, Fraction(30))[1]
    reel = _samples(result.path)[begin:end]
    source = _samples(parts[1].uri)[round(parts[1].start * RATE) :][: end - begin]
    assert abs(_lag_ms(reel, source)) <= 2
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", "2.5", "-i", str(result.path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip  (clip time 2.5: source 2.0 s, "fellow Americans")
    frame = np.frombuffer(raw, np.uint8).reshape(512, 512).astype(np.int16)
    middle, top = frame[200:312], frame[:120]
    assert (np.abs(middle - np.median(top)) > 60).mean() > 0.01  # the waveform is drawn
    assert np.ptp(top) < 10  # the rest is the plain background


# --- silent parts ------------------------------------------------------------------------
QUIET = [
    ReelPart(str(KATIE), 1.0, 2.0),
    ReelPart(str(TESTVIDEO), 5.5, 7.0),  # no audio stream at all; the cut at frame 180
    ReelPart(str(KATIE), 5.0, 6.0, has_audio=False),  # muted on purpose
    ReelPart(str(TESTVIDEO), 0.5, 1.5),  # the cut at frame 30, decoded from the start
    ReelPart(str(KATIE), 6.0, 7.0),
]
NTSC = ReelFormat(width=640, height=360, fps="30000/1001")


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> ReelResult:
    return make_reel(QUIET, tmp_path_factory.mktemp("quiet") / "reel.mp4", NTSC)


def test_parts_without_sound_get_silence_in_sync(quiet: ReelResult) -> None:
    streams = _streams(quiet.path)
    assert [s["codec_name"] for s in streams] == ["h264", "aac"]
    assert (quiet.width, quiet.height) == (640, 360)
    assert quiet.method == "copy"
    _decodes_cleanly(quiet.path)
    durations = {s["codec_type"]: float(s["duration"]) for s in streams}
    assert abs(durations["audio"] - durations["video"]) <= 0.05
    frames, audio = _frames(quiet.path), _samples(quiet.path)
    assert frames == sum(frame_count(p.duration, NTSC.rate) for p in QUIET)
    assert abs(len(audio) / RATE - float(frames / NTSC.rate)) <= 0.05
    spans = _part_spans(QUIET, NTSC.rate)
    edge = RATE // 40  # 25 ms either side of a seam: AAC's overlap smears a cut that far
    for (begin, end), part in zip(spans[1:4], QUIET[1:4], strict=True):
        assert np.abs(audio[begin + edge : end - edge]).max() < 1e-3, part
    for index in (0, 4):  # the sound after the silent parts is still under its pictures
        begin, end = spans[index]
        part = QUIET[index]
        source = _samples(part.uri)[round(part.start * RATE) :][: end - begin]
        assert abs(_lag_ms(audio[begin:end], source)) <= 2


@pytest.mark.parametrize(("index", "cut"), [(1, 180), (3, 30)], ids=["seeked", "from-start"])
def test_a_scene_cut_shows_at_its_time(quiet: ReelResult, index: int, cut: int) -> None:
    part = QUIET[index]
    first = sum(frame_count(p.duration, NTSC.rate) for p in QUIET[:index])
    frames = gray_frames(quiet.path, (64, 36))
    frames = frames[first : first + frame_count(part.duration, NTSC.rate)]
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    shown = int(np.argmax(change)) + 1  # the first frame of the new scene, in the part
    expected = (cut / TESTVIDEO_FPS - Fraction(part.start)) * NTSC.rate
    assert abs(shown - float(expected)) <= 1


# --- one part --------------------------------------------------------------------------------
def test_cut_part_is_exactly_the_format(tmp_path: Path) -> None:
    """A part running past its source's end (8.0 s) is padded to its full length."""
    fmt = ReelFormat(width=320, height=180, fps="24", sample_rate=44_100, channels=1)
    out = cut_part(ReelPart(str(KATIE), 7.2, 8.2), fmt, tmp_path / "part.mp4")
    video, audio = _streams(out)
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 180)
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 44100, 1)
    assert _frames(out) == 24
    assert abs(float(video["duration"]) - 1.0) < 1e-6
    assert abs(float(audio["duration"]) - 1.0) <= 0.005
    _no_leftovers(tmp_path)


def test_the_reencode_join_makes_the_same_reel(tmp_path: Path) -> None:
    """The fallback's concat filter, run on real parts (the copy join rarely fails)."""
    fmt = ReelFormat(width=320, height=180)
    parts = [ReelPart(str(HAMILTON), 2.0, 3.0), ReelPart(str(TESTVIDEO), 1.0, 2.5, False)]
    paths = [cut_part(p, fmt, tmp_path / f"{i}.mov", pcm=True) for i, p in enumerate(parts)]
    out = tmp_path / "joined.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    *concat_filter_args(paths, fmt), str(out)], check=True)  # fmt: skip
    assert _frames(out) == 75
    durations = {s["codec_type"]: float(s["duration"]) for s in _streams(out)}
    assert abs(durations["video"] - 2.5) <= 0.01
    assert abs(durations["audio"] - durations["video"]) <= 0.05


def test_parts_can_be_presigned_urls(buckets: Buckets, tmp_path: Path) -> None:
    """Sources in the object store are read over HTTP by range (a real S3 server)."""
    ws = uuid.uuid4().hex
    media = buckets.media.scoped(ws)
    urls = []
    for source in (HAMILTON, TESTVIDEO):
        key = object_key(ws, "sources", uuid.uuid4().hex, source.name)
        media.put_file(key, source, content_type="video/mp4")
        urls.append(media.presign_get(key, expires_in=300))
    parts = [ReelPart(urls[0], 6.0, 7.0), ReelPart(urls[1], 5.5, 6.5)]
    result = make_reel(parts, tmp_path / "reel.mp4", ReelFormat(width=320, height=180))
    assert (result.method, result.width, result.height) == ("copy", 320, 180)
    assert _frames(result.path) == 60
    _decodes_cleanly(result.path)
    media.delete_prefix(workspace_prefix(ws))


# --- refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "code"),
    [
        pytest.param([], "REEL_EMPTY", id="empty"),
        pytest.param([ReelPart(str(KATIE), 2.0, 2.0)], "REEL_BAD_PART", id="end=start"),
        pytest.param([ReelPart(str(KATIE), 3.0, 2.0)], "REEL_BAD_PART", id="end<start"),
        pytest.param([ReelPart(str(KATIE), -1.0, 2.0)], "REEL_BAD_PART", id="negative"),
        pytest.param([ReelPart(str(KATIE), math.nan, 2.0)], "REEL_BAD_PART", id="nan"),
        pytest.param(
            [ReelPart(str(KATIE), 1.0, 2.0), ReelPart(str(KATIE), 7.0, 9.0)],
            "REEL_BAD_PART",
            id="past-the-end",
        ),
        pytest.param([ReelPart("/nonexistent/x.mp4", 0, 1)], "REEL_BAD_PART", id="missing"),
        pytest.param(
            [ReelPart(str(KATIE), 0, 1), ReelPart(str(MEDIA / "README.md"), 0, 1)],
            "REEL_BAD_PART",
            id="text-file",
        ),
    ],
)
def test_bad_parts_are_refused_and_write_nothing(
    tmp_path: Path, parts: list[ReelPart], code: str
) -> None:
    out = tmp_path / "reel.mp4"
    with pytest.raises(ReelError) as err:
        make_reel(parts, out, workdir=tmp_path)
    assert err.value.code == code
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failing_ffmpeg_leaves_out_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "reel.mp4"
    out.write_bytes(b"the reel before")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ReelError) as err:
        make_reel([ReelPart(str(KATIE), 0, 1)], out, workdir=work, ffmpeg_bin="false")
    assert err.value.code == "REEL_FFMPEG"
    assert out.read_bytes() == b"the reel before"
    assert list(work.iterdir()) == []
    _no_leftovers(tmp_path)


# --- pure ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        pytest.param([(640, 360), (512, 512), (640, 360)], (910, 512), id="most-common-aspect"),
        pytest.param([(1280, 720), (1920, 1080), (512, 512)], (1920, 1080), id="16:9"),
        pytest.param([(3840, 2160)], (1920, 1080), id="4k-capped"),
        pytest.param([(853, 480), (1280, 720)], (1280, 720), id="near-16:9-is-16:9"),
        pytest.param([(1280, 720), (1080, 1920)], (608, 1080), id="tie-larger-part"),
        pytest.param([(641, 361)], (640, 360), id="odd"),
        pytest.param([(5, 3)], (4, 2), id="tiny"),
    ],
)
def test_common_format(sizes: list[tuple[int, int]], expected: tuple[int, int]) -> None:
    assert common_format(sizes) == expected


@pytest.mark.parametrize("max_height", [1080, 720, 483, 481, 3, 2])
@pytest.mark.parametrize(
    "sizes", [[(1920, 1080)], [(1080, 1920), (720, 1280)], [(701, 333), (333, 701), (333, 701)]]
)
def test_common_format_is_even_capped_and_keeps_an_aspect(
    sizes: list[tuple[int, int]], max_height: int
) -> None:
    w, h = common_format(sizes, max_height=max_height)
    assert w % 2 == 0
    assert h % 2 == 0
    assert h <= max(2, max_height)
    assert h <= max(s[1] for s in sizes)
    if h >= 100:  # below that, rounding to even sizes moves the aspect a lot
        assert any(abs(w / h - sw / sh) <= 0.02 * sw / sh for sw, sh in sizes)


def test_common_format_needs_sizes() -> None:
    with pytest.raises(ValueError, match="no sizes"):
        common_format([])


def test_frame_count_is_the_nearest_count() -> None:
    assert frame_count(2.0, Fraction(30)) == 60
    assert frame_count(1.0, Fraction(30000, 1001)) == 30
    assert frame_count(0.001, Fraction(25)) == 1
    assert frame_count(2.5, Fraction(30)) == 75


def test_concat_list_quotes_names() -> None:
    text = concat_list(["a.mov", "it's.mov"])
    assert text == "ffconcat version 1.0\nfile 'a.mov'\nfile 'it'\\''s.mov'\n"


def test_check_parts_accepts_a_good_reel() -> None:
    check_parts([ReelPart("a.mp4", 0, 0.5), ReelPart("https://x/b.mp4?sig=1", 3, 4, False)])


def test_reel_format_refuses_odd_sizes() -> None:
    with pytest.raises(ValueError, match="even"):
        ReelFormat(width=641)
    assert ReelFormat(fps="30000/1001").rate == Fraction(30000, 1001)
