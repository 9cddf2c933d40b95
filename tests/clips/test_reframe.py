"""Crop paths on synthetic face tracks: framing, stillness, cuts, bounds, layouts, ffmpeg."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from clipray.clips.reframe import CropPath, ReframeConfig, _expression, _pieces, crop_path
from clipray.schemas import FaceBox, Track

W, H = 1920, 1080
SAMPLE = 0.5  # the analysis samples faces at ~2 fps


def track(tid, times, centres, size=160.0, noise=0.0, seed=0):
    """A face track: boxes of ``size`` around ``centres(t) -> (cx, cy)``, plus pixel noise."""
    rng = np.random.default_rng(seed)
    dets = []
    for t in times:
        cx, cy = centres(t)
        cx, cy = cx + rng.normal(0, noise), cy + rng.normal(0, noise)
        box = [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]
        dets.append({"t": float(t), "box": box, "score": 0.9})
    return Track(tid, tuple(FaceBox(d["t"], tuple(d["box"]), d["score"]) for d in dets))


def samples(start, end):
    return np.arange(start, end + 1e-9, SAMPLE)


def still(x, y=400.0):
    return lambda t: (x, y)


def steps(path: CropPath, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-step time delta and crop movement (pixels, both axes)."""
    boxes = path.boxes if which == 0 else path.boxes2
    return np.diff(path.times), np.hypot(*np.diff(boxes[:, :2], axis=0).T)


def face_inside(path: CropPath, t: float, centre: tuple[float, float], which: int = 0) -> bool:
    x, y, w, h = path.at(t, which)
    return x <= centre[0] <= x + w and y <= centre[1] <= y + h


def assert_in_frame(path: CropPath, width: int = W, height: int = H) -> None:
    for boxes in (path.boxes, path.boxes2):
        if boxes is None:
            continue
        x, y, w, h = boxes.T
        assert np.all(np.stack([x, y]) >= 0)
        assert np.all(x + w <= width + 1e-6)
        assert np.all(y + h <= height + 1e-6)
        assert np.ptp(boxes[:, 2:], axis=0).tolist() == [0, 0], "the crop size never changes"
        assert (w[0] % 2, h[0] % 2) == (0, 0), "yuv420 needs even sizes"


# --- one face ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        pytest.param("9:16", (608, 1080), id="9:16/full-height"),
        pytest.param("1:1", (1080, 1080), id="1:1/full-height"),
        pytest.param("16:9", (1920, 1080), id="16:9/whole-frame"),
    ],
)
def test_crop_has_the_aspect_and_fits_the_frame(aspect, expected):
    def face(t):
        return (300 + 120 * t, 500)

    tracks = [track(1, samples(0, 10), face)]
    path = crop_path(W, H, 0.0, 10.0, tracks, [], ReframeConfig(aspect=aspect))
    out_w, out_h = path.output_size
    w, h = path.crop_size
    assert (w, h) == expected
    assert abs(w - h * out_w / out_h) <= 1.0, "the aspect is exact to a pixel"
    assert_in_frame(path)


def test_vertical_source_moves_the_crop_vertically():
    def face(t):
        return (540, 300 + 100 * t)

    tracks = [track(1, samples(0, 10), face)]
    path = crop_path(1080, 1920, 0.0, 10.0, tracks, [], ReframeConfig(aspect="16:9"))
    assert path.crop_size == (1080, 608)
    assert np.ptp(path.boxes[:, 1]) > 500
    assert np.ptp(path.boxes[:, 0]) == 0
    assert_in_frame(path, 1080, 1920)
    ts = np.linspace(0, 10, 201)
    assert np.mean([face_inside(path, t, face(t)) for t in ts]) >= 0.95


