"""The ``clipray`` command: thin; parses, calls a service, prints with rich.

clipray up        # embedded S3, migrations, default workspace, local Ray head
clipray status    # what runs, where
clipray doctor    # is this machine ready? each line OK or the fix
clipray serve     # the HTTP API on Ray Serve (127.0.0.1:8000), with the job runner
clipray down      # stop what ``up`` started (data stays)
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clipray import __version__
from clipray.cluster import doctor as doctor_checks
from clipray.cluster.embedded_s3 import EmbeddedS3Error
from clipray.cluster.ray_head import RayHeadError
from clipray.cluster.services import (
    ServiceUnavailableError,
    bring_down,
    bring_up,
    connect_ray,
    embedded_s3,
    ensure_workspace,
    local_ray_head,
    open_database,
    open_storage,
)
from clipray.config import Settings, get_settings
from clipray.storage import migrate
from clipray.storage.repos import InvalidSlugError, check_slug

app = typer.Typer(
    name="clipray",
    help="Turn long videos into short, ranked clips; search every frame and word. Runs on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

# Failures a user can act on: printed as one line with the fix, exit code 1.
USER_ERRORS: tuple[type[Exception], ...] = (
    ServiceUnavailableError,
    EmbeddedS3Error,
    RayHeadError,
    InvalidSlugError,
)


def _settings(ctx: typer.Context, workspace: str | None = None) -> Settings:
    """The settings of this invocation; a command's own ``--workspace`` wins."""
    settings: Settings = ctx.obj["settings"]
    if workspace is None:
        return settings
    try:
        check_slug(workspace)
    except InvalidSlugError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
    return settings.model_copy(update={"workspace": workspace})


WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Workspace to act in (overrides the global option)."),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"clipray {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace to act in, created on first use (else CLIPRAY_WORKSPACE or local).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    settings = get_settings()
    if workspace is not None:
        try:
            check_slug(workspace)
        except InvalidSlugError as exc:
            raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
        settings = settings.model_copy(update={"workspace": workspace})
    ctx.obj = {"settings": settings}


@app.command()
def up(
    ctx: typer.Context,
    ray: Annotated[
        bool, typer.Option("--ray/--no-ray", help="Start the local Ray head (with its dashboard).")
    ] = True,
) -> None:
    """Start the embedded services, create the buckets, migrate the database, make the workspace."""
    settings = _settings(ctx)
    with out.status("bringing clipray up..."):
        report = bring_up(settings, start_ray=ray)
    s3_word = "started" if report.s3_started else "running"
    out.print(f"[green]OK[/] S3 {s3_word} at {report.s3_endpoint}")
    if report.buckets_created:
        out.print(f"[green]OK[/] buckets created: {', '.join(report.buckets_created)}")
    moved = report.migrated_from != report.migrated_to
    out.print(
        f"[green]OK[/] database at migration {report.migrated_to}"
        + (f" (from {report.migrated_from or 'empty'})" if moved else "")
    )
    out.print(f"[green]OK[/] workspace '{report.workspace}'")
    if report.ray_address:
        ray_word = "started" if report.ray_started else "running"
        dash = f", dashboard {report.dashboard_url}" if report.dashboard_url else ""
        out.print(f"[green]OK[/] Ray {ray_word} at {report.ray_address}{dash}")
        _start_actors(settings)
        out.print("[green]OK[/] job runner and retention keeper running")


def _start_actors(settings: Settings) -> None:
    import ray

    from clipray.actors import ensure_actors

    connect_ray(settings, log_to_driver=False)
    try:
        ray.get([a.status.remote() for a in ensure_actors(settings).values()], timeout=120)
    finally:
        ray.shutdown()  # the actors are detached: they stay with the head


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (CLIPRAY_SERVE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CLIPRAY_SERVE_PORT).")] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return once deployed; the API keeps running.")
    ] = False,
) -> None:
    """Serve the HTTP API on Ray Serve, with the job runner; OpenAPI docs at /docs.

    Starts what `clipray up` starts first. Without --detach it waits; Ctrl-C removes the
    API (the Ray head, the job runner and the data stay; `clipray down` stops them).
    """
    import time

    from clipray.serve.launch import start_api, stop_api

    settings = _settings(ctx)
    update: dict[str, Any] = {}
    if host:
        update["serve_host"] = host
    if port:
        update["serve_port"] = port
    settings = settings.model_copy(update=update) if update else settings
    with out.status("starting the API..."):
        served = start_api(settings)
    out.print(f"[green]OK[/] API at {served.url}  (docs {served.docs_url})")
    if served.up.dashboard_url:
        out.print(f"[green]OK[/] Ray dashboard {served.up.dashboard_url}")
    if detach:
        return
    out.print("Ctrl-C to stop the API")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop_api()
        out.print("API stopped")


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local Ray head and the embedded S3 server. Data stays under CLIPRAY_HOME."""
    stopped = bring_down(_settings(ctx))
    for name, was_running in stopped.items():
        out.print(f"{name}: {'stopped' if was_running else 'was not running'}")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show which services run, where, and the workspace the CLI acts in."""
    settings = _settings(ctx)
    info: dict[str, Any] = {"home": str(settings.home_dir), "version": __version__}
    if settings.uses_embedded_s3:
        s3 = embedded_s3(settings).status()
        info["s3"] = {
            "mode": "embedded",
            "state": s3.state,
            "pid": s3.pid,
            "endpoint": (s3.info or {}).get("endpoint") if s3.state == "running" else None,
        }
    else:
        info["s3"] = {
            "mode": "external",
            "state": "configured",
            "endpoint": settings.s3_endpoint_url,
        }
    if settings.ray_address:
        info["ray"] = {"mode": "external", "state": "configured", "address": settings.ray_address}
    else:
        head = local_ray_head(settings)
        st = head.status()
        info["ray"] = {
            "mode": "local",
            "state": st.state,
            "pid": st.pid,
            "address": head.address(),
            "dashboard": head.dashboard_url(),
        }
    url = settings.resolved_database_url
    db_info: dict[str, Any] = {
        "url": doctor_checks.redact_url(url),
        "head": migrate.head_revision(),
    }
    try:
        db_info["revision"] = migrate.current_revision(url)
    except Exception as exc:  # any driver error: report it, status never fails
        db_info["error"] = doctor_checks.first_line(exc)
    info["database"] = db_info
    info["workspace"] = {"slug": settings.workspace}
    if db_info.get("revision") == db_info["head"]:
        db = open_database(settings)
        try:
            ws = ensure_workspace(db, settings.workspace)
            info["workspace"]["id"] = ws.id
        finally:
            db.dispose()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    table = Table("service", "state", "where", title=f"clipray {__version__} ({info['home']})")
    table.add_row(
        "s3", f"{info['s3']['state']} ({info['s3']['mode']})", info["s3"]["endpoint"] or "-"
    )
    ray_where = info["ray"].get("address") or "-"
    if info["ray"].get("dashboard"):
        ray_where += f"  dashboard {info['ray']['dashboard']}"
    table.add_row("ray", f"{info['ray']['state']} ({info['ray']['mode']})", ray_where)
    db_state = db_info.get("error") or (
        f"migration {db_info.get('revision') or 'none'} (latest {db_info['head']})"
    )
    table.add_row("database", db_state, db_info["url"])
    table.add_row("workspace", info["workspace"]["slug"], info["workspace"].get("id", "-"))
    out.print(table)


