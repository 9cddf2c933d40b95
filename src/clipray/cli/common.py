"""What every command group shares: the typer ``app``, the consoles, the settings of an
invocation, the services' database, and the one-line error printer.

The command modules register on ``app`` when :mod:`clipray.cli` imports them; nothing
here imports a command module, so any of them can import this one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from clipray.cluster.embedded_s3 import EmbeddedS3Error
from clipray.cluster.ray_head import RayHeadError
from clipray.cluster.services import (
    ServiceUnavailableError,
    UpReport,
    ensure_services,
    ensure_workspace,
    open_database,
)
from clipray.config import Settings
from clipray.domain.ids import InvalidSlugError, check_slug
from clipray.storage import migrate

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


def _ensure_services(settings: Settings) -> None:
    """Start the embedded services where they are down (first use), saying so in one line
    on stderr: stdout carries only a command's result (``--json`` stays parseable)."""
    with err.status("starting the embedded services..."):
        report = ensure_services(settings)
    if report is not None:
        err.print(_started_line(report, settings), highlight=False, soft_wrap=True)


def _started_line(report: UpReport, settings: Settings) -> str:
    done = []
    if report.s3_started:
        done.append(f"S3 at {report.s3_endpoint}")
    if report.migrated_from != report.migrated_to:
        done.append(f"database migrated to {report.migrated_to}")
    what = ", ".join(done) or "already running"
    return (
        f"started the embedded services ({what}) under {settings.home_dir}; "
        "`clipray down` stops them"
    )


def _workspace_database(settings: Settings) -> tuple[Any, Any]:
    """The services' database (refused unless migrated) and the CLI's workspace in it;
    the embedded services are started first where they are down."""
    _ensure_services(settings)
    db = open_database(settings)
    if migrate.current_revision(settings.resolved_database_url) != migrate.head_revision():
        db.dispose()
        raise ServiceUnavailableError(
            "the database is not at the latest migration: run `clipray up`"
        )
    return db, ensure_workspace(db, settings.workspace)


def _cover_context(settings: Settings) -> tuple[Any, str, str]:
    """Database, workspace id and the local user's id (who the audit trail names)."""
    from clipray.services.accounts import local_user

    db, ws = _workspace_database(settings)
    return db, ws.id, local_user(db)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)
