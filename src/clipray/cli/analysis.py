"""Analysis and the main job: analyze, batch, run, demo.

clipray analyze talk.mp4            # scenes, speech, faces, audio, embeddings (cached)
clipray run talk.mp4 --out clips/   # analyse, pick the best moments, render them
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clipray.cli.common import (
    WorkspaceOption,
    _settings,
    _workspace_database,
    app,
    err,
    out,
)
from clipray.cli.progress import StageProgress
from clipray.cluster.services import (
    open_storage,
)
from clipray.config import Settings


def _analysis_context(settings: Settings) -> tuple[Any, Any]:
    """Database and buckets of the running services, in the CLI's workspace.

    The analysis modules load the model stack (the ``ml`` extra): imported here, so that
    ``up``, ``status`` and ``doctor`` work without it.
    """
    from clipray.services.sources import ingest_context

    db, ws = _workspace_database(settings)
    return db, ingest_context(settings, open_storage(settings), db, ws.id)


@app.command()
def analyze(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A video file or an s3://bucket/key URI.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the analysis as one JSON document.")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Analyse a video: scenes, speech with word timings, face tracks, audio energy, embeddings.

    Reuses an earlier analysis of the same bytes with the same settings.
    """
    from clipray.services.main_job import analyse, expected_parts, ingest_uri

    settings = _settings(ctx, workspace)
    db, ictx = _analysis_context(settings)
    try:
        with err.status("ingesting..."):
            item = ingest_uri(ictx, source)
        with StageProgress(err) as bar:
            parts = expected_parts(settings, item)
            bar.stage("analysing", total=parts)
            outcome = analyse(
                settings, ictx, item, source, bar.advance, log_to_driver=not as_json,
                on_stage=lambda m: bar.stage(m, parts if m == "analysing" else None),
            )  # fmt: skip
    finally:
        db.dispose()
    a = outcome.analysis
    assert a is not None  # a failed analysis raised ANALYSIS_FAILED
    if as_json:
        print(json.dumps(a.to_json()))
        return
    words = sum(1 for _ in a.words)
    cached = " (cached analysis)" if outcome.cached else ""
    sound = "" if a.source.has_video else ", audio only: no scenes or faces"
    out.print(f"source {a.source.id} ({a.source.duration or 0.0:.1f} s{sound}){cached}")
    out.print(f"  scenes   {len(a.scenes)}")
    out.print(f"  speech   {len(a.transcript.segments)} segments, {words} words")
    out.print(f"  faces    {len(a.faces.tracks)} tracks")
    out.print(f"  audio    {len(a.audio.peaks) if a.audio else 0} energy peaks")
    emb = a.embeddings
    out.print(f"  frames   {emb.count} embeddings" if emb else "  frames   no embeddings "
              "(visual search off: set CLIPRAY_CLIP_PRETRAINED)")  # fmt: skip


