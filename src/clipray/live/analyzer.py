"""The live analysis of one stream, fed incrementally and asked for clip windows.

The stream worker feeds what it gets, as it gets it: audio chunks of the ring buffer's
segments, words from the warm ASR service, scene-cut times, chat messages (mapped to
stream time), and asks :meth:`LiveAnalyzer.ready` whether a clip window is due. A cluster
of events is decided once the stream has gone ``gap_s`` past its last event (nothing more
can join it) and the buffer holds its whole window; then it is scored, turned into a
window, re-ranked with the others due (optional hook), deduplicated against what the
stream already emitted and capped per hour. Everything here is pure: no clock (stream time
is what the worker says), no I/O.

    >>> live = LiveAnalyzer(live_config(), stream_key="mon-1", keywords=("goal",))
    >>> live.feed_audio(0.0, pcm, 16000)  # doctest: +SKIP
    >>> live.feed_words(words)  # doctest: +SKIP
    >>> for w in live.ready(now=live.media_end):  # doctest: +SKIP
    ...     cut(w.start, w.end)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy.typing as npt

from clipray.live.events import (
    Cluster,
    Event,
    cluster_events,
    finite_time,
    score_cluster,
)
from clipray.live.settings import LiveConfig
from clipray.live.signals import ChatVelocityDetector, EnergyDetector, SceneRateDetector
from clipray.live.text import (
    KeywordDetector,
    Sentence,
    SentenceTracker,
    SentimentDetector,
    SentimentFn,
    vader_compound,
)
from clipray.live.windows import ClipWindow, Reranker, WindowPlanner, rerank, window_for
from clipray.schemas import Word


class LiveAnalyzer:
    """Signals, events, clusters and clip windows of one stream.

    Args:
        stream_key: the monitor's id: part of every window key.
        keywords: the workspace's keywords (the defaults come from settings).
        emitted: windows (or ``(key, start, end)``) the stream emitted before, persisted by
            a previous worker: never emitted again.
        reranker: the optional re-ranking hook; it can reorder windows, nothing more.
        on_event: called with each event as a detector reports it (the worker tells the
            stream's watchers); what it does is the caller's business.
    """

    def __init__(
        self,
        cfg: LiveConfig,
        stream_key: str,
        keywords: Sequence[str] = (),
        *,
        emitted: Iterable[ClipWindow | tuple[str, float, float]] = (),
        reranker: Reranker | None = None,
        sentiment: SentimentFn = vader_compound,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.energy = EnergyDetector(cfg.energy)
        self.keywords = KeywordDetector(keywords, cfg.keywords)
        self.sentences = SentenceTracker(cfg.sentiment.pause_s, keep_s=cfg.retention_s)
        self.sentiment = SentimentDetector(cfg.sentiment, sentiment)
        self.scenes = SceneRateDetector(cfg.scenes)
        self.chat = ChatVelocityDetector(cfg.chat)
        self.planner = WindowPlanner(cfg.window, stream_key, emitted)
        self.reranker = reranker
        self.on_event = on_event
        self.pending: list[Event] = []
        """Events not decided yet (their cluster is still open)."""
        self.decided: list[tuple[Cluster, ClipWindow | None]] = []
        """Recent clusters decided, with their window (None: below the threshold)."""
        self._words: list[Word] = []
        self.media_start: float | None = None
        """The earliest stream time fed (audio): the buffer holds nothing before it."""
        self.media_end = 0.0
        """The latest stream time the audio reached: no window ends after it."""

    # --- feeding ---------------------------------------------------------------------
    def feed_audio(self, t0: float, samples: npt.ArrayLike, sample_rate: int) -> list[Event]:
        """PCM samples starting at ``t0`` seconds of stream time."""
        events = self.energy.feed(t0, samples, sample_rate)
        n = len(samples) if hasattr(samples, "__len__") else 0
        t0 = float(t0)
        self.media_start = t0 if self.media_start is None else min(self.media_start, t0)
        self.media_end = max(self.media_end, t0 + n / sample_rate)
        return self._add(events)

    def feed_words(self, words: Iterable[Word]) -> list[Event]:
        """Transcribed words, in order, with their stream times."""
        words = list(words)
        events = self.keywords.feed(words)
        finished = self.sentences.feed(words)
        events += self.sentiment.feed(finished)
        self._words.extend(words)
        return self._add(events)

    def feed_scene_cuts(self, cuts: Iterable[float]) -> list[Event]:
        """Scene-cut times (from the scene detector on the buffer's video)."""
        return self._add(self.scenes.feed(cuts))

    def feed_chat(self, times: Iterable[float]) -> list[Event]:
        """Chat messages' times, already in stream time (the worker maps the chat's clock,
        ``tmi-sent-ts``, onto the stream's)."""
        return self._add(self.chat.feed(times))

    def _add(self, events: list[Event]) -> list[Event]:
        self.pending.extend(events)
        if self.on_event is not None:
            for e in events:
                self.on_event(e)
        return events

    # --- deciding --------------------------------------------------------------------
    def ready(self, now: float | None = None, *, final: bool = False) -> list[ClipWindow]:
        """The clip windows due at stream time ``now`` (default: the end of the audio fed),
        in stream order, each emitted once. ``final`` (the stream stopped): every open run
        and cluster is decided now, with what the buffer holds."""
        now = self.media_end if now is None else finite_time(now, "now")
        self._add(self.chat.advance(now) + self.scenes.advance(now))
        if final:
            self._add(self.energy.flush() + self.scenes.flush() + self.chat.flush())
            self._add(self.sentiment.feed(self.sentences.flush()))
        scoring, wcfg = self.cfg.scoring, self.cfg.window
        due: list[ClipWindow] = []
        keep: list[Event] = []
        for cluster in cluster_events(self.pending, scoring.gap_s, scoring.max_cluster_s):
            closed = final or now - cluster.t_end >= scoring.gap_s
            if not closed or (not final and cluster.t_end + wcfg.post_roll_s > self.media_end):
                keep.extend(cluster.events)
                continue
            window = self._window(cluster, now)
            self.decided.append((cluster, window))
            if window is not None:
                due.append(window)
        self.pending = keep
        self._forget(now)
        # Two clusters close together can grow into the very same window: one clip.
        best: dict[str, ClipWindow] = {}
        for w in due:
            if w.key not in best or w.score > best[w.key].score:
                best[w.key] = w
        ranked = sorted(best.values(), key=lambda w: (-w.score, w.start))
        if len(ranked) >= scoring.rerank_min_windows:
            ranked = rerank(ranked, self.reranker)
        return self.planner.admit(ranked)

    def _window(self, cluster: Cluster, now: float) -> ClipWindow | None:
        score = score_cluster(cluster, now, self.cfg.scoring)
        if score.total < self.cfg.scoring.threshold:
            return None
        lo = self.media_start if self.media_start is not None else 0.0
        start, end, s_snap, e_snap = window_for(
            cluster, self._sentences_near(cluster), self._words, self.cfg.window,
            media=(lo, max(self.media_end, lo)),
        )  # fmt: skip
        return ClipWindow(self.planner.key(start, end), start, end, score.total,
                          cluster.events, score, s_snap, e_snap)  # fmt: skip

    def _sentences_near(self, cluster: Cluster) -> list[Sentence]:
        reach = self.cfg.window.max_duration + self.cfg.window.snap_s
        return [s for s in self.sentences.sentences
                if cluster.t_start - reach <= s.end and s.start <= cluster.t_end + reach]

    def _forget(self, now: float) -> None:
        horizon = now - self.cfg.retention_s
        self._words = [w for w in self._words if w.end >= horizon]
        self.decided = [(c, w) for c, w in self.decided if c.t_end >= horizon]
