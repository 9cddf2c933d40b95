"""The main job's plans and renders: pick the best moments, render them in parallel on Ray.

Selection, reframing, captions and NLE exports are pure (``clips/``); this module plans one
render per chosen moment, runs each as a Ray task (FFmpeg inside, files uploaded to the
app-owned clips bucket from the worker), and records a ``clips`` row per rendered version.
A moment already rendered with the same spec is reused, not rendered again.

The flow that drives it (ingest, analyse, choose, render) is ``services/main_job.py``.

    >>> planned = plan(analysis, item, RunOptions(), versions)           # doctest: +SKIP
    >>> render_clips(settings, ctx, source, clip_ids).rendered          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clipray.clips.audiogram import AudiogramSpec
from clipray.clips.broll import Library
from clipray.clips.captions import CaptionConfig, build_ass, hook_event
from clipray.clips.effects.audio import star_words
from clipray.clips.effects.beats import Beats
from clipray.clips.effects.brand import caption_style, ffmpeg_colour
from clipray.clips.effects.fillers import retime
from clipray.clips.effects.plan import EffectsConfig, faces_on_output, plan_graph
from clipray.clips.llm import LlmConfig, UsageFn, rerank
from clipray.clips.nle import NleClip, to_edl, to_fcpxml
from clipray.clips.reframe import ReframeConfig, crop_path
from clipray.clips.render import (
    ASPECTS,
    RenderSpec,
    render_clip,
    with_results,
)
from clipray.clips.select import Candidate, NoClips, select
from clipray.clips.thumb_render import titled_thumbnails
from clipray.clips.thumbs import FaceAt, best_face_at, faces_in, faces_json, faces_of
from clipray.cluster.resources import actor_options
from clipray.cluster.services import connect_ray
from clipray.config import Settings
from clipray.domain.analysis import Analysis
from clipray.observability import metrics, timed
from clipray.pipelines.brand_assets import brand_inputs
from clipray.pipelines.cutaways import cutaways_at
from clipray.pipelines.ingest import IngestContext, Ingested
from clipray.pipelines.music import music_at
from clipray.pipelines.run_options import RunOptions
from clipray.storage.generated import GeneratedLimitError, GeneratedRepo
from clipray.storage.keys import object_key
from clipray.storage.objects import NO_GENERATED_BUCKET, Buckets
from clipray.storage.orm import Clip, ClipStatus, GeneratedKind, Source, utcnow
from clipray.storage.repos import ClipRepo

OnReady = Callable[[Any, Clip], None]
"""``(session, clip)``: called in the transaction that records a rendered clip."""

CLIP_FILES = {"video": "clip.mp4", "thumbnail": "thumbnail.jpg", "fcpxml": "clip.fcpxml",
              "edl": "clip.edl"}  # fmt: skip


@dataclass(frozen=True)
class PlannedClip:
    """Everything a render task needs; cheap to ship to a worker."""

    moment: Candidate
    spec: RenderSpec
    spec_hash: str
    ass: str | None
    fcpxml: str
    edl: str
    thumbnail_at: float
    faces: tuple[FaceAt, ...] = ()
    """Faces on the clip's timeline, for choosing its thumbnails (``clips/thumbs.py``)."""


@dataclass(frozen=True)
class ClipResult:
    id: str
    moment_id: str
    version: int
    start: float
    end: float
    score: float
    title: str
    hashtags: tuple[str, ...]
    reasons: tuple[str, ...]
    files: dict[str, str]
    """video, thumbnail, fcpxml, edl -> bucket URI (or local path after ``copy_out``)."""
    render_spec: dict[str, Any]
    reused: bool
    generated_clip_id: str | None = None
    """The generated clip this render is (``/api/generated-clips/{id}``); None when it was
    not generated (failed, or refused at the workspace's cap)."""


@dataclass(frozen=True)
class JobResult:
    source_id: str
    clips: list[ClipResult]
    no_clips: NoClips | None = None
    """Why no moment was chosen (None when some were)."""

    def to_json(self) -> dict[str, Any]:
        """The result as printed by ``clipray run --json``; ``no_clips`` only when empty."""
        out: dict[str, Any] = {
            "source_id": self.source_id,
            "clips": [
                {"id": c.id, "start": c.start, "end": c.end, "score": c.score, "title": c.title,
                 "reasons": list(c.reasons), **c.files, "render_spec": c.render_spec,
                 "generated_clip_id": c.generated_clip_id}
                for c in self.clips
            ],
        }  # fmt: skip
        if self.no_clips is not None:
            out["no_clips"] = self.no_clips.to_json()
        return out


