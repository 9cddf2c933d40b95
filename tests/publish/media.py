"""The clip the adapter tests post: a real 20 MB H.264 MP4 made with FFmpeg from the shared
test video (constant bitrate with filler, so its size is known), made once per test session
in pytest's temporary directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clipray.publish.base import ClipUpload, PostMetadata

SOURCE = Path(__file__).resolve().parents[3] / "shared/media/scene_cuts/pyscenedetect/testvideo.mp4"
MIN_BYTES = 20_000_000


def _source() -> Path:
    for candidate in (SOURCE, Path("/work/shared/media/scene_cuts/pyscenedetect/testvideo.mp4")):
        if candidate.exists():
            return candidate
    pytest.skip("the shared test media are not here")


def make_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 7 s, 24 Mb/s MP4 (about 21 MB); made once, then reused by every adapter's tests."""
    out = tmp_path_factory.getbasetemp() / "publish-clip-20mb.mp4"
    if out.exists():
        return out
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    part = out.with_suffix(".part.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "2", "-i", str(_source()), "-t", "7",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "24M", "-minrate", "24M",
         "-maxrate", "24M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr", "-an", str(part)],
        check=True, timeout=300,
    )
    part.rename(out)
    assert out.stat().st_size >= MIN_BYTES
    return out


def upload_of(path: Path, meta: PostMetadata | None = None,
              media_url: str | None = None) -> ClipUpload:
    return ClipUpload(path=path, size=path.stat().st_size, content_type="video/mp4",
                      metadata=meta or PostMetadata(title="Launch day 🚀",
                                                    description="What we shipped.",
                                                    hashtags=("clipray", "launch")),
                      media_url=media_url, duration_s=7.0)
