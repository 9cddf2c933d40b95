"""Scene detection against PySceneDetect's own goldens, its own detectors, and invariants.

Golden cut frames come from PySceneDetect's test resources (``goldens/*.json``, numbered
``round(t * r_frame_rate)`` by its pyav backend); our scenes are compared in that numbering.
"""

from __future__ import annotations

import inspect
import itertools
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from clipray.pipelines.stages.decode import (
    DecodeConfig,
    ProbeError,
    Window,
    analysis_size,
    decode_window,
    duration_of,
    iter_windows,
    plan_windows,
    probe,
)
from clipray.pipelines.stages.scenes import (
    Features,
    ScanState,
    ScenesConfig,
    detect_scenes,
    scan,
    scan_features,
    scenes_from_cuts,
)
from clipray.schemas import Scene

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
PSD = MEDIA / "scene_cuts" / "pyscenedetect"
CFG = ScenesConfig()
VIDEOS = ["testvideo.mp4", "fades.mp4", "goldeneye-vfr-drop3.mp4", "counter.mp4"]


def media(name: str) -> Path:
    path = PSD / name
    if not path.exists():
        pytest.fail(f"shared media missing: {path}")
    return path


def golden(name: str, detector: str) -> list[int]:
    data = json.loads((PSD / "goldens" / f"{name}.{detector}.default.json").read_text())
    return data["cuts"]


@cache
def whole(name: str) -> Window:
    """Every frame of a test video as one window (decoded once per test run)."""
    return decode_window(media(name), 0.0, None, CFG.decode_config())


@cache
def scenes_of(name: str) -> list[Scene]:
    """``detect_scenes`` with the defaults, ending at the probed duration (once per run)."""
    return detect_scenes(media(name), CFG, duration=probe(media(name)).duration)


def scan_windows(windows: list[Window], cfg: ScenesConfig = CFG) -> tuple[list[int], list[int]]:
    state, cuts, fades = ScanState(), [], []
    for win in windows:
        res = scan(win.frames, state, cfg)
        state, cuts, fades = res.state, cuts + list(res.cuts), fades + list(res.fades)
    assert state.n_frames == sum(len(w) for w in windows)
    return cuts, fades


def starts(scenes: list[Scene], kind: str, rate: float) -> list[int]:
    """Scene starts of one kind in PySceneDetect's frame numbering."""
    return [round(s.start * rate) for s in scenes if s.kind == kind]


# -- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "fps", "n_frames", "vfr"),
    [
        pytest.param("testvideo.mp4", (1280, 720), 29.97, 720, False, id="testvideo"),
        pytest.param("fades.mp4", (480, 320), 25.0, 250, False, id="fades"),
        pytest.param("goldeneye-vfr-drop3.mp4", (1280, 544), 16.05, 160, True, id="vfr"),
        pytest.param("counter.mp4", (1920, 1080), 10.0, 30, False, id="counter"),
    ],
)
def test_probe_and_full_decode_agree(name, size, fps, n_frames, vfr):
    info = probe(media(name))
    assert (info.width, info.height) == size
    assert info.fps == pytest.approx(fps, abs=0.01)
    assert info.n_frames == n_frames
    assert info.is_vfr is vfr
    assert not info.has_audio
    assert info.audio_codec is None
    win = whole(name)
    assert win.frames.shape == (n_frames, *analysis_size(*size)[::-1], 3)
    assert win.frames.dtype == np.uint8
    assert win.first_frame == 0
    assert np.all(np.diff(win.times) > 0)
    assert win.times[-1] < info.duration


