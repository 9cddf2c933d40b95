"""Search the workspace's videos and join moments into a highlight reel.

clipray search "the robot arm" --mode hybrid
clipray reel SOURCE:12.5-20 SOURCE:40-48 --out reel.mp4
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clipray.cli.common import (
    _cover_context,
    _fail,
    _settings,
    _workspace_database,
    app,
    err,
    out,
)
from clipray.cluster.services import open_storage


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
    import asyncio

    from clipray.cluster.services import open_index
    from clipray.services import search as service

    if mode not in service.MODES:
        raise typer.BadParameter(f"one of {', '.join(service.MODES)}", param_hint="--mode")
    if image is not None and mode != "visual":
        raise typer.BadParameter("an example picture searches frames: use --mode visual",
                                 param_hint="--image")  # fmt: skip
    settings = _settings(ctx)
    db, ws = _workspace_database(settings)
    picture = _read_image(image) if image is not None else None
    req = service.SearchRequest(query, mode, source, job, limit, page, picture)  # type: ignore[arg-type]
    backends = service.OpenBackends(db, open_index(settings), settings)
    res = asyncio.run(service.search(backends, ws.id, req, service.LocalEncoders(settings)))
    if as_json:
        out.print_json(json.dumps({"results": res.results, "total": res.total,
                                   "page": res.page, "pages": res.pages,
                                   "visual": res.visual}))  # fmt: skip
        return
    if res.visual == "unavailable" and mode == "hybrid":
        err.print("visual search is off (no CLIP weights): the transcript was searched")
    table = Table(title=f"{res.total} moments, page {res.page} of {res.pages}")
    for col in ("source", "seconds", "score", "mode", "text"):
        table.add_column(col)
    for r in res.results:
        table.add_row(str(r["source_id"]), f"{r['start']:.1f}-{r['end']:.1f}",
                      f"{r['score']:.3f}", str(r["mode"]), escape(str(r["text"])[:80]))  # fmt: skip
    out.print(table)


def _read_image(path: Path) -> bytes:
    """The file's bytes; the search service checks and decodes them as the API's."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read it: {exc}", param_hint="--image") from exc


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
    from clipray.services import reels

    settings = _settings(ctx)
    db, cover_ws, user = _cover_context(settings)
    req = reels.ReelRequest([_moment(m) for m in moments], title, height)
    buckets = open_storage(settings)
    with err.status(f"making the reel of {len(req.moments)} moments"):
        state = reels.make_reel(settings, db, buckets, cover_ws, req, user)
    done = state.row
    result: dict[str, Any] = {"id": done.id, "status": done.status.value, "error": done.error,
                              "generated_clip_id": done.generated_clip_id,
                              "method": done.method, "duration_s": done.duration_s}  # fmt: skip
    if result["status"] != "done":
        raise _fail(f"the reel failed: {result['error']}")
    if output is not None and reels.save(buckets, cover_ws, state, output) is not None:
        result["file"] = str(output)
    if as_json:
        out.print_json(json.dumps(result))
        return
    out.print(f"[green]OK[/] reel {result['id']}: {result['duration_s']} s, joined by "
              f"{result['method']}, generated clip {result['generated_clip_id']}"
              + (f", saved to {output}" if output else ""), highlight=False)  # fmt: skip
