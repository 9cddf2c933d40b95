"""Generated clips and their retention: clips keep, retention sweep.

clipray clips keep GENERATED_ID   # it never expires
clipray retention sweep           # purge expired clips and orphaned objects now
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from clipray.cli.common import (
    _settings,
    _workspace_database,
    app,
    out,
)

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
    from dataclasses import asdict
    from datetime import UTC, datetime

    from clipray.services.retention import Sweeper

    at = None
    if now is not None:
        try:
            at = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError as exc:
            raise typer.BadParameter(f"not an ISO-8601 time: {now!r}", param_hint="--now") from exc
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    settings = _settings(ctx)
    db = _workspace_database(settings)[0]  # refuses an unmigrated database first
    try:
        report = asdict(Sweeper(settings, db).sweep(at or datetime.now(UTC)))
    finally:
        db.dispose()
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
    from clipray.domain.audit import Actor
    from clipray.services import accounts, generated

    db, ws = _workspace_database(_settings(ctx))
    try:
        row = generated.keep(db, ws.id, generated_id, Actor(accounts.local_user(db)))
    finally:
        db.dispose()
    out.print(f"[green]OK[/] {generated_id} is {row.status.value}: it will not expire")