def test_probe_sees_audio_and_refuses_what_is_not_media(tmp_path):
    head = MEDIA / "talking_head" / "video_retalking" / "face_1.mp4"
    wav = MEDIA / "speech" / "whisper_jfk" / "jfk.wav"
    if not (head.exists() and wav.exists()):
        pytest.fail("shared media missing")
    info = probe(head)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.is_vfr  # 30 fps timestamps, 22 frames a second on average
    sound = probe(wav)  # an audio-only file is media too: a source without a picture
    assert (sound.has_video, sound.has_audio, sound.width) == (False, True, 0)
    with pytest.raises(ProbeError, match=r"ffprobe .*missing\.mp4 failed"):
        probe(tmp_path / "missing.mp4")
    scenes = detect_scenes(head, duration=info.duration)
    assert_tiles(scenes, len(decode_window(head, 0.0, None)), info.duration)


def test_analysis_size_is_pyscenedetects():
    assert analysis_size(1280, 720) == (256, 144)
    assert analysis_size(1920, 1080) == (256, 144)
    assert analysis_size(1280, 544) == (256, 109)
    assert analysis_size(480, 320) == (256, 171)
    assert analysis_size(720, 1280) == (144, 256)  # the longer side, also for portrait video
    assert analysis_size(200, 100) == (200, 100)  # never upscaled


def test_vfr_frames_carry_their_own_timestamps():
    """Every third frame of the 23.976 fps source was dropped: gaps of one and two periods."""
    times = whole("goldeneye-vfr-drop3.mp4").times
    period = 1001 / 24000
    gaps = np.round(np.diff(times) / period).astype(int)
    assert set(gaps.tolist()) == {1, 2}
    assert np.count_nonzero(gaps == 2) >= 70


def test_counter_frames_are_timed_exactly():
    np.testing.assert_allclose(whole("counter.mp4").times, np.arange(30) * 0.1, atol=1e-9)