def audiogram_look(settings: Settings) -> AudiogramSpec:
    """How the configured audiograms look (the cover is decided per source)."""
    return AudiogramSpec(background=settings.audiogram_background, wave=settings.audiogram_wave)


def spec_hash(spec: RenderSpec) -> str:
    return hashlib.sha256(json.dumps(spec.to_json(), sort_keys=True).encode()).hexdigest()


def plan(
    analysis: Analysis,
    item: Ingested,
    opts: RunOptions,
    versions: dict[str, str],
    llm: LlmConfig | None = None,
    on_llm_usage: UsageFn | None = None,
    look: AudiogramSpec | None = None,
    library: Library | None = None, beats: Beats | None = None,
) -> list[PlannedClip]:
    """The clips to render for an analysis (no Ray; I/O only for the optional LLM, whose
    tokens ``on_llm_usage`` hears). ``look``: how audiograms are drawn, for an audio-only
    source (default :class:`AudiogramSpec`); ``library``: the workspace's B-roll and sound
    effects, for ``broll`` and ``sfx``."""
    moments = select(analysis, opts.select_config())
    if llm is not None and llm.base_url:
        moments = rerank(moments, llm, on_usage=on_llm_usage)
    return [plan_moment(analysis, item, m, opts, versions, look, library, beats)
            for m in moments]  # fmt: skip


def plan_moment(
    analysis: Analysis, item: Ingested, m: Candidate, opts: RunOptions,
    versions: dict[str, str], look: AudiogramSpec | None = None,
    library: Library | None = None, beats: Beats | None = None,
) -> PlannedClip:
    """The render plan of one moment (also used to re-render a clip with other settings).

    An audio-only source (no picture to crop) is planned as an audiogram drawn as ``look``
    says, with its cover art when the file has one. ``beats``: the music's, for
    ``beat_sync``. A vertical video clip's captions keep to ``opts.safe_area`` (an
    audiogram's keep their margins: its canvas is laid out around them)."""
    src = analysis.source
    words = list(analysis.words)
    out_w, out_h = ASPECTS[opts.aspect]
    drawn = None if item.info.has_video else replace(look or AudiogramSpec(),
                                                     cover=item.info.has_cover)  # fmt: skip
    reframe, path = None, None
    if drawn is None:
        path = crop_path(src.width, src.height, m.start, m.end, analysis.faces.tracks,
                         analysis.cut_times,
                         ReframeConfig(aspect=opts.aspect, layout=opts.layout),  # type: ignore[arg-type]
                         )  # fmt: skip
        reframe = path.to_ffmpeg_filter()
    effects = None
    if opts.effects.any:
        # an audiogram has no picture to cut, zoom or cut away from in step with its
        # sound: a hook, sound effects, the audio step and the brand kit only
        wanted = opts.effects if drawn is None else EffectsConfig(
            hook=opts.effects.hook, censor=opts.censor, denoise=opts.denoise, music=opts.music,
            sfx=opts.sfx, brand=opts.brand, brand_keys=opts.brand_keys,
            beat_sync=opts.beat_sync)
        peaks = [p.t for p in analysis.audio.peaks] if analysis.audio else []
        effects = plan_graph(wanted, words, m.start, m.end, m.title, m.hashtags, peaks,
                             faces_on_output(path, analysis.faces.tracks, m.start), library,
                             beats)  # fmt: skip
        effects = effects if effects is not None and effects.held else None
    kit = effects.brand if effects is not None else None
    if drawn is not None and kit is not None:  # the kit's canvas colour
        drawn = replace(drawn, background=ffmpeg_colour(kit.background_color))
    captioned = opts.captions != "none"
    safe = opts.safe_area if captioned and drawn is None and out_h > out_w else None
    spec = RenderSpec(
        source_id=src.id, start=m.start, end=m.end, aspect=opts.aspect,
        reframe_filter=reframe, captions=opts.captions, versions=versions, audiogram=drawn,
        layout=opts.layout, effects=effects, emoji=opts.emoji and captioned, safe_area=safe,
    )  # fmt: skip
    ass = None
    style = caption_style(CaptionConfig(style=opts.captions, emoji=spec.emoji,  # type: ignore[arg-type]
                                        safe_area=safe), kit)  # fmt: skip
    cut = effects.base_cut if effects is not None else None
    if effects is not None and effects.audio is not None and effects.audio.censor:
        words = star_words(words, effects.audio.censor)
    if opts.captions != "none" and cut is None:
        ass = build_ass(words, m.start, m.end, out_w, out_h, style)
    elif opts.captions != "none":  # captions on the cut clip's timeline
        ass = build_ass(retime(words, m.start, cut), 0.0, cut.duration, out_w, out_h, style)
    if effects is not None and effects.hook is not None:
        hook = effects.hook
        ass = (ass or build_ass([], 0.0, 1.0, out_w, out_h, style)) + hook_event(
            hook.text, hook.duration, out_w, out_h, style)
    nle = NleClip(
        name=m.title or m.id, source_name=Path(item.source.origin_uri).name or "source.mp4",
        source_url=_media_url(item), source_duration=src.duration,
        # an audiogram's timeline has the canvas' frame (its source has none)
        fps=src.fps or 30.0, width=src.width or out_w, height=src.height or out_h,
        has_audio=src.has_audio, start=m.start, end=m.end,
    )  # fmt: skip
    thumb = best_face_at(analysis.faces.tracks, m.start, m.end)
    if cut is not None:  # on the cut clip's timeline (a frame cut away: the nearest before)
        before = max((a for a, _ in cut.keep if a <= thumb), default=cut.keep[0][0])
        thumb = cut.map_time(thumb) or cut.map_time(before)
    faces = faces_in(analysis.faces.tracks, m.start, m.end, (src.width, src.height),
                     cut.map_time if cut is not None else None)  # fmt: skip
    return PlannedClip(
        m, spec, spec_hash(spec), ass, to_fcpxml(nle), to_edl(nle, m.title),
        thumbnail_at=thumb or 0.0, faces=faces,
    )  # fmt: skip


