"""The ``clipray`` command: thin; parses, calls a service, prints with rich.

clipray up        # embedded S3, migrations, default workspace, local Ray head
clipray status    # what runs, where
clipray doctor    # is this machine ready? each line OK or the fix
clipray serve     # the HTTP API on Ray Serve (127.0.0.1:8000), with the job runner
clipray down      # stop what ``up`` started (data stays)

One module per command group registers its commands on :data:`app`, in the order that
``clipray --help`` lists them: ``services``, ``analysis``, ``vclips``, ``generated``,
``search``, ``accounts``, ``streams``, ``publish``; shared helpers live in ``common``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from clipray import __version__
from clipray.cli.common import USER_ERRORS, app, err, out
from clipray.cluster.logs import route_output
from clipray.config import get_settings
from clipray.domain.ids import InvalidSlugError, check_slug
from clipray.schemas import CodedError

# isort: off
# The groups register their commands on ``app`` as they are imported: this is --help's order.
from clipray.cli import services, analysis, vclips, generated, search, accounts, streams, publish
from clipray.cli import brand
# isort: on

__all__ = ["accounts", "analysis", "app", "brand", "generated", "main", "publish", "search",
           "services", "streams", "vclips"]  # fmt: skip


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
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also print Ray's, its workers' and the models' output (always in "
            "CLIPRAY_HOME/logs/clipray.log).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    settings = get_settings()
    route_output(settings.home_dir, verbose=verbose)
    if workspace is not None:
        try:
            check_slug(workspace)
        except InvalidSlugError as exc:
            raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
        settings = settings.model_copy(update={"workspace": workspace})
    ctx.obj = {"settings": settings}


def main() -> None:
    """Console entry point: user-facing failures become one line on stderr, exit code 1;
    a refusal (:class:`~clipray.schemas.CodedError`) escaping any command is printed here
    as ``error: CODE: message``, exit code 2, so that commands need not catch it."""
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
    except CodedError as exc:  # a refusal: its machine-readable code, then why
        err.print(f"[red]error:[/] {escape(exc.code)}: {escape(str(exc))}",
                  highlight=False, soft_wrap=True)  # fmt: skip
        sys.exit(2)