@pytest.mark.parametrize("name", VIDEOS, ids=[v.split(".")[0] for v in VIDEOS])
def test_seeking_windows_are_frame_exact(name):
    """Windows decoded on their own, with boundaries between keyframes, on a frame's exact
    timestamp and one microsecond before it, add up to the whole video bit for bit."""
    full = whole(name)
    t_on = float(full.times[len(full) // 2])
    bounds = sorted({0.0, 0.7, 2.5, t_on - 1e-6, t_on, 5.0, 7.77})
    windows = []
    for a, b in zip(bounds, [*bounds[1:], None], strict=True):
        win = decode_window(media(name), a, b, CFG.decode_config())
        assert all(a <= t and (b is None or t < b) for t in win.times)
        windows.append(win)
    np.testing.assert_array_equal(np.concatenate([w.frames for w in windows]), full.frames)
    np.testing.assert_array_equal(np.concatenate([w.times for w in windows]), full.times)
    if name != "goldeneye-vfr-drop3.mp4":  # constant rate: the index follows from the time
        assert [w.first_frame for w in windows if len(w)] == np.cumsum(
            [0] + [len(w) for w in windows if len(w)]
        )[:-1].tolist()


def test_streamed_windows_are_the_whole_video():
    full = whole("goldeneye-vfr-drop3.mp4")
    windows = list(iter_windows(media("goldeneye-vfr-drop3.mp4"), 2.0, CFG.decode_config()))
    assert [w.first_frame for w in windows] == np.cumsum([0] + [len(w) for w in windows])[
        :-1
    ].tolist()
    assert all(w.start <= w.times[0] and w.times[-1] < w.end for w in windows)
    np.testing.assert_array_equal(np.concatenate([w.frames for w in windows]), full.frames)


def test_windows_are_planned_on_keyframes():
    plan = plan_windows(media("testvideo.mp4"), 2.0)
    assert plan == [(0.0, 1.001), (1.001, 6.006), (6.006, 16.016), (16.016, None)]
    assert plan_windows(media("counter.mp4"), 1.0) == [(0.0, None)]  # a single keyframe


def test_decode_config_picks_channel_order():
    rgb = whole("fades.mp4").frames[100]
    bgr = decode_window(media("fades.mp4"), 4.0, 4.04, DecodeConfig(pix_fmt="bgr24")).frames[0]
    # libswscale rounds its rgb24 and bgr24 writers differently, by at most one level
    diff = np.abs(rgb.astype(np.int16) - bgr[..., ::-1])
    assert diff.max() <= 1


# -- goldens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "detector", "kind"),
    [
        pytest.param("testvideo.mp4", "ContentDetector", "cut", id="testvideo/content"),
        pytest.param("testvideo.mp4", "ThresholdDetector", "fade", id="testvideo/fade"),
        pytest.param("fades.mp4", "ContentDetector", "cut", id="fades/content"),
        pytest.param("fades.mp4", "ThresholdDetector", "fade", id="fades/fade"),
        pytest.param("goldeneye-vfr-drop3.mp4", "ContentDetector", "cut", id="vfr/content"),
        pytest.param("goldeneye-vfr-drop3.mp4", "ThresholdDetector", "fade", id="vfr/fade"),
        pytest.param("counter.mp4", "ContentDetector", "cut", id="counter/content"),
        pytest.param("counter.mp4", "ThresholdDetector", "fade", id="counter/fade"),
    ],
)
def test_scene_starts_match_pyscenedetect_goldens(name, detector, kind):
    info = probe(media(name))
    found = starts(scenes_of(name), kind, info.base_fps)
    expected = golden(name, detector)
    assert len(found) == len(expected)
    assert all(abs(f - e) <= 1 for f, e in zip(found, expected, strict=True))


def test_testvideo_hard_cuts_are_exact_frames():
    scenes = scenes_of("testvideo.mp4")
    assert [s.start_frame for s in scenes if s.kind == "cut"] == [30, 180, 394]
    assert [s.start_frame for s in scenes if s.kind == "fade"] == [15, 198, 377]


def test_vfr_cuts_are_at_their_times():
    scenes = scenes_of("goldeneye-vfr-drop3.mp4")
    cuts = [s for s in scenes if s.kind == "cut"]
    assert [s.start for s in cuts] == pytest.approx([3.754, 8.759], abs=0.1)
    times = whole("goldeneye-vfr-drop3.mp4").times
    assert all(times[s.start_frame] == s.start for s in cuts)  # decode order indexes frames


def test_fades_video_has_no_hard_cut():
    scenes = scenes_of("fades.mp4")
    assert [s.kind for s in scenes] == ["start", "fade", "fade"]
    assert [s.start_frame for s in scenes[1:]] == pytest.approx([84, 167], abs=1)


# -- the same answer however the video is split ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "cut_at"),
    [
        pytest.param("testvideo.mp4", 180, id="testvideo/content"),
        pytest.param("goldeneye-vfr-drop3.mp4", 60, id="vfr/content"),
        pytest.param("fades.mp4", 84, id="fades/fade"),
    ],
)
def test_windows_do_not_change_the_cuts(name, cut_at):
    """One window, 2 s streamed windows, and seeking windows one of which starts right on a
    cut (and one on the frame after it) find the same cuts and fades."""
    full = whole(name)
    reference = scan_windows([full])
    assert reference != ([], [])
    streamed = list(iter_windows(media(name), 2.0, CFG.decode_config()))
    assert scan_windows(streamed) == reference
    on_cut = float(full.times[cut_at])
    after_cut = float(full.times[cut_at + 1])
    bounds = [0.0, 1.3, on_cut, after_cut, on_cut + 2.0, on_cut + 4.0]
    seeking = [
        decode_window(media(name), a, b, CFG.decode_config())
        for a, b in zip(bounds, [*bounds[1:], None], strict=True)
    ]
    assert scan_windows(seeking) == reference
    for workers, window_s in [(1, 100.0), (3, 0.5)]:
        cfg = ScenesConfig(workers=workers, window_s=window_s, chunk_s=0.3)
        scenes = detect_scenes(media(name), cfg)
        assert [s.start_frame for s in scenes if s.kind == "cut"] == reference[0]
        assert [s.start_frame for s in scenes if s.kind == "fade"] == reference[1]


