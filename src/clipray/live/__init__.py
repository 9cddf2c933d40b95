"""Real-time analysis of a live stream: signals, events, clusters, scores and clip windows.

Pure code (no Ray, storage, network or ffmpeg): the stream worker feeds it audio, words,
scene cuts and chat times as they arrive and asks :meth:`LiveAnalyzer.ready` for the clip
windows that are due. ``settings.py`` holds every threshold and weight, ``signals.py`` the
numeric detectors (energy, scene rate, chat velocity), ``text.py`` the transcript ones
(keywords, sentences, VADER sentiment shifts), ``events.py`` clustering and scoring,
``windows.py`` the window of a cluster, deduplication, the hourly cap and the re-ranking
hook, ``analyzer.py`` the one object that ties them together.
"""

from clipray.live.analyzer import LiveAnalyzer
from clipray.live.events import Cluster, Event, EventKind, LiveInputError, Score
from clipray.live.settings import LiveConfig, LiveConfigError, live_config
from clipray.live.windows import ClipWindow, Reranker

__all__ = [
    "ClipWindow", "Cluster", "Event", "EventKind", "LiveAnalyzer", "LiveConfig",
    "LiveConfigError", "LiveInputError", "Reranker", "Score", "live_config",
]  # fmt: skip