@app.command()
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Check ffmpeg, S3, the database, Ray, model weights and GPUs; print a fix for each failure."""
    checks = doctor_checks.run_checks(_settings(ctx))
    failed = any(c.level == "fail" for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        style = {"ok": "[green]OK  [/]", "warn": "[yellow]WARN[/]", "fail": "[red]FAIL[/]"}
        for c in checks:
            out.print(f"{style[c.level]} {escape(c.name)}: {escape(c.detail)}", highlight=False)
            if c.fix and c.level != "ok":
                out.print(f"       fix: {escape(c.fix)}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _workspace_database(settings: Settings) -> tuple[Any, Any]:
    """The services' database (refused unless migrated) and the CLI's workspace in it."""
    db = open_database(settings)
    if migrate.current_revision(settings.resolved_database_url) != migrate.head_revision():
        db.dispose()
        raise ServiceUnavailableError(
            "the database is not at the latest migration: run `clipray up`"
        )
    return db, ensure_workspace(db, settings.workspace)


def _analysis_context(settings: Settings) -> tuple[Any, Any]:
    """Database and buckets of the running services, in the CLI's workspace.

    The analysis modules load the model stack (the ``ml`` extra): imported here, so that
    ``up``, ``status`` and ``doctor`` work without it.
    """
    from clipray.pipelines.ingest import IngestContext

    db, ws = _workspace_database(settings)
    return db, IngestContext.of(settings, open_storage(settings), db, ws.id)


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
    from clipray.pipelines.analyze import analyze_config
    from clipray.pipelines.ingest import ingest
    from clipray.pipelines.runner import AnalysisRunner

    settings = _settings(ctx, workspace)
    db, ictx = _analysis_context(settings)
    try:
        local = None if source.startswith("s3://") else Path(source).expanduser()
        with err.status("ingesting..."):
            item = ingest(ictx, source)
        runner = AnalysisRunner(
            settings, ictx, analyze_config(settings), log_to_driver=not as_json, ray_progress=False
        )
        cfg = runner.cfg
        expect = math.ceil(item.info.duration / cfg.window_s) + (
            math.ceil(item.info.duration / cfg.audio.chunk_s) if item.info.has_audio else 0
        )
        with Progress(
            TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("parts", total=max(expect, 1))
            (outcome,) = runner.run([(item, local)], lambda *_: bar.advance(task))
    finally:
        db.dispose()
    if outcome.document is None:
        err.print(
            f"[red]error:[/] analysis failed: {escape(outcome.error or '')}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    doc = outcome.document
    if as_json:
        print(json.dumps(doc))
        return
    words = sum(len(s["words"]) for s in doc["transcript"]["segments"])
    cached = " (cached analysis)" if outcome.cached else ""
    out.print(f"source {doc['source']['id']} ({doc['source']['duration']:.1f} s){cached}")
    out.print(f"  scenes   {len(doc['scenes'])}")
    out.print(f"  speech   {len(doc['transcript']['segments'])} segments, {words} words")
    out.print(f"  faces    {len(doc['faces']['tracks'])} tracks")
    out.print(f"  audio    {len(doc['audio']['peaks'])} energy peaks")
    emb = doc["embeddings"]
    out.print(f"  frames   {emb['count']} embeddings" if emb else "  frames   no embeddings "
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
        str, typer.Option(help="highlight_word, karaoke, pop_in or none.")
    ] = "highlight_word",
    out: Annotated[
        Path | None, typer.Option(help="Also copy the clips' files into this directory.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The main job: analyse (cached), pick the best moments, render them; print the clips."""
    from clipray.clips.render import ASPECTS
    from clipray.pipelines.clipjob import RunOptions

    if aspect not in ASPECTS:
        raise typer.BadParameter(f"use one of {', '.join(ASPECTS)}", param_hint="--aspect")
    if captions not in ("highlight_word", "karaoke", "pop_in", "none"):
        raise typer.BadParameter(
            "use highlight_word, karaoke, pop_in or none", param_hint="--captions"
        )
    if min_duration > max_duration:
        raise typer.BadParameter("must not exceed --max-duration", param_hint="--min-duration")
    settings = _settings(ctx, workspace)
    opts = RunOptions(max_clips, min_duration, max_duration, aspect, captions)
    _run_and_print(settings, source, opts, out, as_json)


