"""Numeric signals of a live stream, fed incrementally: audio energy, scene-cut rate, chat
velocity.

Each detector judges the stream against its own past, never against a fixed level: a
shouting caster and a quiet podcast both have loud moments. Audio energy is the RMS level
(dBFS) of short frames against a rolling median and median absolute deviation of the
levels before them, a robust baseline that a burst cannot drag along with it. Scene cuts
and chat messages are counted in a short window against the stream's longer-run rate.
A detector returns an :class:`~clipray.live.events.Event` once what it saw is over (a
quiet frame after a loud run, a calm second after a spike): the worker feeds what it has
and asks again later.

    >>> det = EnergyDetector(EnergyConfig())
    >>> events = det.feed(t0=0.0, samples=pcm, sample_rate=16000)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clipray.live.events import Event, EventKind, LiveInputError, finite_time, strength
from clipray.live.settings import ChatConfig, EnergyConfig, SceneConfig

MAD_TO_SIGMA = 1.4826
"""The MAD of a normal distribution times this is its standard deviation."""


def power_dbfs(power: float, silence_db: float = -100.0) -> float:
    """A mean square power of samples in ``[-1, 1]`` as an RMS level in dB below full
    scale (full-scale square wave: 0 dBFS); digital silence is ``silence_db``."""
    return max(silence_db, 10.0 * math.log10(power)) if power > 0 else silence_db


def as_mono_float(samples: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """PCM samples as mono floats in ``[-1, 1]``: integers are scaled by their type's full
    scale, a 2-D array (samples x channels) is averaged over its channels.

    Raises:
        LiveInputError: not a 1-D or 2-D numeric array, or a sample is not finite.
    """
    arr = np.asarray(samples)
    if arr.ndim not in (1, 2) or not (np.issubdtype(arr.dtype, np.integer)
                                      or np.issubdtype(arr.dtype, np.floating)):  # fmt: skip
        raise LiveInputError(f"audio must be a 1-D or 2-D array of PCM samples, not "
                             f"{arr.ndim}-D {arr.dtype}")  # fmt: skip
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = arr.astype(np.float64)
        if info.min == 0:  # unsigned PCM (8-bit WAV) is centred on half scale
            out -= (info.max + 1) / 2
            out /= (info.max + 1) / 2
        else:
            out /= -float(info.min)
    else:
        out = arr.astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise LiveInputError("audio holds samples that are not finite numbers")
    return out.mean(axis=1) if out.ndim == 2 else out


@dataclass
class _Run:
    """Frames (or seconds) above threshold so far, to become one event."""

    start: float
    end: float
    peak: float
    detail: dict[str, float]


class EnergyDetector:
    """Loud moments in the audio: levels (RMS over the last ``level_s``, every ``frame_s``)
    that stand out of the stream's own rolling baseline (median and MAD of the last
    ``baseline_s`` of levels).

    Audio arrives in chunks of any length; samples that do not fill a frame wait for the
    next chunk when it follows on in time (a gap or a new sample rate drops them).
    """

    def __init__(self, cfg: EnergyConfig) -> None:
        self.cfg = cfg
        self._levels: deque[float] = deque(maxlen=max(1, round(cfg.baseline_s / cfg.frame_s)))
        self._powers: deque[float] = deque(maxlen=max(1, round(cfg.level_s / cfg.frame_s)))
        self._pending = np.zeros(0)
        self._pending_t = 0.0
        self._rate = 0
        self._run: _Run | None = None

    def feed(self, t0: float, samples: npt.ArrayLike, sample_rate: int) -> list[Event]:
        """Take ``samples`` whose first one plays at ``t0`` seconds of stream time; the loud
        moments that ended within them."""
        t0 = finite_time(t0, "t0")
        if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
            raise LiveInputError(f"sample_rate must be a positive integer, not {sample_rate!r}")
        mono = as_mono_float(samples)
        expected = self._pending_t + self._pending.size / self._rate if self._rate else None
        if sample_rate != self._rate or expected is None or abs(t0 - expected) > 1 / sample_rate:
            self._pending, self._pending_t, self._rate = np.zeros(0), t0, int(sample_rate)
            self._powers.clear()
        data = np.concatenate([self._pending, mono]) if self._pending.size else mono
        n = max(1, round(self.cfg.frame_s * self._rate))
        whole = data.size // n
        out: list[Event] = []
        for k in range(whole):
            t = self._pending_t + k * n / self._rate
            out.extend(self._frame(t, n / self._rate, data[k * n : (k + 1) * n]))
        self._pending = data[whole * n :].copy()
        self._pending_t += whole * n / self._rate
        return out

    def flush(self) -> list[Event]:
        """The loud run still open (the stream ended or paused while loud)."""
        run, self._run = self._run, None
        return [self._event(run)] if run else []

    def _frame(self, t: float, dur: float, frame: npt.NDArray[np.float64]) -> list[Event]:
        cfg = self.cfg
        self._powers.append(float(np.mean(np.square(frame))) if frame.size else 0.0)
        power = sum(self._powers) / len(self._powers)
        level = power_dbfs(power, cfg.silence_db)
        span = dur * len(self._powers)  # what the level covers, ending with this frame
        out: list[Event] = []
        if self._run and t - self._run.end > cfg.merge_gap_s:
            out.append(self._event(self._run))
            self._run = None
        if len(self._levels) * cfg.frame_s >= cfg.min_baseline_s and self._levels:
            history = np.fromiter(self._levels, dtype=np.float64, count=len(self._levels))
            median = float(np.median(history))
            mad = float(np.median(np.abs(history - median)))
            sigma = max(MAD_TO_SIGMA * mad, cfg.mad_floor_db)
            z = (level - median) / sigma
            if z >= cfg.z_threshold and level - median >= cfg.min_db_over:
                if self._run is None:
                    self._run = _Run(t + dur - span, t + dur, z, {})
                self._run.end = t + dur
                if z >= self._run.peak or not self._run.detail:
                    self._run.peak = z
                    self._run.detail = {"peak_dbfs": round(level, 2),
                                        "baseline_dbfs": round(median, 2),
                                        "mad_db": round(mad, 2), "z": round(z, 2)}  # fmt: skip
        self._levels.append(level)
        return out

    def _event(self, run: _Run) -> Event:
        return Event(EventKind.ENERGY, run.start, run.end,
                     strength(run.peak, self.cfg.z_threshold), dict(run.detail))  # fmt: skip


class SceneRateDetector:
    """Bursts of scene cuts (fast editing, a replay, a camera switch-fest): at least
    ``min_cuts`` cuts within ``window_s`` at ``ratio`` times the stream's average rate."""

    def __init__(self, cfg: SceneConfig) -> None:
        self.cfg = cfg
        self._cuts: deque[float] = deque()
        self._origin: float | None = None
        self._last = -math.inf
        self._run: _Run | None = None

    def feed(self, cuts: Iterable[float]) -> list[Event]:
        """Take scene-cut times (seconds of stream time, in order; an earlier or repeated
        one is ignored); the bursts that ended before the newest cut."""
        out: list[Event] = []
        for raw in cuts:
            t = finite_time(raw, "a scene cut")
            if t <= self._last:
                continue
            if self._origin is None:
                self._origin = t
            out.extend(self.advance(t))
            self._last = t
            self._cuts.append(t)
            while self._cuts[0] < t - self.cfg.baseline_s:
                self._cuts.popleft()
            self._judge(t)
        return out

    def advance(self, now: float) -> list[Event]:
        """The stream has reached ``now``: a burst without a cut for a window is over."""
        now = finite_time(now, "now")
        if self._origin is None:
            self._origin = now
        if self._run and now - self._run.end > self.cfg.window_s:
            run, self._run = self._run, None
            return [self._event(run)]
        return []

    def flush(self) -> list[Event]:
        run, self._run = self._run, None
        return [self._event(run)] if run else []

    def _judge(self, t: float) -> None:
        cfg = self.cfg
        recent = [c for c in self._cuts if c > t - cfg.window_s]
        if len(recent) < cfg.min_cuts:
            return
        rate = len(recent) / cfg.window_s
        before = len(self._cuts) - len(recent)
        span = min(cfg.baseline_s, t - (self._origin or t)) - cfg.window_s
        baseline = before / span if span > 0 else 0.0
        if rate < cfg.ratio * baseline:
            return
        threshold = max(cfg.ratio * baseline, cfg.min_cuts / cfg.window_s)
        if self._run is None:
            self._run = _Run(recent[0], t, 0.0, {})
        self._run.end = t
        if rate / threshold >= self._run.peak:
            self._run.peak = rate / threshold
            self._run.detail = {"cuts_per_s": round(rate, 3), "baseline_per_s": round(baseline, 4),
                                "cuts": len(recent)}  # fmt: skip

    def _event(self, run: _Run) -> Event:
        return Event(EventKind.SCENE, run.start, run.end, strength(run.peak, 1.0),
                     dict(run.detail))  # fmt: skip


