"""A rendered clip's titled thumbnail candidates, written next to it with FFmpeg and Pillow.

Frames are sampled small (one FFmpeg run, a few a second) for the choice
(``clips/thumbs.py``), then each pick is taken again at full size, the title set over it
and saved as ``thumbnail.jpg``, ``thumbnail-1.jpg``, ``thumbnail-2.jpg``.

    >>> titled_thumbnails("ffmpeg", Path("clip.mp4"), 30.0, "Title", (), w)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from clipray.clips.render import RenderError, still
from clipray.clips.thumbs import FaceAt, Frame, ThumbConfig, candidate_name, choose, titled
from clipray.media.ffmpeg import run_ffmpeg

SAMPLES = 24
"""Frames looked at per clip: enough to find three sharp, different ones in a minute of
video, few enough that sampling costs a fraction of the encode."""
SAMPLE_WIDTH = 320
"""Pixels across a sampled frame: sharpness and likeness compare at this size."""
JPEG_QUALITY = 90


def sample_frames(ffmpeg: str, video: Path, length: float, workdir: Path,
                  count: int = SAMPLES, offset: float = 0.0) -> list[Frame]:  # fmt: skip
    """About ``count`` frames spread over ``length`` seconds of ``video`` from ``offset``,
    small, with their times from there (the fps filter's frame ``k`` is at ``k / rate``)."""
    rate = max(count / max(length, 1e-3), 0.1)
    out = workdir / "thumb-samples"
    out.mkdir(parents=True, exist_ok=True)
    seek = ["-ss", f"{offset:.3f}"] if offset > 0 else []
    run_ffmpeg(["-y", *seek, "-i", str(video), "-an",
                "-vf", f"fps={rate:.6f},scale={SAMPLE_WIDTH}:-2", "-frames:v", str(count),
                str(out / "s-%03d.bmp")],
               ffmpeg=ffmpeg, what="thumbnail sampling", error=RenderError)  # fmt: skip
    frames = []
    for k, path in enumerate(sorted(out.glob("s-*.bmp"))):
        with Image.open(path) as img:
            frames.append(Frame(k / rate, np.asarray(img.convert("RGB"))))
    if not frames:
        raise RenderError(f"thumbnail sampling failed: ffmpeg wrote no frame of {video.name}")
    return frames


def titled_thumbnails(ffmpeg: str, video: Path, length: float, title: str,
                      faces: Sequence[FaceAt], workdir: Path,
                      cfg: ThumbConfig | None = None,
                      offset: float = 0.0) -> list[Path]:  # fmt: skip
    """Choose the clip's thumbnail frames, set ``title`` over each at full size and save
    them in ``workdir``; candidate 0 (the best) is ``thumbnail.jpg``. ``offset``: where the
    clip starts in ``video`` (after a brand kit's intro)."""
    frames = sample_frames(ffmpeg, video, length, workdir, offset=offset)
    paths = []
    for n, i in enumerate(choose(frames, faces, cfg)):
        raw = still(ffmpeg, str(video), offset + min(frames[i].t, max(length - 0.1, 0.0)),
                    workdir / f"thumb-raw-{n}.jpg")  # fmt: skip
        with Image.open(raw) as img:
            pic = np.asarray(img.convert("RGB"))
        out = workdir / candidate_name(n)
        titled(pic, title).save(out, "JPEG", quality=JPEG_QUALITY)
        paths.append(out)
    return paths