def test_a_merge_that_spans_windows_ends_the_same():
    """Cuts closer than min_scene_len are merged; the merge is decided frames after it starts,
    possibly in a later window. Every one-frame split gives the single-window answer."""
    rng = np.random.default_rng(7)
    scores = np.where(rng.random(400) < 0.12, 40.0, 1.0)
    scores[0] = 0.0
    reference = _scan_scores([scores])
    assert len(reference) >= 5
    for cut in range(1, 400, 7):
        assert _scan_scores([scores[:cut], scores[cut:]]) == reference


# -- PySceneDetect itself, in this process ---------------------------------------------------


def test_same_cuts_as_pyscenedetect_content_detector():
    scenedetect = pytest.importorskip("scenedetect")
    path = media("testvideo.mp4")
    theirs = scenedetect.detect(str(path), scenedetect.ContentDetector())
    ours = detect_scenes(path, ScenesConfig(fades=False))
    assert [start.frame_num for start, _ in theirs[1:]] == [s.start_frame for s in ours[1:]]


def test_scores_follow_pyscenedetects():
    """Same score definition; pixels differ only by PySceneDetect's full-size RGB conversion
    before its resize, so scores agree closely frame by frame."""
    scenedetect = pytest.importorskip("scenedetect")
    path = media("testvideo.mp4")
    manager = scenedetect.SceneManager(scenedetect.StatsManager())
    manager.add_detector(scenedetect.ContentDetector())
    manager.detect_scenes(scenedetect.open_video(str(path), backend="pyav"))
    stats = manager.stats_manager
    theirs = np.array([stats.get_metrics(i, ["content_val"])[0] or 0.0 for i in range(720)])
    ours = scan(whole("testvideo.mp4").frames, ScanState(), CFG).scores
    diff = np.abs(ours - theirs)
    assert np.median(diff) < 0.1
    assert np.mean(diff) < 0.25
    assert np.corrcoef(ours, theirs)[0, 1] > 0.995


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_flash_filter_is_pyscenedetects(seed):
    """The MERGE filter replayed over above-threshold frames only equals PySceneDetect's
    frame-by-frame FlashFilter, on random score sequences split into random windows."""
    detector = pytest.importorskip("scenedetect.detector")
    common = pytest.importorskip("scenedetect.common")
    rng = np.random.default_rng(seed)
    scores = np.where(rng.random(600) < rng.uniform(0.02, 0.3), 30.0, 0.5)
    scores[0] = 0.0
    flt = detector.FlashFilter(detector.FlashFilter.Mode.MERGE, CFG.min_scene_len)
    theirs = []
    for i, s in enumerate(scores):
        tc = common.FrameTimecode(i, fps=30.0)
        theirs += [c.frame_num for c in flt.filter(tc, bool(s >= CFG.threshold))]
    splits = np.sort(rng.choice(np.arange(1, 600), size=9, replace=False))
    assert _scan_scores(np.split(scores, splits)) == theirs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fade_state_machine_is_threshold_detectors(seed):
    scenedetect = pytest.importorskip("scenedetect")
    common = pytest.importorskip("scenedetect.common")
    rng = np.random.default_rng(seed)
    runs = rng.integers(1, 40, 40)
    levels = np.repeat(np.resize([100, 5], runs.size), runs).astype(np.uint8)
    levels = np.roll(levels, int(rng.integers(0, 40)))
    detector = scenedetect.ThresholdDetector()
    theirs = []
    for i, v in enumerate(levels):
        img = np.full((1, 1, 3), v, np.uint8)
        theirs += [c.frame_num for c in detector.process_frame(common.FrameTimecode(i, 30.0), img)]
    splits = np.sort(rng.choice(np.arange(1, levels.size), size=6, replace=False))
    state, ours = ScanState(), []
    for part in np.split(levels.astype(np.float64), splits):
        res = scan_features(_features(np.zeros(part.size), part), state, CFG)
        state, ours = res.state, ours + list(res.fades)
    assert len(theirs) >= 3
    assert ours == theirs