def _run_and_print(
    settings: Settings, source: str, opts: Any, out: Path | None, as_json: bool
) -> None:
    from clipray.pipelines.clipjob import copy_out, run_main_job

    db, ictx = _analysis_context(settings)
    try:
        with err.status("starting") as status:
            result = run_main_job(
                settings, ictx, source, opts, on_stage=status.update, log_to_driver=not as_json
            )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            result = copy_out(result, ictx.buckets, ictx.workspace_id, out)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(result.to_json()))
        return
    table = Table("#", "span", "score", "title", "video", title=f"clips of {result.source_id}")
    for n, c in enumerate(result.clips, 1):
        span = f"{c.start:7.1f}-{c.end:7.1f} s"
        table.add_row(str(n), span, f"{c.score:.2f}", escape(c.title), c.files["video"] or "-")
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


# --- virtual clips -------------------------------------------------------------------------
cuts_app = typer.Typer(help="A source's cut points: list, add, move, remove, undo, history.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(cuts_app, name="cuts")


def _cover_context(settings: Settings) -> tuple[Any, str, str]:
    """Database, workspace id and the local user's id (who the audit trail names)."""
    from clipray.storage.repos import LOCAL_USER_EMAIL, UserRepo

    db, ws = _workspace_database(settings)
    with db.session() as s:
        user = UserRepo(s).ensure(LOCAL_USER_EMAIL, "local user")
        return db, ws.id, user.id


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def _covered_source(ctx: typer.Context, source_id: str) -> Iterator[tuple[Any, Any, str]]:
    """One transaction on a source that has clips: its repository, the row, the user."""
    from clipray.storage.repos import SourceRepo
    from clipray.storage.vclips import CoverRepo

    db, ws, user = _cover_context(_settings(ctx))
    try:
        with db.session() as s:
            source = SourceRepo(s, ws).get(source_id)
            if source is None:
                raise _fail(f"no source {source_id} in this workspace (see `clipray sources`)")
            if source.frame_count is None:
                raise _fail(f"source {source_id} has no clips yet: analyse it first "
                            "(`clipray run`)")  # fmt: skip
            yield CoverRepo(s, ws), source, user
    finally:
        db.dispose()


def _clip_rows(repo: Any, source: Any, rows: list[Any]) -> list[dict[str, Any]]:
    from clipray.pipelines.export import grid_of

    grid = grid_of(source)
    exports = repo.exports_of([r.id for r in rows])
    result = []
    for r in rows:
        export = exports.get(r.id)
        result.append({
            "id": r.id, "start_frame": r.start_frame, "end_frame": r.end_frame,
            "start": round(grid.time_of(r.start_frame), 3),
            "end": round(grid.time_of(r.end_frame), 3),
            "review": r.review.value, "title": r.title, "group_id": r.group_id,
            "export": None if export is None else {"status": export.status.value,
                                                    "method": export.method, "key": export.key},
        })  # fmt: skip
    return result


def _print_cover(source: Any, clips: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        doc = {"source_id": source.id, "version": source.cut_version, "clips": clips,
               "frame_count": source.frame_count, "frame_rate": source.frame_rate}  # fmt: skip
        out.print_json(json.dumps(doc))
        return
    table = Table(title=f"source {source.id}: {source.frame_count} frames at "
                  f"{source.frame_rate} fps, version {source.cut_version}")  # fmt: skip
    for col in ("clip", "frames", "seconds", "review", "export"):
        table.add_column(col)
    for c in clips:
        export = c["export"]
        done = f"{export['status']} ({export['method'] or '-'})" if export else ""
        table.add_row(c["id"], f"{c['start_frame']}-{c['end_frame']}",
                      f"{c['start']}-{c['end']}", c["review"], done)  # fmt: skip
    out.print(table)


@app.command()
def sources(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The workspace's source videos: id, length, frames, clips, proxy."""
    from clipray.storage.repos import SourceRepo

    db, ws, _ = _cover_context(_settings(ctx))
    with db.session() as s:
        rows = [{"id": r.id, "origin": r.origin_uri, "duration_s": r.duration_s,
                 "frame_count": r.frame_count, "frame_rate": r.frame_rate,
                 "proxy": r.proxy_status.value} for r in SourceRepo(s, ws).list()]  # fmt: skip
    if as_json:
        out.print_json(json.dumps({"sources": rows}))
        return
    table = Table()
    for col in ("id", "origin", "seconds", "frames", "proxy"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["origin"], f"{r['duration_s']:.1f}", str(r["frame_count"] or "-"),
                      r["proxy"])  # fmt: skip
    out.print(table)


SourceArg = Annotated[str, typer.Argument(help="Source id (see `clipray sources`).")]
VersionOption = Annotated[
    int | None,
    typer.Option("--version", help="The cut version you edited; refused if it moved since."),
]


@cuts_app.command("list")
def cuts_list(ctx: typer.Context, source_id: SourceArg,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:  # fmt: skip
    """The source's clips in frame order, covering it exactly."""
    with _covered_source(ctx, source_id) as (repo, source, _):
        _print_cover(source, _clip_rows(repo, source, repo.live(source.id)), as_json)


def _cut(ctx: typer.Context, source_id: str, op: str, frame: int, to: int | None,
         version: int | None) -> None:  # fmt: skip
    from clipray.clips.cuts import CutError
    from clipray.storage.vclips import CoverConflictError

    try:
        with _covered_source(ctx, source_id) as (repo, source, user):
            if op == "undo":
                done = repo.undo(source, user, expected_version=version)
            else:
                done = repo.apply(source, op, user, frame=frame, to=to,  # type: ignore[arg-type]
                                  expected_version=version)  # fmt: skip
            edit = done.edit
            out.print(f"[green]OK[/] {edit.op}: cuts {edit.cuts_before} -> {edit.cuts_after} "
                      f"(version {edit.version})", highlight=False)  # fmt: skip
    except (CutError, CoverConflictError) as exc:
        raise _fail(str(exc)) from exc


@cuts_app.command("add")
def cuts_add(ctx: typer.Context, source_id: SourceArg, frame: int,
             version: VersionOption = None) -> None:  # fmt: skip
    """Cut at FRAME: the clip holding it splits in two."""
    _cut(ctx, source_id, "add", frame, None, version)


@cuts_app.command("move")
def cuts_move(ctx: typer.Context, source_id: SourceArg, frame: int, to: int,
              version: VersionOption = None) -> None:  # fmt: skip
    """Move the cut at FRAME to TO (never across another cut)."""
    _cut(ctx, source_id, "move", frame, to, version)


@cuts_app.command("remove")
def cuts_remove(ctx: typer.Context, source_id: SourceArg, frame: int,
                version: VersionOption = None) -> None:  # fmt: skip
    """Remove the cut at FRAME: its two clips merge."""
    _cut(ctx, source_id, "remove", frame, None, version)


@cuts_app.command("undo")
def cuts_undo(ctx: typer.Context, source_id: SourceArg, version: VersionOption = None) -> None:
    """Revert your last cut operation on the source."""
    _cut(ctx, source_id, "undo", 0, None, version)


@cuts_app.command("history")
def cuts_history(ctx: typer.Context, source_id: SourceArg,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:  # fmt: skip
    """The audit trail: who did which operation, the cuts before and after, when."""
    with _covered_source(ctx, source_id) as (repo, source, _):
        edits, _total = repo.history(source.id, limit=1000)
        rows = [{"version": e.version, "op": e.op, "frame": e.frame, "to": e.to_frame,
                 "user_id": e.user_id, "cuts_before": e.cuts_before, "cuts_after": e.cuts_after,
                 "at": e.created_at.isoformat()} for e in edits]  # fmt: skip
    if as_json:
        out.print_json(json.dumps({"edits": rows}))
        return
    for r in rows:
        out.print(f"v{r['version']} {r['at']} {r['op']} {r['frame']}"
                  f"{' -> ' + str(r['to']) if r['to'] is not None else ''}: "
                  f"{r['cuts_before']} -> {r['cuts_after']}", highlight=False)  # fmt: skip


@app.command()
def review(
    ctx: typer.Context,
    clip_id: Annotated[str, typer.Argument(help="Clip id (see `clipray cuts list`).")],
    status: Annotated[str, typer.Argument(help="pending_review, approved, skipped or archived.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Copy the export here.")] = None,
    export: Annotated[
        bool, typer.Option("--export/--no-export", help="Export an approved clip now.")
    ] = True,
) -> None:
    """Review a clip; approving exports it (stream copy from the source's proxy, which is
    built first if it does not exist yet)."""
    from clipray.clips.cuts import CutError
    from clipray.pipelines.export import export_clip
    from clipray.storage.orm import ClipExport, ExportStatus, ReviewStatus
    from clipray.storage.vclips import CoverRepo

    try:
        wanted = ReviewStatus(status)
    except ValueError as exc:
        raise typer.BadParameter(f"one of {[r.value for r in ReviewStatus]}") from exc
    settings = _settings(ctx)
    db, ws, user = _cover_context(settings)
    with db.session() as s:
        repo = CoverRepo(s, ws)
        clip = repo.get(clip_id)
        if clip is None:
            raise _fail(f"no clip {clip_id} in this workspace")
        try:
            row = repo.review(clip, wanted, user)
        except CutError as exc:
            raise _fail(exc.reason) from exc
        export_id = row.id if row is not None else None
    out.print(f"[green]OK[/] clip {clip_id} is {wanted.value}")
    if export_id is None or not export:
        return
    with err.status("exporting (the first export of a source builds its proxy)"):
        export_clip(settings, export_id)  # a worker that holds it already: None, then we wait
    with db.session() as s:
        row = s.get(ClipExport, export_id)
        if row is None or row.status is not ExportStatus.DONE or not row.key:
            raise _fail(f"the export is {row.status.value if row else 'gone'}: "
                        f"{row.error if row else ''}")  # fmt: skip
        key, method, frames = row.key, row.method, row.frames
    out.print(f"[green]OK[/] exported {frames} frames by {method}: {key}", highlight=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"{clip_id}.mp4"
        open_storage(settings).media.scoped(ws).download(key, dest)
        out.print(f"[green]OK[/] {dest}", highlight=False)


# --- generated clips and retention --------------------------------------------------------
retention_app = typer.Typer(help="Retention of generated clips on the app-owned bucket.",
                            no_args_is_help=True)  # fmt: skip
app.add_typer(retention_app, name="retention")
clips_app = typer.Typer(help="Generated clips: keep one so that it never expires.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(clips_app, name="clips")


@retention_app.command("sweep")
def retention_sweep(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(help="Sweep as if it were this time (ISO-8601, e.g. 2026-12-01T00:00Z)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run one sweep now: purge expired generated clips, delete orphaned objects."""
    from datetime import UTC, datetime

    from clipray.actors.retention import RetentionKeeper

    at = None
    if now is not None:
        try:
            at = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError as exc:
            raise typer.BadParameter(f"not an ISO-8601 time: {now!r}", param_hint="--now") from exc
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    settings = _settings(ctx)
    _workspace_database(settings)[0].dispose()  # refuse an unmigrated database first
    report = RetentionKeeper(settings, loop=False).sweep(at)
    if as_json:
        out.print_json(json.dumps(report))
        return
    if report["skipped"]:
        out.print(f"[yellow]skipped[/]: {report['skipped']}")
        return
    out.print(f"[green]OK[/] swept at {report['now']}: {report['purged']} clips purged "
              f"({report['freed_bytes']} bytes), {report['orphans']} orphaned objects "
              f"deleted ({report['orphan_bytes']} bytes)", highlight=False)  # fmt: skip


@clips_app.command("keep")
def clips_keep(
    ctx: typer.Context,
    generated_id: Annotated[str, typer.Argument(help="Generated clip id.")],
) -> None:
    """Keep a generated clip: it will not expire."""
    from clipray.storage.generated import GeneratedRepo
    from clipray.storage.orm import utcnow

    db, ws = _workspace_database(_settings(ctx))
    with db.session() as s:
        repo = GeneratedRepo(s, ws.id)
        row = repo.get(generated_id)
        if row is None or repo.gone(row, utcnow()):
            raise _fail(f"no generated clip {generated_id} in this workspace (or it expired)")
        repo.keep(row, utcnow())
        status = row.status.value
    out.print(f"[green]OK[/] {generated_id} is {status}: it will not expire")


# --- search and highlight reels -----------------------------------------------------------
@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in words.")] = "",
    mode: Annotated[
        str,
        typer.Option(
            help="visual (frames through CLIP), transcript (meaning and keywords), or hybrid "
            "(both, fused by reciprocal rank)."
        ),
    ] = "hybrid",
    source: Annotated[str | None, typer.Option(help="Only this source id.")] = None,
    job: Annotated[str | None, typer.Option(help="Only the source of this job id.")] = None,
    image: Annotated[
        Path | None,
        typer.Option(help="Search frames by this example picture instead of words (visual mode)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Moments per page.")] = 10,
    page: Annotated[int, typer.Option(min=1, help="Page, from 1.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"results": [...]}.')] = False,
) -> None:
    """Search the workspace's videos: moments whose frames or words match QUERY."""
    from clipray.cluster.services import open_index
    from clipray.models.query import QueryEncoders
    from clipray.storage.orm import Job
    from clipray.storage.search import (
        MODES,
        Query,
        QueryVectors,
        SearchError,
        latest_jobs,
        restrict,
        result_dict,
        run_search,
    )

    if mode not in MODES:
        raise typer.BadParameter(f"one of {', '.join(MODES)}", param_hint="--mode")
    if image is not None and mode != "visual":
        raise typer.BadParameter("an example picture searches frames: use --mode visual",
                                 param_hint="--image")  # fmt: skip
    settings = _settings(ctx)
    db, ws = _workspace_database(settings)
    with db.session() as s:
        job_source = None
        if job is not None:
            row = s.get(Job, job)
            if row is None or row.workspace_id != ws.id:
                raise _fail(f"no job {job} in this workspace")
            job_source = row.source_id
    enc = QueryEncoders.from_settings(settings)
    visual = None
    if enc.visual_available and mode != "transcript":
        if image is not None:
            visual = enc.clip_images(_read_image(image))[0]
        elif query.strip():
            visual = enc.clip_texts([query])[0]
    sentence = enc.sentences([query])[0] if mode != "visual" and query.strip() else None
    try:
        q = Query(query, mode, restrict(source, job_source), limit, page)  # type: ignore[arg-type]
        res = run_search(open_index(settings), ws.id, q, QueryVectors(sentence, visual),
                         settings.search_moment_gap_s)  # fmt: skip
    except SearchError as exc:
        raise _fail(f"{exc.code}: {exc}") from exc
    with db.session() as s:
        jobs = latest_jobs(s, ws.id, {m.source_id for m in res.moments})
    results = [result_dict(m, jobs.get(m.source_id)) for m in res.moments]
    if as_json:
        out.print_json(json.dumps({"results": results, "total": res.total, "page": res.page,
                                   "pages": res.pages,
                                   "visual": "available" if enc.visual_available
                                   else "unavailable"}))  # fmt: skip
        return
    if not enc.visual_available and mode == "hybrid":
        err.print("visual search is off (no CLIP weights): the transcript was searched")
    table = Table(title=f"{res.total} moments, page {res.page} of {res.pages}")
    for col in ("source", "seconds", "score", "mode", "text"):
        table.add_column(col)
    for r in results:
        table.add_row(str(r["source_id"]), f"{r['start']:.1f}-{r['end']:.1f}",
                      f"{r['score']:.3f}", str(r["mode"]), escape(str(r["text"])[:80]))  # fmt: skip
    out.print(table)


def _read_image(path: Path) -> Any:
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))[None]
    except OSError as exc:
        raise typer.BadParameter(f"not a picture: {exc}", param_hint="--image") from exc


def _moment(text: str) -> tuple[str, float, float]:
    try:
        sid, span = text.split(":", 1)
        start, end = (float(x) for x in span.split("-", 1))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not SOURCE:START-END (seconds)") from exc
    return sid, start, end


@app.command()
def reel(
    ctx: typer.Context,
    moments: Annotated[
        list[str],
        typer.Argument(
            help="Moments in reel order, each SOURCE:START-END in seconds (e.g. 3fa4...:12.5-20).",
            show_default=False,
        ),
    ],
    title: Annotated[str, typer.Option(help="Title of the reel.")] = "",
    height: Annotated[
        int | None,
        typer.Option(
            min=144, max=2160, help="Height in pixels; default the tallest part's (at most 1080)."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Also save the reel to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Join moments of the workspace's sources into one highlight reel (a generated clip
    of kind highlight-reel on the app-owned bucket, which expires unless kept)."""
    import time

    import ray
    from sqlalchemy import select

    from clipray.cluster.resources import actor_options
    from clipray.pipelines.highlights import (
        ReelRequestError,
        make_highlight,
        plan_reel,
        record_reel,
    )
    from clipray.storage.orm import ExportStatus, HighlightReel, Source

    settings = _settings(ctx)
    db, cover_ws, user = _cover_context(settings)
    wanted = [_moment(m) for m in moments]
    buckets = open_storage(settings)
    problem = buckets.generation_problem()
    if problem or buckets.generated is None:
        raise _fail(problem or "no app-owned bucket is configured")
    with db.session() as s:
        found = {sid: s.get(Source, sid) for sid, _, _ in wanted}
        sources = {k: v for k, v in found.items() if v is not None and v.workspace_id == cover_ws}
        try:
            planned = plan_reel(wanted, sources, settings.highlight_max_parts,
                                settings.highlight_max_duration_s)  # fmt: skip
        except ReelRequestError as exc:
            raise _fail(f"{exc.code}: {exc}") from exc
        reel_id = record_reel(s, cover_ws, planned, title, height, user).id
    connect_ray(settings, log_to_driver=False)
    task = ray.remote(make_highlight).options(**actor_options(settings.stage("reel")))
    with err.status(f"making the reel of {len(planned)} moments"):
        ray.get(task.remote(settings, reel_id))
        while True:  # "skipped": a running job runner took it first; wait for its outcome
            with db.session() as s:
                state = s.scalar(select(HighlightReel.status).where(HighlightReel.id == reel_id))
            if state not in (ExportStatus.PENDING, ExportStatus.RUNNING):
                break
            time.sleep(0.5)
    with db.session() as s:
        done = s.get(HighlightReel, reel_id)
        assert done is not None
        result = {"id": done.id, "status": done.status.value, "error": done.error,
                  "generated_clip_id": done.generated_clip_id, "method": done.method,
                  "duration_s": done.duration_s}  # fmt: skip
        key = None
        if done.generated_clip_id:
            from clipray.storage.generated import GeneratedRepo

            gen = GeneratedRepo(s, cover_ws).get(done.generated_clip_id)
            key = gen.storage_key if gen else None
    if result["status"] != "done":
        raise _fail(f"the reel failed: {result['error']}")
    if output is not None and key:
        buckets.generated.scoped(cover_ws).download(key, output)
        result["file"] = str(output)
    if as_json:
        out.print_json(json.dumps(result))
        return
    out.print(f"[green]OK[/] reel {result['id']}: {result['duration_s']} s, joined by "
              f"{result['method']}, generated clip {result['generated_clip_id']}"
              + (f", saved to {output}" if output else ""), highlight=False)  # fmt: skip


def main() -> None:
    """Console entry point: user-facing failures become one line on stderr, exit code 1."""
    errors = USER_ERRORS
    try:
        from clipray.pipelines.clipjob import GenerationSkipped
        from clipray.pipelines.demo import DemoError
        from clipray.pipelines.ingest import IngestError

        errors = (*errors, IngestError, DemoError, GenerationSkipped)
    except ImportError:  # no ml extra: nothing can raise it
        pass
    try:
        app()
    except errors as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