class ChatVelocityDetector:
    """Chat spikes: the message rate over the last ``window_s`` against the median of that
    rate over the channel's last ``baseline_s`` (a robust baseline: a spike does not raise
    it). Rates are taken on bins of a fifth of the window."""

    BINS_PER_WINDOW = 5

    def __init__(self, cfg: ChatConfig) -> None:
        self.cfg = cfg
        self.bin_s = cfg.window_s / self.BINS_PER_WINDOW
        self._origin: int | None = None
        self._open = 0
        """Index of the first bin not judged yet; a late message counts in it."""
        self._counts: dict[int, int] = {}
        self._window: deque[int] = deque(maxlen=self.BINS_PER_WINDOW)
        self._rates: deque[float] = deque(maxlen=max(1, math.ceil(cfg.baseline_s / self.bin_s)))
        self._run: _Run | None = None
        self.last_rate = 0.0
        """The rate (messages per second) over the last judged window."""
        self.last_baseline: float | None = None

    def feed(self, times: Iterable[float]) -> list[Event]:
        """Take messages' times (seconds of stream time); the spikes that ended before the
        newest of them."""
        out: list[Event] = []
        for raw in times:
            t = finite_time(raw, "a chat message's time")
            b = math.floor(t / self.bin_s)
            if self._origin is None:
                self._origin = self._open = b
            out.extend(self._judge_until(b))
            b = max(b, self._open)
            self._counts[b] = self._counts.get(b, 0) + 1
        return out

    def advance(self, now: float) -> list[Event]:
        """The stream has reached ``now`` (no message since is a quiet stretch, not a gap
        in the data): judge the bins that ended."""
        b = math.floor(finite_time(now, "now") / self.bin_s)
        if self._origin is None:
            self._origin = self._open = b
        return self._judge_until(b)

    def flush(self) -> list[Event]:
        run, self._run = self._run, None
        return [self._event(run)] if run else []

    def _judge_until(self, b: int) -> list[Event]:
        out: list[Event] = []
        cfg = self.cfg
        while self._open < b:
            k = self._open
            self._open += 1
            self._window.append(self._counts.pop(k, 0))
            rate = sum(self._window) / (len(self._window) * self.bin_s)
            enough = len(self._rates) * self.bin_s >= cfg.min_baseline_s and self._rates
            baseline = float(np.median(np.fromiter(self._rates, float))) if enough else None
            self.last_rate, self.last_baseline = rate, baseline
            self._rates.append(rate)
            end = (k + 1) * self.bin_s
            threshold = max(cfg.ratio * (baseline or 0.0), cfg.min_rate, 1e-9)
            if baseline is not None and rate >= threshold:
                if self._run is None:
                    start = max((self._origin or 0) * self.bin_s, k * self.bin_s - cfg.reaction_s)
                    self._run = _Run(start, end, 0.0, {})
                self._run.end = end
                if rate / threshold >= self._run.peak:
                    self._run.peak = rate / threshold
                    self._run.detail = {"rate_per_s": round(rate, 3),
                                        "baseline_per_s": round(baseline, 3)}  # fmt: skip
            elif self._run is not None:
                out.append(self._event(self._run))
                self._run = None
        return out

    def _event(self, run: _Run) -> Event:
        return Event(EventKind.CHAT, run.start, run.end, strength(run.peak, 1.0),
                     dict(run.detail))  # fmt: skip
