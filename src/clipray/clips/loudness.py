"""Every rendered clip at the target loudness (-14 LUFS integrated), measured, not assumed.

loudnorm's two-pass linear mode was not enough: where the gain the clip needs would push
its true peak over the ceiling, or its loudness range is wide (long pauses, a quiet and a
loud speaker), loudnorm silently falls back to its dynamic mode, which misses the target on
short clips (-15.8 and -19.7 LUFS measured on 15-30 s clips of phone-band speech and of
speech with clicks). Here the clip's audio is normalised in steps that can be checked:

1. the span's audio is decoded once, at the output's rate and channel layout, so that the
   measured and the normalised audio are the same samples (not two seeks of the source);
2. its integrated loudness and true peak are measured (FFmpeg's ``ebur128``, BS.1770);
3. a plain gain brings it to the target when the peak allows; otherwise the gain goes
   through a true-peak limiter (4x oversampled) and is raised until the limited audio
   measures on target, limiting peaks by at most ``max_limiting_db``;
4. after the AAC encode, :func:`measure` checks the clip itself; ``render_clip`` corrects
   the gain once more when the clip is more than half ``tolerance_lu`` off and the target
   was within reach.

Where the target cannot be reached without clipping (digital silence, near silence with
loud clicks), the clip keeps the loudest level reachable and :class:`Normalised` says so;
the result is stored with the clip's render spec.

    >>> norm = normalise("ffmpeg", raw_wav, work / "norm.wav", LoudnessConfig())  # doctest: +SKIP
    >>> norm.reached, norm.output_i                                               # doctest: +SKIP
    (True, -14.02)
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clipray.media.ffmpeg import FfmpegError, check, run

SILENT_LUFS = -70.0
"""BS.1770's absolute gate: audio whose every block is below it measures as this value, and
no gain gives it a loudness."""
OVERSAMPLE_HZ = 96_000
"""The limiter runs at 2x 48 kHz so that it sees most of the inter-sample (true) peaks; 4x
doubled the time of a limiting pass for no measured difference under the margin below."""
_LIMIT_MARGIN_DB = 0.2
"""The limiter's threshold sits this far under the true-peak ceiling: what 2x oversampling
and resampling back to 48 kHz can add."""
_MAX_STEPS = 6
"""Gain corrections tried with the limiter on; it converges in two or three."""


class LoudnessError(FfmpegError):
    """FFmpeg could not measure or normalise the audio; the message ends with its log."""

    code = "LOUDNESS_FAILED"


@dataclass(frozen=True)
class LoudnessConfig:
    integrated: float = -14.0
    """Target integrated loudness, LUFS (what the short-video platforms normalise to)."""
    true_peak: float = -1.5
    """Ceiling in dBTP: leaves headroom for the platforms' lossy re-encode."""
    lra: float = 11.0
    """Target loudness range, LU (kept for stored specs; a clip's range is not compressed)."""
    tolerance_lu: float = 1.0
    """The promise: every clip within this of the target. The normalised audio aims at a
    quarter of it, and an encoded clip more than half of it off gets its gain corrected."""
    max_limiting_db: float = 12.0
    """The most the limiter may pull peaks down. Speech needs up to about 8 dB to reach
    -14 LUFS under a -1.5 dBTP ceiling; beyond 12 dB the limiter audibly flattens the sound,
    so such a clip stays quieter than the target and its record says so."""


@dataclass(frozen=True)
class Measured:
    integrated: float
    """LUFS; ``SILENT_LUFS`` when every block is gated out."""
    true_peak: float
    """dBTP (-inf for digital silence)."""

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENT_LUFS


