"""Re-render a clip with other settings (aspect, captions, effects): a new version of its
moment.

``POST /api/clips/{id}/rerender`` calls :func:`rerender`: the moment is planned again from
the source's stored analysis (the same :func:`~clipray.pipelines.clipjob.plan_moment` as
the main job), the same settings again give the existing version, and a new version is
recorded pending and rendered by one Ray task (:func:`rerender_task`, the same renders as a
job's render step). :func:`plan_rerender` is the plan alone, what a door can show before
anything is recorded.

    >>> new = rerender(settings, buckets, db, session, clip, source, "1:1")  # doctest: +SKIP
    >>> new.version, new.status                                              # doctest: +SKIP
    (2, <ClipStatus.PENDING: 'pending'>)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy.orm import Session

from clipray.clips.effects.audio import CensorConfig
from clipray.clips.effects.plan import EffectsConfig
from clipray.clips.render import RenderSpec
from clipray.cluster.resources import actor_options
from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.domain.brand import BrandKit
from clipray.domain.errors import Conflict
from clipray.pipelines.analyze import analyze_config
from clipray.pipelines.beats import music_beats
from clipray.pipelines.clipjob import (
    PlannedClip,
    RunOptions,
    audiogram_look,
    plan_moment,
    planned_of,
    planned_row,
    render_clips,
)
from clipray.pipelines.ingest import IngestContext, Ingested
from clipray.pipelines.runner import AnalysisRunner
from clipray.pipelines.stages.decode import probe
from clipray.services import library, webhooks
from clipray.services.brand import brand_for
from clipray.services.generation import require_generation
from clipray.storage.db import Database
from clipray.storage.objects import Buckets
from clipray.storage.orm import Clip, ClipStatus, Source
from clipray.storage.repos import ClipRepo, SourceRepo

__all__ = ["EffectsChange", "effects_of", "plan_rerender", "rerender", "rerender_task"]


def effects_of(spec: RenderSpec) -> EffectsConfig:
    """The effects a rendered clip was asked for, read back from its graph."""
    g = spec.effects
    if g is None:
        return EffectsConfig()
    audio, b = g.audio, g.brand
    kit = b.kit() if b is not None else None
    return EffectsConfig(zooms=g.zooms.style if g.zooms else None,
                         hook=g.hook.text if g.hook else None,
                         remove_fillers=g.base_cut is not None,
                         censor=CensorConfig(audio.censor, audio.mode)
                         if audio is not None and audio.censor else None,
                         denoise=audio is not None and audio.denoise,
                         music=audio.music if audio is not None else None,
                         transition=g.transitions.style if g.transitions else None,
                         broll=g.broll is not None, sfx=g.sfx is not None, brand=kit,
                         brand_keys=(b.intro_key, b.outro_key) if b else (None, None),
                         beat_sync=audio is not None and audio.beat_sync)  # fmt: skip


def settings_of(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The layout and effects a clip was asked for (its stored ``render_spec``), in the
    shape a re-render takes them (what the studio's re-render form starts from); None
    without a spec."""
    if not stored:
        return None
    spec = RenderSpec.from_json(dict(stored))
    fx = effects_of(spec)
    return {"layout": spec.layout, "zooms": fx.zooms, "hook": fx.hook,
            "remove_fillers": fx.remove_fillers,
            "censor": {"words": list(fx.censor.words), "mode": fx.censor.mode}
            if fx.censor else None,
            "denoise": fx.denoise, "music": fx.music, "transition": fx.transition,
            "broll": fx.broll, "sfx": fx.sfx,
            "brand_kit_id": fx.brand.id if fx.brand is not None else None,
            "emoji": spec.emoji, "safe_area": spec.safe_area,
            "beat_sync": fx.beat_sync}  # fmt: skip


