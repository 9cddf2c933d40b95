"""A sample input made on the fly from what the machine has, for ``clipray demo``.

Speech from ``espeak-ng`` (a short talk with questions and exclamations, so that the ranker
has hooks to find) over generated scenes with hard cuts between them. Nothing is
downloaded; the result is deterministic for a given espeak-ng and FFmpeg.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from clipray.domain.errors import DependencyMissing
from clipray.media.ffmpeg import FfmpegError, run_ffmpeg, tail

TALK = (
    "Welcome to the clipray demo. Have you ever wondered how a long video becomes a short "
    "clip? It starts with listening. Every word is transcribed with its exact timing. "
    "Then the pictures are studied, frame by frame, to find where one shot ends and the next "
    "begins. Faces are tracked, so the vertical crop can follow the person who speaks. "
    "Why does that matter? Because a clip that cuts a sentence in half feels broken! "
    "So clipray only cuts between sentences, and it prefers the moments where a shot "
    "changes anyway. Loud moments, questions and surprises score higher. "
    "The best moments are rendered with captions, at the loudness the platforms expect. "
    "And every clip comes with an edit list, so an editor can rebuild it in seconds. "
    "That is the whole idea. Thanks for watching, and try it on your own videos!"
)
SCENES = ("testsrc2", "smptebars", "mandelbrot", "rgbtestsrc")


class DemoError(DependencyMissing):
    """A tool the demo needs (espeak-ng) is missing: 503 ``DEPENDENCY_MISSING`` with the fix.
    A missing ffmpeg raises the plain :class:`DependencyMissing` from
    :mod:`clipray.media.ffmpeg`."""


def make_demo_video(out: Path, ffmpeg: str = "ffmpeg", espeak: str = "espeak-ng") -> Path:
    """Write the demo video to ``out`` (640x360, 30 fps, speech) and return its path."""
    espeak_bin = shutil.which(espeak)
    if espeak_bin is None:
        raise DemoError("espeak-ng", "apt-get install -y espeak-ng")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clipray-demo-") as tmp:
        wav = Path(tmp) / "talk.wav"
        subprocess.run([espeak_bin, "-v", "en-us", "-s", "150", "-w", str(wav), TALK],
                       check=True, capture_output=True)  # fmt: skip
        probe = run_ffmpeg(["-i", str(wav), "-f", "null", "-"], ffmpeg=ffmpeg,
                           what="reading the speech", quiet=False).stderr  # fmt: skip
        duration = _duration(probe)
        shot = duration / len(SCENES)
        inputs: list[str] = []
        for name in SCENES:
            inputs += ["-f", "lavfi", "-t", f"{shot:.3f}", "-i", f"{name}=size=640x360:rate=30"]
        graph = "".join(f"[{i}:v]setsar=1[v{i}];" for i in range(len(SCENES)))
        graph += "".join(f"[v{i}]" for i in range(len(SCENES)))
        graph += f"concat=n={len(SCENES)}:v=1:a=0[v]"
        run_ffmpeg(
            ["-y", *inputs, "-i", str(wav),
             "-filter_complex", graph, "-map", "[v]", "-map", f"{len(SCENES)}:a",
             "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
             "-c:a", "aac", "-shortest", str(out)],
            ffmpeg=ffmpeg, what="the demo video's encode",
        )  # fmt: skip
    return out


def _duration(ffmpeg_log: str) -> float:
    for line in ffmpeg_log.splitlines():
        line = line.strip()
        if line.startswith("Duration:"):
            hh, mm, ss = line.split(",")[0].split()[1].split(":")
            return int(hh) * 3600 + int(mm) * 60 + float(ss)
    raise FfmpegError(f"cannot read the speech's duration: {tail(ffmpeg_log)}")
