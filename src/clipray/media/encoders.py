"""Which H.264 encoder a render uses: libx264 on the CPU, or NVENC on an NVIDIA GPU.

``CLIPRAY_RENDER_ENCODER`` says which:

* ``libx264`` always: the reproducible path (bit-exact flags and a fixed thread count give
  the same bytes for the same spec on the same machine);
* ``h264_nvenc`` always: a render where NVENC cannot encode fails with
  ``ENCODER_UNAVAILABLE`` naming why, never falls back silently (an operator who asked for
  the GPU wants to hear that it is not used);
* ``auto`` (the default): NVENC where this process can encode with it, else libx264.

Whether NVENC can encode is probed once per process and ffmpeg binary, in two steps,
because the first alone misleads: ``ffmpeg -encoders`` lists ``h264_nvenc`` wherever the
build has it compiled in (Debian's does), with or without a GPU; only a real encode (0.1 s
of a test pattern to ``-f null``, with the very arguments a render uses) shows that the
driver loads, the GPU has an encoder engine (an H100 has none) and the session opens. The
reason is kept: a render logs which encoder it chose and why, once.

    >>> video_args("libx264", 20, "veryfast")[:4]
    ['-c:v', 'libx264', '-preset', 'veryfast']
    >>> choose("auto").encoder                       # doctest: +SKIP
    'libx264'

Imports only the domain and ``media.ffmpeg``, as the rest of ``clipray.media``.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Literal

from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import run, tail

Mode = Literal["auto", "libx264", "h264_nvenc"]
MODES: tuple[str, ...] = ("auto", "libx264", "h264_nvenc")
X264 = "libx264"
NVENC = "h264_nvenc"

GOP = 250
"""Frames between keyframes, set on both encoders: x264's own default (250; setting it
changes none of its bytes), and NVENC's too, written out so the two cannot drift apart."""

NVENC_PRESET = "p5"
"""NVENC's speed/quality preset (p1 fastest .. p7 best): p5 with ``-tune hq`` is the
quality side of the range at a fraction of a GPU's encode capacity; ``RenderSpec.preset``
names x264 presets and does not apply."""

PROBE_TIMEOUT_S = 30.0
"""Longest the test encode may take: a cold driver loads in a second or two; a wedged one
must not hold a render."""

log = logging.getLogger(__name__)


class EncoderUnavailable(CodedError):
    """``h264_nvenc`` was asked for and cannot encode in this process: 503, not retryable
    (the same node fails the same way; the fix is the configuration or the node)."""

    code = "ENCODER_UNAVAILABLE"
    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(
            self.code,
            f"CLIPRAY_RENDER_ENCODER=h264_nvenc, but NVENC cannot encode here: {reason}; "
            "render on a node with an NVENC-capable NVIDIA GPU and driver "
            "(CLIPRAY_STAGES__RENDER__NUM_GPUS), or set CLIPRAY_RENDER_ENCODER to auto or libx264",
            detail={"encoder": NVENC, "reason": reason},
        )


@dataclass(frozen=True)
class Choice:
    """The encoder a render uses, and why (for the log and the bench)."""

    encoder: str
    """``libx264`` or ``h264_nvenc``."""
    reason: str


@dataclass(frozen=True)
class Probe:
    """Whether NVENC can encode in this process; ``reason`` says why not (or that it can)."""

    usable: bool
    reason: str


def nvenc_cq(crf: int) -> int:
    """NVENC's constant-quality target for our x264 CRF: the same number. Both are on the
    H.264 quantiser scale (0-51); NVENC at a given ``-cq`` has no macroblock tree, so it
    spends more bits than x264 at that CRF for about the same look (``bench/render.py
    --encoder`` prints both bitrates, which is how to tune this)."""
    return crf


def video_args(encoder: str, crf: int, preset: str) -> list[str]:
    """The video codec options of an encode with ``encoder``: profile high and a GOP of
    :data:`GOP` on both; the pixel format is the filter graph's (it ends in yuv420p).

    Raises:
        CodedError: ``ENCODER_INVALID`` for an encoder that is neither of the two.
    """
    if encoder == X264:
        return ["-c:v", X264, "-preset", preset, "-crf", str(crf), "-profile:v", "high",
                "-g", str(GOP)]  # fmt: skip
    if encoder == NVENC:
        return ["-c:v", NVENC, "-preset", NVENC_PRESET, "-tune", "hq", "-rc", "vbr",
                "-cq", str(nvenc_cq(crf)), "-b:v", "0", "-profile:v", "high",
                "-g", str(GOP)]  # fmt: skip
    raise CodedError("ENCODER_INVALID", f"encoder {encoder!r} is not one of {X264}, {NVENC}")


def nvenc_listed(encoders: str) -> bool:
    """Whether ``ffmpeg -encoders`` output lists ``h264_nvenc`` (its second column)."""
    return any(line.split()[1:2] == [NVENC] for line in encoders.splitlines())


def probe_args(ffmpeg: str = "ffmpeg") -> list[str]:
    """0.1 s of a 256x256 test pattern encoded by NVENC with a render's own options, to
    ``-f null``: what fails where the driver, the GPU or the options do not work."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-f", "lavfi",
            "-i", "testsrc2=s=256x256:r=30:d=0.1", "-vf", "format=yuv420p",
            *video_args(NVENC, 20, "veryfast"), "-f", "null", "-"]  # fmt: skip


@cache
def probe_nvenc(ffmpeg: str = "ffmpeg") -> Probe:
    """Whether NVENC can encode in this process, found once per ``ffmpeg`` binary.

    Raises:
        DependencyMissing: ``ffmpeg`` is missing (not cached: a later call probes again).
    """
    listed = run([ffmpeg, "-hide_banner", "-encoders"], timeout=PROBE_TIMEOUT_S)
    if listed.returncode != 0 or not nvenc_listed(listed.stdout or ""):
        return Probe(False, f"{ffmpeg} -encoders does not list {NVENC} (not compiled in)")
    try:
        proc = run(probe_args(ffmpeg), timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Probe(False, f"a 0.1 s {NVENC} test encode did not finish in "
                            f"{PROBE_TIMEOUT_S:g} s")  # fmt: skip
    if proc.returncode != 0:
        why = "; ".join(tail(proc.stderr or "", 400).splitlines()) or (
            f"exit status {proc.returncode}")  # one line: it goes into the log and errors
        return Probe(False, f"{NVENC} is compiled in but a 0.1 s test encode failed: {why}")
    return Probe(True, f"{NVENC} is listed and a 0.1 s test encode succeeded")


def choose(mode: str, ffmpeg: str = "ffmpeg") -> Choice:
    """The encoder for ``mode`` (``CLIPRAY_RENDER_ENCODER``) in this process.

    Raises:
        EncoderUnavailable: ``h264_nvenc`` asked for, and the probe failed.
        CodedError: ``ENCODER_INVALID`` for a mode that is none of :data:`MODES`.
    """
    if mode == X264:
        return Choice(X264, "CLIPRAY_RENDER_ENCODER=libx264")
    if mode not in MODES:
        raise CodedError("ENCODER_INVALID", f"encoder {mode!r} is not one of {', '.join(MODES)}")
    probe = probe_nvenc(ffmpeg)
    if mode == NVENC and not probe.usable:
        raise EncoderUnavailable(probe.reason)
    choice = Choice(NVENC, probe.reason) if probe.usable else Choice(X264, probe.reason)
    _log_once(mode, choice)
    return choice


@cache
def _log_once(mode: str, choice: Choice) -> None:
    log.info("render encoder (%s): %s, %s", mode, choice.encoder, choice.reason)