def _media_url(item: Ingested) -> str:
    origin = item.source.origin_uri
    if origin.startswith("s3://") or Path(origin).is_absolute():
        return origin
    return str(Path(origin).resolve())


def render_and_upload(
    p: PlannedClip, source: str, src_size: tuple[int, int], has_audio: bool, settings: Settings,
    workspace_id: str, clip_id: str,
) -> tuple[dict[str, str], int, dict[str, Any] | None]:  # fmt: skip
    """One clip, on a Ray worker: render, then upload its four files to the app-owned bucket.
    Returns their keys, the video's size and how the render came out (its loudness and
    encoder: ``Rendered.results``)."""
    from clipray.cluster.services import open_storage

    generated = open_storage(settings).generated
    if generated is None:
        raise GenerationSkipped(NO_GENERATED_BUCKET)
    store = generated.scoped(workspace_id)
    with tempfile.TemporaryDirectory(prefix="clipray-render-") as tmp:
        work = Path(tmp)
        with timed("render", output_s=p.spec.duration):
            kit = brand_inputs(p.spec, settings, workspace_id, work)
            done = render_clip(p.spec, source, src_size, has_audio, work, p.ass,
                               ffmpeg=settings.ffmpeg_bin,
                               music=music_at(p.spec, settings, workspace_id),
                               media=cutaways_at(p.spec, settings, workspace_id),
                               brand=kit, encoder=settings.render_encoder)  # fmt: skip
            thumbs = titled_thumbnails(settings.ffmpeg_bin, done.video, p.spec.output_duration,
                                       p.moment.title, p.faces, work,
                                       offset=done.intro)  # fmt: skip
        (work / CLIP_FILES["fcpxml"]).write_text(p.fcpxml, encoding="utf-8")
        (work / CLIP_FILES["edl"]).write_text(p.edl, encoding="utf-8")
        files = {
            "video": done.video,
            "fcpxml": work / CLIP_FILES["fcpxml"],
            "edl": work / CLIP_FILES["edl"],
            **{"thumbnail" if n == 0 else f"thumbnail-{n}": t for n, t in enumerate(thumbs)},
        }
        types = {"video": "video/mp4", "fcpxml": "application/xml", "edl": "text/plain"}
        keys, size = {}, 0
        for kind, path in files.items():
            key = object_key(workspace_id, "clips", clip_id, path.name)
            info = store.put_file(key, path, content_type=types.get(kind, "image/jpeg"))
            keys[kind] = key
            size = info.size if kind == "video" else size
        return keys, size, done.results()