def _features(scores: np.ndarray, brightness: np.ndarray) -> Features:
    planes = np.zeros((3, 4), np.uint8)
    return Features(scores, brightness, planes, planes)


def _scan_scores(parts: list[np.ndarray]) -> list[int]:
    state, cuts = ScanState(), []
    for part in parts:
        res = scan_features(_features(part, np.full(part.size, 128.0)), state, CFG)
        state, cuts = res.state, cuts + list(res.cuts)
    return cuts


# -- scenes tile the video -------------------------------------------------------------------


def assert_tiles(scenes: list[Scene], n_frames: int, duration: float) -> None:
    assert scenes[0].start == 0.0
    assert scenes[0].start_frame == 0
    assert scenes[0].kind == "start"
    assert scenes[-1].end == duration
    assert scenes[-1].end_frame == n_frames
    for a, b in itertools.pairwise(scenes):
        assert a.end == b.start
        assert a.end_frame == b.start_frame
        assert b.kind in {"cut", "fade"}
    assert all(s.start < s.end and s.start_frame < s.end_frame for s in scenes)


@pytest.mark.parametrize("name", VIDEOS, ids=[v.split(".")[0] for v in VIDEOS])
def test_scenes_cover_the_whole_video(name):
    info = probe(media(name))
    assert_tiles(scenes_of(name), len(whole(name)), info.duration)
    cfg = ScenesConfig(fades=False)  # without a duration: the container's, read by PyAV
    assert_tiles(detect_scenes(media(name), cfg), len(whole(name)), duration_of(media(name)))


@pytest.mark.parametrize("seed", range(20))
def test_scenes_from_cuts_tile_for_any_cuts(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    times = np.cumsum(rng.uniform(0.01, 0.1, n)) - 0.01
    cuts = rng.integers(-5, n + 5, int(rng.integers(0, 12))).tolist()
    fades = rng.integers(-5, n + 5, int(rng.integers(0, 6))).tolist()
    duration = float(times[-1]) + 0.05
    scenes = scenes_from_cuts(cuts, fades, n, times, duration=duration, min_scene_len=15)
    assert_tiles(scenes, n, duration)
    assert {s.start_frame for s in scenes if s.kind == "cut"} == {c for c in cuts if 0 < c < n}
    for s in scenes:
        if s.kind == "fade":
            assert all(abs(s.start_frame - c) >= 15 for c in cuts)


def test_scenes_from_cuts_at_a_constant_rate():
    scenes = scenes_from_cuts([30, 180], [100, 185], 300, 30.0, min_scene_len=15)
    assert [(s.start_frame, s.kind) for s in scenes] == [
        (0, "start"),
        (30, "cut"),
        (100, "fade"),
        (180, "cut"),
    ]  # the fade 5 frames after the cut at 180 is that cut
    assert [s.start for s in scenes] == pytest.approx([0.0, 1.0, 10 / 3, 6.0])
    assert scenes[-1].end == pytest.approx(10.0)
    assert scenes_from_cuts([], [], 0, 30.0) == []
    assert len(scenes_from_cuts([0, 300], [], 300, 30.0)) == 1
    with pytest.raises(ValueError, match="shape"):
        scenes_from_cuts([], [], 3, np.zeros(2))


def test_window_s_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        next(iter_windows(media("counter.mp4"), 0.0))


def test_defaults_are_pyscenedetects():
    scenedetect = pytest.importorskip("scenedetect")
    content = inspect.signature(scenedetect.ContentDetector).parameters
    fade = inspect.signature(scenedetect.ThresholdDetector).parameters
    assert CFG.threshold == content["threshold"].default
    assert CFG.min_scene_len == content["min_scene_len"].default
    assert CFG.weights == tuple(scenedetect.ContentDetector.DEFAULT_COMPONENT_WEIGHTS)[:3]
    assert CFG.fade_threshold == fade["threshold"].default
