"""Live clips follow the speaker's face: a stream whose talking head sits on the left of a
wide frame, cut from a real ring buffer, rendered 9:16 through ``assemble`` with the VOD face
detector (in process, one frame a second). The check is on pixels: each sampled frame of
the stored clip is found in the source frame by matching (which crop window it shows), and
the face box found on the source frame lies inside that window; the same window rendered
without a detector (centred) leaves the face out, so the check can fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipray.live import ClipWindow
from clipray.media.ffmpeg import check, run, run_ffmpeg
from clipray.services import streams
from clipray.services.stream_clips import StreamTarget, assemble, render_window
from clipray.services.stream_faces import local_detector, window_tracks
from clipray.storage.db import Database
from clipray.storage.orm import Workspace
from clipray.streams.ring import RingBuffer
from tests.streams.conftest import TALK, fill, segment_file

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

W, H, HEAD = 640, 360, 256
"""The source: 640x360 with the 256 px talking head at its left edge (the face's centre
near x=128, in the left third); a centred 9:16 crop (202 px wide) spans x=219..421."""
CROP_W = round(H * 9 / 16 / 2) * 2
START, END = 2.0, 8.0


@pytest.fixture(scope="module")
def off_centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("off-centre") / "left.mp4"
    run_ffmpeg(["-stream_loop", "1", "-i", TALK, "-t", "10",
                "-vf", f"scale={HEAD}:{HEAD},pad={W}:{H}:0:{(H - HEAD) // 2}:color=0x203040",
                "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "64k", "-ar", "48000", out],
               what="off-centre talking head", timeout=300)  # fmt: skip
    return out


@pytest.fixture
def face_settings(settings, buckets, tmp_path):
    from clipray.storage import migrate

    url = f"sqlite:///{tmp_path / 'faces.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={
        "database_url": url, "warm_models": False, "url_allow_private": True,
        "url_allowed_domains": ("127.0.0.1",)})  # fmt: skip


def frame_at(path: Path, t: float, size: tuple[int, int]) -> np.ndarray:
    """The frame shown at ``t`` s of ``path``, scaled to ``size`` (w, h), RGB as int."""
    w, h = size
    proc = check(run(["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{t:.3f}", "-i", path,
                      "-frames:v", "1", "-vf", f"scale={w}:{h}:flags=area", "-pix_fmt",
                      "rgb24", "-f", "rawvideo", "-"], text=False), "frame")  # fmt: skip
    return np.frombuffer(proc.stdout, np.uint8).reshape(h, w, 3).astype(np.int32)


def shown_window(source: np.ndarray, clip: np.ndarray) -> tuple[int, float]:
    """Where in ``source`` the crop ``clip`` (already at crop size) was taken: the left edge
    with the least mean absolute difference, and that difference."""
    width = clip.shape[1]
    diffs = [float(np.abs(source[:, x:x + width] - clip).mean())
             for x in range(source.shape[1] - width + 1)]  # fmt: skip
    best = int(np.argmin(diffs))
    return best, diffs[best]


def face_in_source(detect, frame: np.ndarray, t: float) -> tuple[float, float, float, float]:
    [found] = detect(frame.astype(np.uint8)[None], np.array([t]))
    assert found, f"no face on the source frame at {t:g} s"
    return found[0].box


def test_a_live_clip_is_reframed_on_the_face(off_centre, face_settings, buckets, tmp_path):
    db = Database(face_settings.resolved_database_url)
    try:
        with db.session() as s:
            w = Workspace(slug="faces", name="faces")
            s.add(w)
            s.flush()
            ws = w.id
        ring = RingBuffer(tmp_path / "ring")
        fill(ring, segment_file(off_centre, tmp_path / "segs"))
        monitor = streams.create(face_settings, db, ws, None,
                                 "http://127.0.0.1:9/live.m3u8").monitor.id  # fmt: skip
        target = StreamTarget(monitor, ws, "9:16", "none")
        window = ClipWindow(f"{monitor}:faces", START, END, 0.5, ())
        detect = local_detector(face_settings)

        # The detector sees the face on the window at the live sample rate, left of centre.
        tracks = window_tracks(off_centre, W, H, START, END, detect, fps=1.0)
        assert len(tracks) == 1, tracks
        assert len(tracks[0].detections) >= 5, tracks
        centres = [(d.box[0] + d.box[2]) / 2 for d in tracks[0].detections]
        assert max(centres) < W / 3, centres

        made = assemble(face_settings, db, buckets, target, window, ring, detect=detect)
        assert made.created
        clip = buckets.generated.scoped(ws).download(made.storage_key, tmp_path / "clip.mp4")
        centred, _, _ = render_window(face_settings, target, window, ring,
                                      tmp_path / "centred")  # fmt: skip

        for t in (0.5, 2.5, 4.5):
            source = frame_at(off_centre, START + t, (W, H))
            box = face_in_source(detect, source, START + t)
            x, diff = shown_window(source, frame_at(clip, t, (CROP_W, H)))
            assert diff < 12, f"the clip's frame at {t:g} s is no crop of the source ({diff:.1f})"
            missed = f"at {t:g} s the crop x={x}..{x + CROP_W} misses the face {box}"
            assert x - 4 <= box[0], missed
            assert box[2] <= x + CROP_W + 4, missed
            cx, cdiff = shown_window(source, frame_at(centred, t, (CROP_W, H)))
            assert cdiff < 12, cdiff
            assert abs(cx - (W - CROP_W) / 2) <= 4, cx
            assert box[0] < cx, "the centred crop shows the face"
    finally:
        db.dispose()