@dataclass(frozen=True)
class EffectsChange:
    """Changes to a clip's effects for a re-render; None keeps the clip's own setting."""

    zooms: str | None = None
    """A zoom style, or ``none`` to take zooms off."""
    hook: str | None = None
    """A hook's text (``auto``: the clip's title), or ``""`` to take the hook off."""
    remove_fillers: bool | None = None
    censor: CensorConfig | Mapping[str, Any] | Literal["off"] | None = None
    """Words to censor instead of the clip's own (a :class:`CensorConfig` or a request's
    ``{"words": [...], "mode": ...}``), or ``off`` (no words) to take censoring off."""
    denoise: bool | None = None
    music: str | None = None
    """A music track's object key, or ``""`` to take the music off."""
    transition: str | None = None
    """A transition style for the cut's joins, or ``none`` for straight cuts."""
    broll: bool | None = None
    """B-roll from the workspace's library on or off (chosen again from today's library)."""
    sfx: bool | None = None
    """Sound effects from the workspace's library on or off."""
    brand_kit_id: str | None = None
    """A brand kit of the workspace, or ``""`` to take the brand off."""
    brand: tuple[BrandKit, str | None, str | None] | None = None
    """``brand_kit_id`` resolved (``services.brand.brand_for``): what :meth:`applied` takes."""
    emoji: bool | None = None
    """Emoji in the captions on or off."""
    safe_area: str | None = None
    """The platform safe area of a vertical clip's captions (``all``, ``tiktok``, ...)."""
    beat_sync: bool | None = None
    """Cuts snapped to the music's beats on or off (on needs music)."""

    def __post_init__(self) -> None:
        if isinstance(self.censor, Mapping):
            object.__setattr__(self, "censor", CensorConfig.of(self.censor) or "off")

    def applied(self, own: EffectsConfig) -> EffectsConfig:
        zooms = own.zooms if self.zooms is None else (None if self.zooms == "none" else self.zooms)
        hook = own.hook if self.hook is None else (self.hook or None)
        fillers = own.remove_fillers if self.remove_fillers is None else self.remove_fillers
        censor = own.censor if self.censor is None else (
            None if self.censor == "off" else self.censor)  # type: ignore[assignment]
        denoise = own.denoise if self.denoise is None else self.denoise
        music = own.music if self.music is None else (self.music or None)
        joins = own.transition if self.transition is None else (
            None if self.transition == "none" else self.transition)
        broll = own.broll if self.broll is None else self.broll
        sfx = own.sfx if self.sfx is None else self.sfx
        brand, keys = own.brand, own.brand_keys
        if self.brand_kit_id is not None:
            brand, keys = None, (None, None)
        if self.brand_kit_id and self.brand is not None:
            brand, keys = self.brand[0], self.brand[1:]
        # music taken off takes the beat sync with it, unless it is asked for again
        beat_sync = (own.beat_sync and music is not None if self.beat_sync is None
                     else self.beat_sync)  # fmt: skip
        return EffectsConfig(zooms, hook, fillers, censor,  # type: ignore[arg-type]
                             denoise, music, brand, joins,  # type: ignore[arg-type]
                             broll=broll, sfx=sfx, brand_keys=keys,
                             beat_sync=beat_sync)  # fmt: skip


