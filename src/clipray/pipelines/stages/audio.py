"""Audio energy: an RMS curve on a fixed hop, and its peaks (laughs, shouts, applause).

The curve is computed per non-overlapping hop, so chunks that start on a hop boundary
concatenate to exactly the curve of the whole file: a 4-hour VOD streams through in
windows with no seam.

    >>> curve = rms_curve(audio, AudioConfig())          # doctest: +SKIP
    >>> peaks = find_peaks(curve, AudioConfig())         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16_000
    """Rate of the analysis audio (16 kHz mono, the same samples ASR sees)."""
    hop_s: float = 0.1
    """One RMS value per hop."""
    peak_min_distance_s: float = 2.0
    """Two peaks closer than this are one event; the louder one is kept."""
    peak_mad_k: float = 3.0
    """A peak stands at least this many median absolute deviations above the median..."""
    peak_min_ratio: float = 2.0
    """...and at least this many times the median (+6 dB), so steady noise has no peaks."""

    chunk_s: float = 60.0
    """ASR chunks are about this long: long enough for batching, short enough to spread."""
    chunk_search_s: float = 10.0
    """A chunk ends at the quietest hop of its last this-many seconds (a pause, not a word)."""

    @property
    def hop(self) -> int:
        return round(self.sample_rate * self.hop_s)


@dataclass(frozen=True)
class AudioPeak:
    t: float
    """Start of the loudest hop, seconds."""
    value: float
    """Its RMS (full scale = 1.0)."""


def rms_curve(audio: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """RMS of each hop of ``audio`` (float samples in [-1, 1]); a last partial hop counts."""
    samples = np.asarray(audio, dtype=np.float64).ravel()
    if samples.size == 0:
        return np.zeros(0, dtype=np.float32)
    n = -(-samples.size // cfg.hop)
    padded = np.zeros(n * cfg.hop)
    padded[: samples.size] = samples
    counts = np.full(n, cfg.hop, dtype=np.float64)
    counts[-1] = samples.size - (n - 1) * cfg.hop
    power = (padded.reshape(n, cfg.hop) ** 2).sum(axis=1) / counts
    return np.sqrt(power).astype(np.float32)


def find_peaks(curve: np.ndarray, cfg: AudioConfig) -> list[AudioPeak]:
    """Hops that are the loudest within ``peak_min_distance_s`` and stand out from the file.

    "Stand out" is relative to the file, so it holds for loud and quiet recordings alike:
    above median + k * MAD and above ``peak_min_ratio`` times the median.
    """
    if curve.size == 0:
        return []
    x = np.asarray(curve, dtype=np.float64)
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median)))
    floor = max(median + cfg.peak_mad_k * mad, median * cfg.peak_min_ratio, 1e-6)
    radius = max(1, round(cfg.peak_min_distance_s / cfg.hop_s / 2))
    padded = np.pad(x, radius, constant_values=-np.inf)
    local_max = sliding_window_view(padded, 2 * radius + 1).max(axis=1)
    candidates = np.flatnonzero((x >= local_max) & (x > floor))
    peaks: list[AudioPeak] = []
    last = -np.inf
    for i in candidates:  # plateaus: keep the first hop of equal maxima only
        if i - last > radius:
            peaks.append(AudioPeak(t=round(i * cfg.hop_s, 6), value=float(x[i])))
            last = i
    return peaks


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """A stretch of the file's audio for the ASR pool, with its part of the RMS curve."""

    index: int
    offset: float
    """Seconds from the start of the file; always on a hop boundary."""
    samples: np.ndarray
    rms: np.ndarray


def split_on_silence(blocks: Iterable[np.ndarray], cfg: AudioConfig) -> Iterator[AudioChunk]:
    """Cut a stream of sample blocks into chunks of about ``chunk_s`` at quiet hops.

    Streams: at most ``chunk_s`` plus one block is held, so a 4-hour file passes in bounded
    memory. Cuts fall on hop boundaries, so the chunks' RMS curves concatenate to the
    file's exact curve.
    """
    hop = cfg.hop
    target = max(hop, round(cfg.chunk_s / cfg.hop_s) * hop)
    search = min(target - hop, round(cfg.chunk_search_s / cfg.hop_s) * hop)
    buf = np.zeros(0, dtype=np.float32)
    start = 0  # samples already emitted
    index = 0
    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, dtype=np.float32).ravel()])
        while buf.size > target:
            rms = rms_curve(buf[:target], cfg)
            lo = (target - search) // hop
            cut = (lo + int(np.argmin(rms[lo:]))) * hop if search > 0 else target
            cut = max(cut, hop)
            yield AudioChunk(index, start / cfg.sample_rate, buf[:cut], rms[: cut // hop])
            index += 1
            start += cut
            buf = buf[cut:]
    if buf.size:
        yield AudioChunk(index, start / cfg.sample_rate, buf, rms_curve(buf, cfg))