def test_face_stays_inside_the_crop_while_it_walks():
    def face(t):  # walks right, pauses, walks back: a speaker pacing the stage
        return (400 + 1100 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 16)), 450)

    tracks = [track(3, samples(90, 130), face, noise=6)]
    path = crop_path(W, H, 100.0, 120.0, tracks, [], ReframeConfig())
    ts = np.linspace(0, 20, 401)
    inside = [face_inside(path, t, face(100 + t)) for t in ts]
    assert np.mean(inside) >= 0.95
    assert path.layout == "track"
    assert_in_frame(path)


def test_a_still_face_gives_a_still_crop_despite_detector_jitter():
    tracks = [track(1, samples(0, 30), still(1200, 420), noise=5, seed=7)]
    cfg = ReframeConfig()
    path = crop_path(W, H, 2.0, 28.0, tracks, [], cfg)
    _, moved = steps(path)
    assert moved.mean() < 2.0
    assert moved.max() < 1.0, "noise inside the dead zone never moves the crop"
    assert face_inside(path, 13.0, (1200, 420))
    expr = path.to_ffmpeg_expr()
    assert "if(" not in expr, f"a still crop is one constant: {expr}"


def test_movement_is_bounded_by_max_speed_and_jumps_only_at_cuts():
    # Shot 1: face at the left; cut at 8 s; shot 2: another face far right, drifting left.
    a = track(1, samples(0, 7.9), still(300, 400), noise=4, seed=1)
    b = track(2, samples(8.0, 20), lambda t: (1650 - 40 * (t - 8), 400), noise=4, seed=2)
    cfg = ReframeConfig(max_speed=0.5)
    path = crop_path(W, H, 0.0, 16.0, [a, b], [8.0, 30.0], cfg)
    dt, moved = steps(path)
    cut = dt == 0
    assert cut.sum() == 1
    assert path.times[1:][cut][0] == pytest.approx(8.0)
    assert moved[cut][0] > 800, "the cut jumps straight to the new face"
    limit = cfg.max_speed * path.crop_size[0] * dt[~cut] + 1e-6
    assert np.all(moved[~cut] <= limit)
    assert face_inside(path, 7.5, (300, 400))
    assert face_inside(path, 8.0, (1650, 400))
    assert_in_frame(path)


def test_the_larger_longer_present_face_leads():
    big = track(1, samples(0, 10), still(1400, 400), size=220)
    small = track(2, samples(0, 10), still(300, 700), size=60)
    path = crop_path(W, H, 0.0, 10.0, [small, big], [], ReframeConfig())
    assert all(face_inside(path, t, (1400, 400)) for t in np.linspace(0, 10, 21))
    assert path.layout == "track", "a much smaller face is background, not a second speaker"


def test_no_face_is_a_centred_crop():
    elsewhere = track(1, samples(50, 60), still(500))
    path = crop_path(W, H, 0.0, 10.0, [elsewhere], [3.0], ReframeConfig())
    assert path.layout == "center"
    x, y, w, h = path.at(5.0)
    assert (x + w / 2, y + h / 2) == (W / 2, H / 2)
    assert path.to_ffmpeg_expr() == f"crop=w={w:.0f}:h={h:.0f}:x='656':y='0'"


# --- two faces ---------------------------------------------------------------------------
def test_wide_frames_both_faces_when_they_fit():
    left = track(1, samples(0, 10), still(700, 450), noise=3, seed=1)
    right = track(2, samples(0, 10), still(1000, 430), size=150, noise=3, seed=2)
    path = crop_path(W, H, 0.0, 10.0, [left, right], [], ReframeConfig(two_face_layout="wide"))
    assert path.layout == "wide"
    for t in np.linspace(0, 10, 41):
        x, _, w, _ = path.at(t)
        assert x <= 700 - 80, "the left face is whole"
        assert x + w >= 1000 + 75, "the right face is whole"


def test_wide_keeps_the_dominant_face_when_both_do_not_fit():
    left = track(1, samples(0, 10), still(300, 450), size=180)
    right = track(2, samples(0, 10), still(1600, 450), size=150)
    path = crop_path(W, H, 0.0, 10.0, [left, right], [], ReframeConfig(two_face_layout="wide"))
    assert path.layout == "track"
    assert all(face_inside(path, t, (300, 450)) for t in np.linspace(0, 10, 21))