def plan_rerender(
    settings: Settings, ctx: IngestContext, clip: Clip, source: Source,
    aspect: str | None = None, captions: str | None = None, layout: str | None = None,
    change: EffectsChange | None = None,
) -> PlannedClip:  # fmt: skip
    """The render plan of ``clip``'s moment with another aspect, caption style or effects
    (None keeps the clip's own); the versions recorded in its spec stay the clip's.

    Raises:
        Conflict: ``ANALYSIS_MISSING`` when the source's analysis is gone.
        BeatSyncNeedsMusic: 422 ``BEAT_SYNC_NEEDS_MUSIC``, beat sync without music.
    """
    spec = RenderSpec.from_json(clip.render_spec)
    change = change or EffectsChange()
    if change.brand_kit_id and change.brand is None:
        with ctx.db.session() as s:
            change = replace(change, brand=brand_for(s, ctx.workspace_id, change.brand_kit_id))
    fx = change.applied(effects_of(spec))
    opts = RunOptions(aspect=aspect or spec.aspect, captions=captions or spec.captions,
                      layout=layout or spec.layout,
                      zooms=fx.zooms, hook=fx.hook, remove_fillers=fx.remove_fillers,
                      censor=fx.censor, denoise=fx.denoise, music=fx.music,
                      transition=fx.transition, broll=fx.broll, sfx=fx.sfx,
                      brand=fx.brand, brand_keys=fx.brand_keys,
                      emoji=spec.emoji if change.emoji is None else change.emoji,
                      safe_area=change.safe_area or spec.safe_area or "all",
                      beat_sync=fx.beat_sync)  # fmt: skip

    analysis = AnalysisRunner(settings, ctx, analyze_config(settings)).cached(source)
    if analysis is None:
        raise Conflict("ANALYSIS_MISSING", "the source's analysis is gone; run a job again")
    media = ctx.buckets.media.scoped(ctx.workspace_id)
    info = probe(media.presign_get(source.storage_key), settings.ffprobe_bin)
    look = spec.audiogram or audiogram_look(settings)  # a clip keeps its own look
    lib = library.for_plan(settings, ctx.db, ctx.workspace_id, fx.broll, fx.sfx)
    beats = music_beats(fx.music, settings, ctx.workspace_id) if fx.beat_sync else None
    return plan_moment(analysis, Ingested(source, info, created=False), planned_of(clip).moment,
                       opts, dict(spec.versions), look, lib, beats)  # fmt: skip


def rerender(settings: Settings, buckets: Buckets, db: Database, session: Session, clip: Clip,
             source: Source, aspect: str | None = None, captions: str | None = None,
             layout: str | None = None, change: EffectsChange | None = None) -> Clip:  # fmt: skip
    """The version of ``clip``'s moment with these settings: the existing one when it was
    rendered (or is rendering), else a pending one whose render is submitted to Ray.

    ``session`` is the caller's; it is committed before the analysis is read (in sessions
    of ``db`` of its own: no lock is held meanwhile) and once the new version is recorded,
    so the render task finds it.

    Raises:
        Conflict: ``CLIP_NOT_READY`` while ``clip`` renders, ``ANALYSIS_MISSING``,
            ``GENERATED_CLIP_LIMIT`` at the workspace's cap.
        CodedError: 503 ``GENERATED_STORAGE_UNAVAILABLE`` without the app-owned bucket.
    """
    if clip.status is ClipStatus.PENDING:
        raise Conflict("CLIP_NOT_READY", "the clip is still being rendered")
    session.commit()
    ctx = IngestContext.of(settings, buckets, db, clip.workspace_id)
    p = plan_rerender(settings, ctx, clip, source, aspect, captions, layout, change)
    repo = ClipRepo(session, ctx.workspace_id)
    existing = repo.find(clip.moment_id, p.spec_hash)
    if existing is not None and existing.status is not ClipStatus.FAILED:
        return existing
    require_generation(settings, ctx.buckets, session, ctx.workspace_id)
    if existing is not None:
        new = existing
        new.status, new.error = ClipStatus.PENDING, None
    else:
        new = repo.add(planned_row(p, clip.source_id, clip.moment_id, clip.job_id))
    session.commit()
    _submit(settings, ctx.workspace_id, source.id, new.id)
    return new


def _submit(settings: Settings, workspace_id: str, source_id: str, clip_id: str) -> None:
    """The render runs on the cluster; the new version turns rendered (or failed) when done."""
    import ray

    task = ray.remote(rerender_task).options(**actor_options(settings.stage("job_step")))
    task.remote(settings, workspace_id, source_id, clip_id)


def rerender_task(settings: Settings, workspace_id: str, source_id: str, clip_id: str) -> bool:
    """The Ray task behind :func:`rerender`: render one planned version, as a job's render
    step renders its clips. True when it was rendered."""
    db = open_database(settings)
    try:
        ctx = IngestContext.of(settings, open_storage(settings), db, workspace_id)
        with db.session() as s:
            source = SourceRepo(s, workspace_id).get(source_id)
        if source is None:
            return False
        return render_clips(settings, ctx, source, [clip_id],
                            on_ready=webhooks.clip_ready).rendered == 1
    finally:
        db.dispose()
