"""Choosing a clip's thumbnail candidates and setting its title over them.

The pure choice is checked on synthetic pictures (unit) and on real footage decoded with
FFmpeg, sharp against the same frames blurred (integration); the titled JPEGs of a real
clip are checked by their pixels."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipray.clips.effects.graph import BaseCut
from clipray.clips.thumb_render import titled_thumbnails
from clipray.clips.thumbs import (
    FaceAt,
    Frame,
    ThumbConfig,
    best_face_at,
    candidate_name,
    choose,
    faces_in,
    faces_json,
    faces_of,
    grey,
    sharpness,
    signature,
    titled,
)
from clipray.schemas import FaceBox, Track

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"
SCENES = MEDIA / "scene_cuts" / "pyscenedetect" / "testvideo.mp4"  # 24 s, cuts at 1.0/6.0/13.1 s
HEAD = MEDIA / "talking_head" / "sadtalker_hdtf" / "WDA_KatieHill_000.mp4"  # 8 s, 512x512


def _decode(path: Path, every_s: float, vf: str = "") -> list[Frame]:
    """Frames of ``path`` every ``every_s`` seconds, 320x180 RGB, with their times."""
    w, h = 320, 180
    chain = f"fps={1 / every_s},scale={w}:{h}" + (f",{vf}" if vf else "")
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-an", "-vf", chain,
         "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    pics = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    return [Frame(k * every_s, p) for k, p in enumerate(pics)]


def _checker(t: float, cell: int, shift: int = 0) -> Frame:
    y, x = np.mgrid[0:90, 0:160]
    pic = (((x + shift) // cell + y // cell) % 2 * 255).astype(np.uint8)
    return Frame(t, np.repeat(pic[..., None], 3, axis=2))


def _box_blur(rgb: np.ndarray, k: int = 5) -> np.ndarray:
    g = rgb.astype(np.float64)
    out = sum(np.roll(np.roll(g, dy, 0), dx, 1) for dy in range(k) for dx in range(k))
    return (out / (k * k)).astype(np.uint8)


# --- pure: synthetic pictures -------------------------------------------------------------
@pytest.mark.unit
def test_sharpness_falls_with_blur_and_is_zero_on_a_flat_frame():
    sharp = _checker(0.0, 4).rgb
    assert sharpness(grey(sharp)) > 10 * sharpness(grey(_box_blur(sharp)))
    assert sharpness(grey(np.full((20, 20, 3), 128, np.uint8))) == 0.0


@pytest.mark.unit
def test_the_sharp_frames_win_and_picks_are_apart_in_time():
    frames = [_checker(t * 0.5, 4, shift=t) for t in range(12)]
    blurred = [Frame(f.t, _box_blur(f.rgb)) if k % 2 else f for k, f in enumerate(frames)]
    picks = choose(blurred, (), ThumbConfig(min_diff=0.0))
    assert len(picks) == 3
    assert all(k % 2 == 0 for k in picks), "a blurred frame was picked over a sharp one"
    times = sorted(blurred[k].t for k in picks)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0


@pytest.mark.unit
def test_a_face_outweighs_a_little_sharpness():
    frames = [_checker(float(t), 4) for t in range(6)]
    frames[4] = Frame(4.0, (frames[4].rgb * 0.8).astype(np.uint8))  # a little softer
    faces = [FaceAt(4.0, area=0.25, score=0.95)]
    assert choose(frames, faces, ThumbConfig(min_diff=0.0))[0] == 4
    assert choose(frames, (), ThumbConfig(min_diff=0.0))[0] != 4


@pytest.mark.unit
def test_look_alikes_are_skipped_while_different_frames_remain():
    same = [_checker(float(t), 4) for t in range(4)]
    other = [_checker(4.0 + t, 12) for t in range(2)]
    frames = same + other
    picks = choose(frames, (), ThumbConfig())
    sigs = [signature(grey(frames[k].rgb)) for k in picks]
    assert len(picks) == 3
    assert any(k >= 4 for k in picks)
    assert float(np.abs(sigs[0] - sigs[1]).mean()) >= ThumbConfig().min_diff
    # too few different frames: the look is relaxed, still three picks, still deterministic
    assert picks == choose(list(frames), (), ThumbConfig())
    assert len(choose(same, (), ThumbConfig())) == 3


@pytest.mark.unit
def test_faces_in_moves_detections_to_the_clip_timeline_and_drops_cut_ones():
    seen = (9.0, 10.5, 12.5, 21.0)
    track = Track(1, tuple(FaceBox(t, (0.0, 0.0, 50.0, 100.0), 0.9) for t in seen))
    faces = faces_in([track], 10.0, 20.0, (100, 100))
    assert [f.t for f in faces] == [0.5, 2.5]
    assert faces[0].area == pytest.approx(0.5)
    cut = BaseCut(keep=((0.0, 1.0), (3.0, 10.0)))
    assert [f.t for f in faces_in([track], 10.0, 20.0, (100, 100), cut.map_time)] == [0.5]


@pytest.mark.unit
def test_faces_survive_the_stored_plan_and_the_best_face_marks_the_preview_frame():
    track = Track(1, (FaceBox(11.0, (0, 0, 10, 10), 0.6), FaceBox(13.0, (0, 0, 10, 10), 0.9)))
    faces = faces_in([track], 10.0, 20.0, (100, 100))
    assert faces_of(json.loads(json.dumps(faces_json(faces)))) == faces
    assert best_face_at([track], 10.0, 20.0) == pytest.approx(3.0)
    assert best_face_at([], 10.0, 20.0) == pytest.approx(5.0)


@pytest.mark.unit
@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (200, 120)], ids=str)
def test_a_title_is_drawn_inside_the_frame_and_leaves_the_top_alone(size):
    w, h = size
    base = np.full((h, w, 3), 90, np.uint8)
    title = "A very long title that has to wrap over several lines to fit on a narrow frame"
    out = np.asarray(titled(base, title))
    assert out.shape == base.shape
    changed = np.abs(out.astype(int) - base).sum(axis=2) > 30
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.size
    assert rows.min() > h // 3
    assert rows.max() < h
    assert (out[changed] > 200).all(axis=1).sum() > 50, "no white title pixels"
    assert (np.asarray(titled(base, "   ")) == base).all()


# --- real footage decoded with FFmpeg -----------------------------------------------------
@pytest.mark.integration
def test_real_frames_blurred_score_lower_and_are_never_picked():
    sharp = _decode(SCENES, 1.0)
    soft = _decode(SCENES, 1.0, "gblur=sigma=4")
    assert len(sharp) == len(soft) >= 20
    lower = sum(sharpness(grey(b.rgb)) < sharpness(grey(a.rgb))
                for a, b in zip(sharp, soft, strict=True))
    assert lower >= 0.95 * len(sharp)
    mixed = [Frame(f.t, (soft if k % 2 else sharp)[k].rgb) for k, f in enumerate(sharp)]
    picks = choose(mixed)
    assert len(picks) == 3
    assert all(k % 2 == 0 for k in picks)
    times = sorted(mixed[k].t for k in picks)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0


@pytest.mark.integration
def test_real_picks_are_varied_across_the_scenes():
    frames = _decode(SCENES, 0.5)
    picks = choose(frames)
    sigs = [signature(grey(frames[k].rgb)) for k in picks]
    diffs = [float(np.abs(sigs[a] - sigs[b]).mean()) for a in range(3) for b in range(a + 1, 3)]
    assert min(diffs) >= ThumbConfig().min_diff
    assert picks == choose(_decode(SCENES, 0.5)), "the same frames gave other picks"


@pytest.mark.integration
def test_titled_thumbnails_of_a_real_clip(tmp_path):
    title = "Katie Hill on what comes next for the district"
    faces = [FaceAt(t, 0.3, 0.9) for t in (1.0, 3.0, 5.0, 7.0)]
    paths = titled_thumbnails("ffmpeg", HEAD, 8.0, title, faces, tmp_path)
    assert [p.name for p in paths] == [candidate_name(n) for n in range(3)]
    pics = []
    for p in paths:
        with Image.open(p) as img:
            assert (img.format, img.size) == ("JPEG", (512, 512))
            pics.append(np.asarray(img.convert("RGB")).astype(int))
    assert len({p.read_bytes() for p in paths}) == 3
    # the title band: each candidate differs from its untitled frame there, not above it
    raw = np.asarray(Image.open(tmp_path / "thumb-raw-0.jpg").convert("RGB")).astype(int)
    diff = np.abs(pics[0] - raw).sum(axis=2)
    assert diff[300:].mean() > 40
    assert diff[:200].mean() < 3
