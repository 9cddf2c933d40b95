"""Virtual clips: a source's cut points and the review of its clips.

clipray sources                       # the workspace's videos
clipray cuts add SOURCE 120           # split the clip holding frame 120
clipray review CLIP approved --out .  # approve a clip: it is exported by stream copy

Each command parses, calls :mod:`clipray.services.cuts`, :mod:`~clipray.services.review`
or :mod:`~clipray.services.sources` (what the HTTP API calls too) and prints; a refusal
escapes to the one printer in :func:`clipray.cli.main` (``error: CODE: message``, exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from clipray.cli.common import _cover_context, _settings, app, err, out

if TYPE_CHECKING:
    from clipray.config import Settings
    from clipray.services.cuts import ClipView, EditResult
    from clipray.storage.db import Database

cuts_app = typer.Typer(help="A source's cut points: list, add, move, remove, undo, history.",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(cuts_app, name="cuts")


@contextmanager
def _local(ctx: typer.Context) -> Iterator[tuple[Settings, Database, str, str]]:
    """The settings, the services' database, the workspace and the local user (who the
    audit trail names); the database is closed when the command is done."""
    settings = _settings(ctx)
    db, ws, user = _cover_context(settings)
    try:
        yield settings, db, ws, user
    finally:
        db.dispose()


def _clip_row(v: ClipView) -> dict[str, Any]:
    r, e = v.row, v.export
    return {
        "id": r.id, "start_frame": r.start_frame, "end_frame": r.end_frame,
        "start": round(v.start, 3), "end": round(v.end, 3), "review": r.review.value,
        "title": r.title, "group_id": r.group_id,
        "export": None if e is None else {"status": e.status.value, "method": e.method,
                                          "key": e.key},
    }  # fmt: skip


def _print_cover(source: Any, clips: list[ClipView], as_json: bool) -> None:
    rows = [_clip_row(v) for v in clips]
    if as_json:
        doc = {"source_id": source.id, "version": source.cut_version, "clips": rows,
               "frame_count": source.frame_count, "frame_rate": source.frame_rate}  # fmt: skip
        out.print_json(json.dumps(doc))
        return
    table = Table(title=f"source {source.id}: {source.frame_count} frames at "
                  f"{source.frame_rate} fps, version {source.cut_version}")  # fmt: skip
    for col in ("clip", "frames", "seconds", "review", "export"):
        table.add_column(col)
    for c in rows:
        export = c["export"]
        done = f"{export['status']} ({export['method'] or '-'})" if export else ""
        table.add_row(c["id"], f"{c['start_frame']}-{c['end_frame']}",
                      f"{c['start']}-{c['end']}", c["review"], done)  # fmt: skip
    out.print(table)


@app.command()
def sources(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The workspace's source videos: id, length, frames, clips, proxy."""
    from clipray.services import sources as service

    with _local(ctx) as (_, db, ws, _user):
        found, _total = service.page(db, ws, limit=100)
    rows = [{"id": r.id, "origin": r.origin_uri, "duration_s": r.duration_s,
             "frame_count": r.frame_count, "frame_rate": r.frame_rate,
             "proxy": r.proxy_status.value} for r in found]  # fmt: skip
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
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, _user):
        cover = cuts.cover(db, ws, source_id)
    _print_cover(cover.source, cover.clips, as_json)


def _print_edit(done: EditResult) -> None:
    edit = done.edit
    out.print(f"[green]OK[/] {edit.op}: cuts {edit.cuts_before} -> {edit.cuts_after} "
              f"(version {edit.version})", highlight=False)  # fmt: skip


@cuts_app.command("add")
def cuts_add(ctx: typer.Context, source_id: SourceArg, frame: int,
             version: VersionOption = None) -> None:  # fmt: skip
    """Cut at FRAME: the clip holding it splits in two."""
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, user):
        _print_edit(cuts.add(db, ws, source_id, user, frame, version))


@cuts_app.command("move")
def cuts_move(ctx: typer.Context, source_id: SourceArg, frame: int, to: int,
              version: VersionOption = None) -> None:  # fmt: skip
    """Move the cut at FRAME to TO (never across another cut)."""
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, user):
        _print_edit(cuts.move(db, ws, source_id, user, frame, to, version))


@cuts_app.command("remove")
def cuts_remove(ctx: typer.Context, source_id: SourceArg, frame: int,
                version: VersionOption = None) -> None:  # fmt: skip
    """Remove the cut at FRAME: its two clips merge."""
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, user):
        _print_edit(cuts.remove(db, ws, source_id, user, frame, version))


@cuts_app.command("undo")
def cuts_undo(ctx: typer.Context, source_id: SourceArg, version: VersionOption = None) -> None:
    """Revert your last cut operation on the source."""
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, user):
        _print_edit(cuts.undo(db, ws, source_id, user, version))


@cuts_app.command("history")
def cuts_history(ctx: typer.Context, source_id: SourceArg,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:  # fmt: skip
    """The audit trail: who did which operation, the cuts before and after, when."""
    from clipray.services import cuts

    with _local(ctx) as (_, db, ws, _user):
        edits, _total = cuts.history(db, ws, source_id, limit=1000)
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
    from clipray.cluster.services import open_storage
    from clipray.services import review as reviews
    from clipray.storage.orm import ReviewStatus

    try:
        wanted = ReviewStatus(status)
    except ValueError as exc:
        raise typer.BadParameter(f"one of {[r.value for r in ReviewStatus]}") from exc
    with _local(ctx) as (settings, db, ws, user):
        done = reviews.review(db, ws, clip_id, user, reviews.ClipChange(review=wanted))
        out.print(f"[green]OK[/] clip {clip_id} is {wanted.value}")
        if done.clip.export is None or not export:
            return
        with err.status("exporting (the first export of a source builds its proxy)"):
            view = reviews.export_now(settings, db, ws, clip_id)
    made = view.export
    assert made is not None
    out.print(f"[green]OK[/] exported {made.frames} frames by {made.method}: {made.key}",
              highlight=False)  # fmt: skip
    if out_dir is not None:
        dest = reviews.save_export(open_storage(settings), ws, view, out_dir / f"{clip_id}.mp4")
        out.print(f"[green]OK[/] {dest}", highlight=False)