def test_split_gives_one_crop_per_face_left_on_top():
    left = track(1, samples(0, 10), still(500, 450), noise=3, seed=1)
    right = track(2, samples(0, 10), still(1450, 420), size=170, noise=3, seed=2)
    path = crop_path(W, H, 0.0, 10.0, [right, left], [], ReframeConfig(two_face_layout="split"))
    assert path.layout == "split"
    assert path.boxes2 is not None
    w, h = path.crop_size
    assert abs(w - h * 1080 / 960) <= 1.0, "each half has the aspect of half the output"
    for t in np.linspace(0, 10, 21):
        assert face_inside(path, t, (500, 450), which=0)
        assert face_inside(path, t, (1450, 420), which=1)
        assert not face_inside(path, t, (1450, 420), which=0), "each half shows one person"
    assert_in_frame(path)


# --- ffmpeg expression ---------------------------------------------------------------------
def evaluate(expr: str, t: float) -> float:
    """Evaluate our subset of ffmpeg's expression language (if, lt, + - *) in Python."""
    env = {"iff": lambda c, a, b: a if c else b, "lt": lambda a, b: a < b, "t": t}
    return eval(expr.replace("if(", "iff("), {"__builtins__": {}}, env)  # noqa: S307


def test_expression_is_within_a_pixel_of_the_path_and_short():
    def face(t):
        return (500 + 900 * (0.5 - 0.5 * np.cos(np.pi * t / 10)), 450)

    tracks = [track(1, samples(0, 30), face, noise=4)]
    path = crop_path(W, H, 0.0, 30.0, tracks, [12.0], ReframeConfig())
    pieces = _pieces(path.times, path.boxes[:, 0], 1.0)
    expr = _expression(pieces)
    assert len(pieces) < len(path.times) / 3, "merging keeps the expression short"
    assert expr.count("if(") == len(pieces) - 1
    depth = max(expr[: i + 1].count("(") - expr[: i + 1].count(")") for i in range(len(expr)))
    assert depth <= 2 * np.ceil(np.log2(len(pieces))) + 2, "a balanced tree, not a chain"
    ts = np.linspace(0, 30, 1201)
    ts = ts[np.abs(ts - 12.0) > 1e-9]
    got = np.array([evaluate(expr, t) for t in ts])
    assert np.max(np.abs(got - path.at(ts)[:, 0])) < 1.05
    after_cut = path.boxes[np.searchsorted(path.times, 12.0, "right") - 1, 0]
    assert evaluate(expr, 12.0) == pytest.approx(after_cut, abs=1.05), "the new shot from the cut"


ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


@ffmpeg
@pytest.mark.parametrize("layout", [pytest.param("wide", id="one-crop"), "split"])
def test_ffmpeg_accepts_the_filter_and_outputs_the_clip_size(layout):
    a = track(1, samples(0, 2), lambda t: (300 + 150 * t, 300), size=100)
    b = track(2, samples(0, 2), still(1000, 320), size=100)
    cfg = ReframeConfig(two_face_layout=layout, fps=25)
    path = crop_path(1280, 720, 0.0, 2.0, [a, b], [1.0], cfg)
    assert path.layout == ("split" if layout == "split" else "track")
    assert len(path.times) > 4
    vf = path.to_ffmpeg_filter() if layout == "split" else path.to_ffmpeg_expr()
    if layout != "split":
        vf += ",scale=1080:1920"
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:duration=2:rate=25",
         "-vf", vf, "-pix_fmt", "gray", "-f", "framemd5", "-"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    frames = [line.split(",") for line in proc.stdout.splitlines() if not line.startswith("#")]
    assert len(frames) == 50
    assert {int(f[4]) for f in frames} == {1080 * 1920}