@app.command()
def batch(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="s3://bucket/prefix/ holding the videos.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Analyse every video under a bucket prefix; failures are recorded, never fatal."""
    from clipray.pipelines.batch import BatchSummary, run_batch, summary_lines

    settings = _settings(ctx, workspace)
    _analysis_context(settings)[0].dispose()  # fail early when the services are not up
    summary: BatchSummary = run_batch(
        settings,
        prefix,
        on_video=lambda uri, status: err.print(f"{status}: {uri}", highlight=False),
    )
    if as_json:
        print(json.dumps(asdict(summary)))
    else:
        for line in summary_lines(summary):
            out.print(line, highlight=False)


@app.command()
def run(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A video file or an s3://bucket/key URI.")],
    max_clips: Annotated[int, typer.Option(min=1, max=50, help="Most clips to make.")] = 5,
    min_duration: Annotated[float, typer.Option(min=1.0, help="Shortest clip, seconds.")] = 15.0,
    max_duration: Annotated[float, typer.Option(min=1.0, help="Longest clip, seconds.")] = 60.0,
    aspect: Annotated[str, typer.Option(help="9:16, 1:1 or 16:9.")] = "9:16",
    captions: Annotated[
        str, typer.Option(help="highlight_word, karaoke, pop_in, typewriter, bounce or none.")
    ] = "highlight_word",
    layout: Annotated[
        str, typer.Option(help="auto (the speaker; split while two speak), speaker, split or wide.")
    ] = "auto",
    zooms: Annotated[
        str | None, typer.Option(help="Zooms on emphasis: smooth, snap, ken_burns or pulse.")
    ] = None,
    hook: Annotated[
        str | None, typer.Option(help="A title over each clip's first seconds ('auto': its title).")
    ] = None,
    remove_fillers: Annotated[
        bool, typer.Option("--remove-fillers", help="Cut 'um', 'uh' and long pauses out.")
    ] = False,
    censor: Annotated[
        list[str] | None,
        typer.Option(help="A word to mute in the sound and star in the captions (repeatable)."),
    ] = None,
    censor_mode: Annotated[
        str, typer.Option(help="bleep (a 1 kHz tone over the word) or silence.")
    ] = "bleep",
    denoise: Annotated[
        bool, typer.Option("--denoise", help="Reduce background noise in the sound.")
    ] = False,
    music: Annotated[
        str | None, typer.Option(help="Music ducked under the speech: a file or a media key.")
    ] = None,
    transition: Annotated[
        str, typer.Option(help="How --remove-fillers' cuts join: none, crossfade, wipe or zoom.")
    ] = "none",
    broll: Annotated[
        bool, typer.Option("--broll", help="Cut away to the workspace library's B-roll.")
    ] = False,
    sfx: Annotated[
        bool, typer.Option("--sfx", help="Play the library's sound effects on their words.")
    ] = False,
    brand: Annotated[
        str | None, typer.Option(help="A brand kit of the workspace (clipray brand list).")
    ] = None,
    emoji: Annotated[
        bool, typer.Option("--emoji", help="An emoji after caption words like money or fire.")
    ] = False,
    safe_area: Annotated[
        str, typer.Option(help="Keep 9:16 captions clear of: all, tiktok, reels or shorts.")
    ] = "all",
    beat_sync: Annotated[
        bool, typer.Option("--beat-sync", help="Cut on the beats of --music.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also copy the clips' files into this directory.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The main job: analyse (cached), pick the best moments, render them; print the clips."""
    from clipray.clips.captions import STYLES
    from clipray.clips.effects.audio import CensorConfig
    from clipray.clips.effects.graph import (
        CENSOR_MODES,
        TRANSITION_STYLES,
        ZOOM_STYLES,
        GraphError,
    )
    from clipray.clips.effects.plan import check_beat_sync
    from clipray.clips.render import ASPECTS
    from clipray.clips.safe_area import SAFE_AREAS
    from clipray.clips.speaker import JOB_LAYOUTS
    from clipray.pipelines.clipjob import RunOptions

    if aspect not in ASPECTS:
        raise typer.BadParameter(f"use one of {', '.join(ASPECTS)}", param_hint="--aspect")
    if captions not in STYLES:
        raise typer.BadParameter(f"use one of {', '.join(STYLES)}", param_hint="--captions")
    if zooms is not None and zooms not in ZOOM_STYLES:
        raise typer.BadParameter(f"use one of {', '.join(ZOOM_STYLES)}", param_hint="--zooms")
    if hook is not None and not 1 <= len(hook.strip()) <= 120:
        raise typer.BadParameter("a hook is 1 to 120 characters", param_hint="--hook")
    if layout not in JOB_LAYOUTS:
        raise typer.BadParameter(f"use one of {', '.join(JOB_LAYOUTS)}", param_hint="--layout")
    if min_duration > max_duration:
        raise typer.BadParameter("must not exceed --max-duration", param_hint="--min-duration")
    if transition != "none" and transition not in TRANSITION_STYLES:
        raise typer.BadParameter(f"use none or one of {', '.join(TRANSITION_STYLES)}",
                                 param_hint="--transition")  # fmt: skip
    if censor_mode not in CENSOR_MODES:
        raise typer.BadParameter(f"use one of {', '.join(CENSOR_MODES)}",
                                 param_hint="--censor-mode")  # fmt: skip
    try:
        censored = CensorConfig.of({"words": censor or [], "mode": censor_mode})
    except GraphError as exc:
        raise typer.BadParameter(str(exc), param_hint="--censor") from exc
    if safe_area not in SAFE_AREAS:
        raise typer.BadParameter(f"use one of {', '.join(SAFE_AREAS)}", param_hint="--safe-area")
    check_beat_sync(beat_sync, music)
    settings = _settings(ctx, workspace)
    opts = RunOptions(max_clips, min_duration, max_duration, aspect, captions, layout, zooms,
                      hook, remove_fillers, censored, denoise,
                      str(Path(music).resolve()) if music and Path(music).is_file() else music,
                      transition=transition, broll=broll, sfx=sfx,
                      brand_kit_id=brand, emoji=emoji, safe_area=safe_area,
                      beat_sync=beat_sync)
    _run_and_print(settings, source, opts, out, as_json)


def _run_and_print(
    settings: Settings, source: str, opts: Any, out: Path | None, as_json: bool
) -> None:
    from clipray.pipelines.clipjob import copy_out
    from clipray.services.main_job import run_main_job

    db, ictx = _analysis_context(settings)
    try:
        with StageProgress(err) as progress:
            result = run_main_job(
                settings, ictx, source, opts, on_stage=progress.stage, log_to_driver=not as_json
            )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            result = copy_out(result, ictx.buckets, ictx.workspace_id, out)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(result.to_json()))
        return
    table = Table("#", "span", "score", "title", "video", "generated clip",
                  title=f"clips of {result.source_id}")  # fmt: skip
    for n, c in enumerate(result.clips, 1):
        span = f"{c.start:7.1f}-{c.end:7.1f} s"
        table.add_row(str(n), span, f"{c.score:.2f}", escape(c.title), c.files["video"] or "-",
                      c.generated_clip_id or "-")  # fmt: skip
    Console(soft_wrap=True).print(table)
    if result.no_clips is not None:
        why = result.no_clips
        err.print(f"no clip: {escape(why.message)} ({why.code})", highlight=False)


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option(help="Also copy the clips' files into this directory.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Make a sample video on the fly (espeak-ng speech over generated scenes) and run the
    main job on it: two clips of 15-30 s."""
    from clipray.pipelines.clipjob import RunOptions
    from clipray.pipelines.demo import make_demo_video

    settings = _settings(ctx)
    sample = settings.home_dir / "samples" / "demo.mp4"
    if not sample.exists():
        with err.status("making the sample video"):
            make_demo_video(sample, ffmpeg=settings.ffmpeg_bin)
    err.print(f"sample: {sample}", highlight=False)
    opts = RunOptions(max_clips=2, min_duration=15.0, max_duration=30.0)
    _run_and_print(settings, str(sample), opts, out, as_json)