@dataclass(frozen=True)
class Normalised:
    """How a clip's audio was brought to the target; stored with the clip."""

    target: float
    input_i: float
    input_tp: float
    gain_db: float
    limited: bool
    """A true-peak limiter was needed after the gain."""
    output_i: float
    output_tp: float
    reached: bool
    """``output_i`` is on target: within half the tolerance for the normalised audio,
    within the tolerance for the encoded clip."""
    note: str | None = None
    """Why the target was not reached, for people."""

    def to_json(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def _finite(v: Any) -> Any:
    """JSON has no infinities: a silent peak is stored as None."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _run(args: list[str], what: str) -> str:
    return check(run(args), what, LoudnessError).stderr


def parse_ebur128(log: str) -> Measured:
    """Integrated loudness and true peak from the summary ``ebur128`` prints at the end."""
    at = log.rfind("Summary:")
    summary = log[at:] if at >= 0 else ""
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    if i is None:
        raise LoudnessError(f"ebur128 printed no summary: {log[-400:]}")
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    tp = float(peak.group(1)) if peak else -math.inf
    return Measured(max(float(i.group(1)), SILENT_LUFS), tp)


def measure(ffmpeg: str, path: Path | str, stream: str = "0:a:0") -> Measured:
    """BS.1770 integrated loudness and true peak of the whole of ``path``'s audio stream."""
    log = _run([ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-map", stream,
                "-af", "ebur128=peak=true", "-f", "null", "-"], "loudness measurement")  # fmt: skip
    return parse_ebur128(log)


def extract(ffmpeg: str, source: str, start: float, duration: float, out: Path) -> Path:
    """The span's first audio stream as 48 kHz stereo float WAV: the clip's layout, so that
    what is measured is what is encoded (an upmixed mono source is 3 LU louder)."""
    _run([ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y",
          "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", "0:a:0",
          "-af", "aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo",
          "-c:a", "pcm_f32le", str(out)], "audio extraction")  # fmt: skip
    return out


def gain_filter(gain_db: float, limit_dbtp: float | None) -> str:
    """The FFmpeg filter chain: a gain, then (when given) a true-peak limiter at
    ``limit_dbtp``, oversampled and delay-compensated so the audio stays in sync."""
    chain = f"volume={gain_db:.3f}dB"
    if limit_dbtp is not None:
        limit = min(max(10 ** (limit_dbtp / 20), 0.0625), 1.0)
        chain += (f",aresample={OVERSAMPLE_HZ},alimiter=limit={limit:.6f}:attack=1:"
                  "release=60:level=false:latency=true,aresample=48000")  # fmt: skip
    return chain


def apply(ffmpeg: str, wav: Path, gain_db: float, limit_dbtp: float | None, out: Path) -> Measured:
    """``wav`` with the gain (and limiter) applied, written to ``out``; returns its measure,
    taken in the same run (``ebur128`` passes the audio through)."""
    log = _run([ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-y", "-i", str(wav),
                "-af", f"{gain_filter(gain_db, limit_dbtp)},ebur128=peak=true",
                "-c:a", "pcm_f32le", str(out)], "loudness normalisation")  # fmt: skip
    return parse_ebur128(log)


def normalise(ffmpeg: str, wav: Path, out: Path, cfg: LoudnessConfig,
              nudge_db: float = 0.0) -> Normalised:  # fmt: skip
    """Bring ``wav`` (the clip's audio) to ``cfg.integrated`` into ``out``.

    ``nudge_db`` shifts the aim, for the correction after the encode: the codec moved the
    loudness by ``-nudge_db``.
    """
    before = measure(ffmpeg, wav)
    if before.silent:
        apply(ffmpeg, wav, 0.0, None, out)
        note = "silent: no gain gives audio below the BS.1770 gate a loudness"
        return Normalised(cfg.integrated, before.integrated, before.true_peak, 0.0, False,
                          before.integrated, before.true_peak, False, note)  # fmt: skip
    aim = cfg.integrated + nudge_db
    gain = aim - before.integrated
    if before.true_peak + gain <= cfg.true_peak:  # a plain gain: exact, nothing else changes
        after = apply(ffmpeg, wav, gain, None, out)
        return _result(cfg, before, gain, False, after, aim)
    # The peak would pass the ceiling: limit it, raising the gain until the limited audio is
    # on target, within what the limiter may take off the peaks. Limiting is not monotonic
    # (a limiter that pumps on clicks can make louder input measure quieter), so the try
    # closest to the target is the one kept.
    limit = cfg.true_peak - _LIMIT_MARGIN_DB
    most = cfg.true_peak + cfg.max_limiting_db - before.true_peak
    gain = min(gain, most)
    tries = [(gain, apply(ffmpeg, wav, gain, limit, out))]
    for _ in range(_MAX_STEPS):
        after = tries[-1][1]
        if abs(after.integrated - aim) <= cfg.tolerance_lu / 4 or gain >= most:
            break
        gain = min(gain + (aim - after.integrated), most)
        tries.append((gain, apply(ffmpeg, wav, gain, limit, out)))
    gain, after = min(tries, key=lambda t: abs(t[1].integrated - aim))
    if gain != tries[-1][0]:
        apply(ffmpeg, wav, gain, limit, out)
    return _result(cfg, before, gain, True, after, aim)


def _result(cfg: LoudnessConfig, before: Measured, gain: float, limited: bool,
            after: Measured, aim: float) -> Normalised:  # fmt: skip
    reached = abs(after.integrated - aim) <= cfg.tolerance_lu / 2
    note = None
    if not reached:
        note = (f"peak-limited: reaching {cfg.integrated:g} LUFS would take more than "
                f"{cfg.max_limiting_db:g} dB of peak limiting under the {cfg.true_peak:g} "
                "dBTP ceiling (clipping); the clip is as loud as the ceiling allows")  # fmt: skip
    return Normalised(cfg.integrated, before.integrated, before.true_peak, round(gain, 3),
                      limited, after.integrated, after.true_peak, reached, note)  # fmt: skip
