"""Every number of the live analysis in one frozen settings model, with defaults.

Signals, clustering, scoring and clip windows read their thresholds from here, so that a
monitor's settings (``min_duration``, ``max_duration``, ``keywords``,
``max_clips_per_hour``) and the cluster-wide settings can be layered onto the defaults in one
place (:func:`live_config`) and a bad value is refused before a stream starts.

    >>> cfg = live_config({"window": {"min_duration": 20, "max_duration": 45}})
    >>> cfg.scoring.weights.energy
    0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clipray.domain.errors import CodedError


class LiveConfigError(CodedError):
    """A live setting out of range (``LIVE_CONFIG_INVALID``); ``detail`` lists each field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnergyConfig(_Frozen):
    """Loud moments: a frame's RMS level against the stream's own rolling baseline."""

    frame_s: float = Field(0.1, gt=0.005, le=1.0)
    """Hop between two levels: a loud moment is placed within a tenth of a second."""
    level_s: float = Field(0.5, gt=0, le=5.0)
    """A level is the RMS over this much audio (the last frames): a plosive or a clap
    peaks for a few hundredths of a second, a crowd or a shout holds for half a second. On
    LJSpeech (231 s of read speech) 0.1 s levels reach 17 dB over the median, 0.5 s ones
    10 dB."""
    baseline_s: float = Field(60.0, gt=0)
    """How much of the stream's past the baseline (median and MAD of levels) covers."""
    min_baseline_s: float = Field(5.0, ge=0)
    """No loud moment is called before this much audio has set a baseline."""
    z_threshold: float = Field(3.5, gt=0)
    """A level is loud when its robust z-score (level minus median, over 1.4826 MAD)
    reaches this (speech alone stays under 2.8 on the shared test speech)..."""
    min_db_over: float = Field(12.0, ge=0)
    """...and it lies at least this many dB above the median, so that a quiet, steady
    stream (tiny MAD) does not call every cough a moment."""
    mad_floor_db: float = Field(1.0, gt=0)
    """The MAD is never taken below this (dB): digital silence has a MAD of zero."""
    merge_gap_s: float = Field(0.3, ge=0)
    """Loud frames closer than this form one event."""
    silence_db: float = Field(-100.0, le=0)
    """The level given to digital silence (RMS 0), instead of minus infinity."""


class KeywordConfig(_Frozen):
    """Keyword triggers on transcribed words."""

    defaults: tuple[str, ...] = (
        "clip it", "clip that", "oh my god", "no way", "let's go", "what a play",
        "unbelievable", "insane", "holy",
    )  # fmt: skip
    """Phrases that mark a moment on any stream; a workspace adds its own."""
    workspace_strength: float = Field(1.0, gt=0, le=1)
    """A keyword the workspace asked for is the strongest trigger..."""
    default_strength: float = Field(0.7, gt=0, le=1)
    """...a default phrase counts less: streamers say "no way" in passing."""


class SentimentConfig(_Frozen):
    """Sentiment shifts (VADER compound) between rolling windows of sentences."""

    window_sentences: int = Field(2, ge=1)
    """Sentences in each of the two windows compared (the newest ones, and those before)."""
    shift_threshold: float = Field(0.5, gt=0, le=2)
    """A change of the windows' mean compound score (range -1..1) this large is an event."""
    pause_s: float = Field(0.8, gt=0)
    """A pause this long between words ends a sentence that has no final punctuation."""


class SceneConfig(_Frozen):
    """Scene-change rate: cuts per second in a short window against the stream's average."""

    window_s: float = Field(10.0, gt=0)
    min_cuts: int = Field(3, ge=1)
    """Fewer cuts than this in the window are never an event, whatever the baseline."""
    ratio: float = Field(2.0, gt=1)
    """The window's rate must be this many times the stream's average rate."""
    baseline_s: float = Field(300.0, gt=0)


class ChatConfig(_Frozen):
    """Chat velocity: messages per second in a short window against the channel's baseline."""

    window_s: float = Field(5.0, gt=0)
    baseline_s: float = Field(120.0, gt=0)
    min_baseline_s: float = Field(20.0, ge=0)
    """No spike is called before chat has been read this long."""
    ratio: float = Field(3.0, gt=1)
    """A window this many times the baseline's median rate is a spike..."""
    min_rate: float = Field(0.5, ge=0)
    """...and at least this many messages per second (a quiet channel's 3 messages are no
    spike)."""
    reaction_s: float = Field(6.0, ge=0)
    """Chat reacts late: a spike's event starts this much before the spike did."""