def render_all(
    settings: Settings, ctx: IngestContext, item: Ingested, planned: list[PlannedClip],
    source: str, *, log_to_driver: bool = True,
) -> list[ClipResult]:  # fmt: skip
    """Record each planned clip (a moment already rendered with this spec is reused), then
    render those not rendered yet, one Ray task each."""
    ids: dict[str, str] = {}
    todo: list[str] = []
    with ctx.db.session() as s:
        repo = ClipRepo(s, ctx.workspace_id)
        for p in planned:
            row = repo.find(p.moment.id, p.spec_hash)
            if row is None:
                row = repo.add(planned_row(p, item.source.id, p.moment.id))
            if row.status is not ClipStatus.RENDERED:
                todo.append(row.id)
            ids[p.moment.id] = row.id
    if todo:
        connect_ray(settings, log_to_driver=log_to_driver)
        done = render_clips(settings, ctx, item.source, todo, source_uri=source)
        if done.skipped is not None:
            raise GenerationSkipped(done.skipped)
    with ctx.db.session() as s:
        repo = ClipRepo(s, ctx.workspace_id)
        rows = {m: repo.get(cid) for m, cid in ids.items()}
    return [_result(rows[p.moment.id], ctx.buckets, reused=ids[p.moment.id] not in todo)
            for p in planned]  # fmt: skip


def planned_row(p: PlannedClip, source_id: str, moment_id: str, job_id: str | None = None
                ) -> Clip:  # fmt: skip
    """A pending clip row carrying everything its render needs, so that rendering can run
    (or resume after a crash) from the database alone."""
    m = p.moment
    return Clip(
        source_id=source_id, job_id=job_id, moment_id=moment_id, status=ClipStatus.PENDING,
        start_s=m.start, end_s=m.end, score=m.score, title=m.title[:200], description=m.text,
        hashtags=list(m.hashtags), reasons=list(m.reasons), render_spec=p.spec.to_json(),
        spec_hash=p.spec_hash,
        plan={"ass": p.ass, "fcpxml": p.fcpxml, "edl": p.edl, "thumbnail_at": p.thumbnail_at,
              "faces": faces_json(p.faces)},
    )  # fmt: skip


def planned_of(row: Clip) -> PlannedClip:
    """The render plan stored on a clip row (the inverse of :func:`planned_row`)."""
    extra = row.plan or {}
    moment = Candidate(id=row.moment_id, start=row.start_s, end=row.end_s, text=row.description,
                       title=row.title, hashtags=tuple(row.hashtags), score=row.score,
                       reasons=tuple(row.reasons))  # fmt: skip
    return PlannedClip(
        moment, RenderSpec.from_json(row.render_spec), row.spec_hash, extra.get("ass"),
        extra.get("fcpxml", ""), extra.get("edl", ""), float(extra.get("thumbnail_at", 0.0)),
        faces_of(extra.get("faces") or ()),
    )  # fmt: skip


@dataclass(frozen=True)
class RenderOutcome:
    rendered: int = 0
    failed: int = 0
    limited: int = 0
    """Clips not generated because the workspace is at its live generated-clip cap."""
    skipped: str | None = None
    """Why nothing was generated at all (no reachable app-owned bucket)."""


class GenerationSkipped(RuntimeError):
    """Generated clips cannot be stored: no app-owned bucket, or it is unreachable."""


def render_clips(
    settings: Settings,
    ctx: IngestContext,
    source: Source,
    clip_ids: list[str],
    report: Callable[[float], None] | None = None,
    *,
    source_uri: str | None = None,
    on_ready: OnReady | None = None,
) -> RenderOutcome:
    """Render planned clip rows, one Ray task each, recording each outcome as it lands:
    the clip row and its generated clip (upserted on the clip, so a retry reuses it).

    Nothing is rendered when the app-owned bucket cannot take the files (``skipped`` says
    why), and no more than the workspace's live cap allows (the rest fail with
    ``GENERATED_CLIP_LIMIT``). ``source_uri`` is what the workers open (default: a
    presigned URL of the stored source). ``on_ready(session, clip)`` runs in the
    transaction that records each clip rendered (the services emit ``clip.ready`` there).
    """
    import ray

    skipped = ctx.buckets.generation_problem()
    if skipped is not None:
        return RenderOutcome(skipped=skipped)
    cap = settings.generated_clips_max_live
    with ctx.db.session() as s:
        repo = ClipRepo(s, ctx.workspace_id)
        rows = [c for c in (repo.get(i) for i in clip_ids) if c is not None]
        generated = GeneratedRepo(s, ctx.workspace_id)
        # A clip whose generated row is live renders in place: it takes no new slot.
        live_now = generated.live_count()
        room = max(0, cap - live_now)
        todo, refused = [], []
        for c in rows:
            live = c.generated_clip_id is not None
            if live or room > 0:
                todo.append((planned_of(c), c.id))
                room -= 0 if live else 1
            else:
                refused.append(c)
        for c in refused:
            c.status = ClipStatus.FAILED
            c.error = f"{GeneratedLimitError.code}: {GeneratedLimitError(live_now, cap)}"
    if not todo:
        return RenderOutcome(limited=len(refused))
    uri = source_uri or ctx.buckets.media.scoped(ctx.workspace_id).presign_get(
        source.storage_key, expires_in=24 * 3600
    )
    dims = (source.width or 0, source.height or 0)
    has_audio = source.audio_codec is not None
    task = ray.remote(render_and_upload).options(**actor_options(settings.stage("render")))
    refs = {task.remote(p, uri, dims, has_audio, settings, ctx.workspace_id, cid): cid
            for p, cid in todo}  # fmt: skip
    pending, failed = list(refs), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        try:
            (keys, size, results), error = ray.get(ready[0]), None
        except Exception as exc:  # one failed render is recorded, the others go on
            keys, size, results, error = {}, 0, {}, f"{type(exc).__name__}: {exc}"[-2000:]
            metrics.render_failed()
        if not _record(settings, ctx, refs[ready[0]], keys, size, error, results, on_ready):
            failed += 1
        if report is not None:
            report(1 - len(pending) / len(refs))
    return RenderOutcome(rendered=len(refs) - failed, failed=failed, limited=len(refused))


