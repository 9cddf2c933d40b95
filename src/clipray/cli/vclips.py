"""Virtual clips: a source's cut points and the review of its clips.

clipray sources                       # the workspace's videos
clipray cuts add SOURCE 120           # split the clip holding frame 120
clipray review CLIP approved --out .  # approve a clip: it is exported by stream copy
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clipray.cli.common import (
    _cover_context,
    _fail,
    _settings,
    app,
    err,
    out,
)
from clipray.cluster.services import (
    open_storage,
)

cuts_app = typer.Typer(help="A source's cut points: list, add, move, remove, undo, history.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(cuts_app, name="cuts")


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
