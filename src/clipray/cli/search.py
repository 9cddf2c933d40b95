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
from clipray.cluster.services import (
    connect_ray,
    open_storage,
)


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
    q = Query(query, mode, restrict(source, job_source), limit, page)  # type: ignore[arg-type]
    res = run_search(open_index(settings), ws.id, q, QueryVectors(sentence, visual),
                     settings.search_moment_gap_s)  # fmt: skip
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
        planned = plan_reel(wanted, sources, settings.highlight_max_parts,
                            settings.highlight_max_duration_s)  # fmt: skip
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