def _record(settings: Settings, ctx: IngestContext, clip_id: str, keys: dict[str, str],
            size: int, error: str | None, results: dict[str, Any],
            on_ready: OnReady | None = None) -> bool:  # fmt: skip
    """Store one render's outcome; True when the clip and its generated row are recorded.
    How the render came out (its loudness, its encoder) goes into its stored spec
    (``with_results``)."""
    replaced = None
    with ctx.db.session() as s:
        clip = ClipRepo(s, ctx.workspace_id).mark_rendered(clip_id, keys, error)
        if clip is not None:
            clip.render_spec = with_results(clip.render_spec, results)
        if clip is not None and error is None:
            kind = GeneratedKind.LLM_RANKED if settings.llm_base_url else GeneratedKind.HEURISTIC
            try:
                _, replaced = GeneratedRepo(s, ctx.workspace_id).record(
                    clip, size, kind, utcnow(), settings.generated_clip_retention_days,
                    settings.generated_clips_max_live,
                )  # fmt: skip
            except GeneratedLimitError as exc:  # another render took the last slot
                clip.status, clip.error = ClipStatus.FAILED, f"{exc.code}: {exc}"
                clip.video_key = clip.thumbnail_key = clip.fcpxml_key = clip.edl_key = None
                error = str(exc)
            else:
                if on_ready is not None:
                    on_ready(s, clip)
    store = ctx.buckets.generated.scoped(ctx.workspace_id)  # type: ignore[union-attr]
    if replaced:
        store.delete(replaced)  # a replaced object is deleted, never left behind
    if error is not None and keys:
        for key in keys.values():
            store.delete(key)
    return error is None


def _result(row: Clip, buckets: Buckets, reused: bool) -> ClipResult:
    bucket = buckets.generated.bucket if buckets.generated is not None else ""
    keys = {"video": row.video_key, "thumbnail": row.thumbnail_key, "fcpxml": row.fcpxml_key,
            "edl": row.edl_key}  # fmt: skip
    return ClipResult(
        id=row.id, moment_id=row.moment_id, version=row.version, start=row.start_s,
        end=row.end_s, score=row.score, title=row.title, hashtags=tuple(row.hashtags),
        reasons=tuple(row.reasons),
        files={k: f"s3://{bucket}/{v}" if v else "" for k, v in keys.items()},
        render_spec=row.render_spec, reused=reused, generated_clip_id=row.generated_clip_id,
    )  # fmt: skip


def copy_out(result: JobResult, buckets: Buckets, workspace_id: str, out: Path) -> JobResult:
    """Download each clip's files to ``out`` and point the result at the local copies."""
    store = buckets.generated.scoped(workspace_id)
    prefix = f"s3://{buckets.generated.bucket}/"
    clips = []
    for n, c in enumerate(result.clips, 1):
        files = {}
        for kind, uri in c.files.items():
            if not uri:
                files[kind] = ""
                continue
            name = f"{n:02d}-{c.moment_id[:8]}-v{c.version}{Path(uri).suffix}"
            files[kind] = str(store.download(uri.removeprefix(prefix), out / name))
        clips.append(replace(c, files=files))
    return replace(result, clips=clips)
