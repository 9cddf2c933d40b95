"""The one measure of a rendered clip's loudness that every render test asserts with.

FFmpeg's ``ebur128`` filter over the whole clip (BS.1770 integrated loudness, true peak),
run here and parsed here, so that a test does not trust clipray's own measurement of what
it normalised.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TARGET_LUFS = -14.0
"""What every clip promises, integrated over the whole clip."""
TOLERANCE_LU = 1.0


def ebur128(path: Path | str) -> tuple[float, float]:
    """``(integrated LUFS, true peak dBTP)`` of the first audio stream of ``path`` (a file
    or a URL FFmpeg reads)."""
    log = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    summary = log[log.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated is not None, log[-500:]
    assert peak is not None, log[-500:]
    return float(integrated.group(1)), float(peak.group(1))


def integrated_loudness(path: Path | str) -> float:
    return ebur128(path)[0]


def assert_on_target(path: Path | str) -> float:
    """The clip's integrated loudness, asserted within the promise; returns it."""
    measured = integrated_loudness(path)
    assert abs(measured - TARGET_LUFS) <= TOLERANCE_LU, f"{path}: {measured} LUFS"
    return measured