class Weights(_Frozen):
    """Weights of a cluster's components (the issue's plan: they add up to 1)."""

    energy: float = Field(0.30, ge=0)
    keyword: float = Field(0.25, ge=0)
    scene: float = Field(0.15, ge=0)
    sentiment: float = Field(0.15, ge=0)
    chat: float = Field(0.15, ge=0)
    """Game events and chat: chat velocity where the platform has chat."""


class ScoringConfig(_Frozen):
    """Clustering of events and the score that decides a clip."""

    weights: Weights = Weights()
    gap_s: float = Field(8.0, gt=0)
    """Events closer than this belong to one cluster; a cluster is closed (scored) once the
    stream has gone this long past its last event."""
    max_cluster_s: float = Field(60.0, gt=0)
    """A cluster that would grow longer than this is closed anyway: a chat that never calms
    down must still yield clips."""
    threshold: float = Field(0.14, ge=0, le=1)
    """A cluster scoring at least this becomes a clip window: one strong signal of any kind
    is enough (a loud moment 15 dB over the stream's median scores 0.18, a workspace
    keyword 0.25, a chat spike at twice its threshold 0.15), a lone default keyword (0.175)
    too, several weak ones together likewise; the hourly cap and the ranking keep the best
    when a stream is lively."""
    half_life_s: float = Field(120.0, gt=0)
    """Recency decay: a cluster's score halves for every this many seconds it is decided
    late (after the ``gap_s`` that closes it)."""
    rerank_min_windows: int = Field(2, ge=1)
    """The optional re-ranking hook is asked only once this many windows compete."""


class WindowConfig(_Frozen):
    """From a cluster to a clip window: the monitor's durations and limits."""

    min_duration: float = Field(15.0, gt=0)
    max_duration: float = Field(60.0, gt=0)
    pre_roll_s: float = Field(6.0, ge=0)
    """Context before the cluster's first event: the build-up a viewer needs."""
    post_roll_s: float = Field(3.0, ge=0)
    """The reaction after its last event."""
    snap_s: float = Field(4.0, ge=0)
    """An edge moves onto a sentence boundary at most this far."""
    max_clips_per_hour: int = Field(12, ge=1)
    """At most this many windows in any hour of stream time."""
    max_overlap: float = Field(0.5, ge=0, le=1)
    """A window sharing more than this fraction of the shorter one with an emitted window is
    the same moment again (a recreated worker re-detecting it), not a new clip."""

    @model_validator(mode="after")
    def _durations(self) -> WindowConfig:
        if self.min_duration > self.max_duration:
            raise ValueError(f"min_duration {self.min_duration:g} s exceeds max_duration "
                             f"{self.max_duration:g} s")  # fmt: skip
        return self


class LiveConfig(_Frozen):
    """All of the live analysis' settings."""

    energy: EnergyConfig = EnergyConfig()
    keywords: KeywordConfig = KeywordConfig()
    sentiment: SentimentConfig = SentimentConfig()
    scenes: SceneConfig = SceneConfig()
    chat: ChatConfig = ChatConfig()
    scoring: ScoringConfig = ScoringConfig()
    window: WindowConfig = WindowConfig()
    retention_s: float = Field(900.0, gt=0)
    """How much of the stream's past the analyzer keeps (events, words, sentences)."""


def live_config(overrides: Mapping[str, Any] | None = None) -> LiveConfig:
    """The defaults with ``overrides`` (nested mappings, as settings or a monitor give them)
    layered on; a bad value is a :class:`LiveConfigError` naming every field at fault."""
    try:
        return LiveConfig.model_validate(dict(overrides or {}))
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                    for e in exc.errors(include_url=False, include_input=False)]  # fmt: skip
        summary = "; ".join(f"{p['field'] or 'settings'}: {p['problem']}" for p in problems)
        raise LiveConfigError("LIVE_CONFIG_INVALID", f"invalid live settings: {summary}",
                              detail=problems) from None  # fmt: skip
