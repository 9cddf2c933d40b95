"""Brand kits of the CLI's workspace: brand list, create, upload, delete.

clipray brand create "Main"                 # prints the kit's id
clipray brand upload KIT_ID logo logo.png   # logo | font | background
clipray run talk.mp4 --brand KIT_ID         # the clips wear the kit
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clipray.cli.common import WorkspaceOption, _settings, _workspace_database, app, out

brand_app = typer.Typer(help="Brand kits: a logo, caption colours and font, intro and outro.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(brand_app, name="brand")

_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".webp": "image/webp", ".ttf": "font/ttf", ".otf": "font/otf"}  # fmt: skip
"""A file's type by its suffix (the service checks it again from the bytes)."""


def _kit_json(view: Any) -> dict[str, Any]:
    r = view.row
    return {"id": r.id, "name": r.name, "logo_position": r.logo_position,
            "logo_size": r.logo_size, "logo_opacity": r.logo_opacity,
            "primary_color": r.primary_color, "accent_color": r.accent_color,
            "background_color": r.background_color, "font_family": r.font_family,
            "intro_source_id": r.intro_source_id, "outro_source_id": r.outro_source_id,
            "logo": r.logo_key, "background": r.background_key,
            "font_name": r.font_name}  # fmt: skip


def _context(ctx: typer.Context, workspace: str | None) -> tuple[Any, Any, str]:
    from clipray.cluster.services import open_storage

    settings = _settings(ctx, workspace)
    db, ws = _workspace_database(settings)
    return db, open_storage(settings), ws.id


@brand_app.command("list")
def brand_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the kits as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """The workspace's kits, newest first."""
    from clipray.services import brand

    db, buckets, ws = _context(ctx, workspace)
    try:
        views = brand.kits(db, buckets, ws)
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps([_kit_json(v) for v in views]))
        return
    table = Table("id", "name", "logo", "font", "background", "intro", "outro")
    for v in views:
        r = v.row
        table.add_row(r.id, r.name, *("yes" if k else "-" for k in (
            r.logo_key, r.font_key, r.background_key, r.intro_source_id, r.outro_source_id)))
    out.print(table)


@brand_app.command("create")
def brand_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The kit's name (1 to 80 characters).")],
    workspace: WorkspaceOption = None,
) -> None:
    """A new kit with the default look; prints its id."""
    from clipray.services import brand

    db, buckets, ws = _context(ctx, workspace)
    try:
        view = brand.create_kit(db, buckets, ws, {"name": name})
    finally:
        db.dispose()
    out.print(view.row.id, highlight=False)


@brand_app.command("upload")
def brand_upload(
    ctx: typer.Context,
    kit_id: Annotated[str, typer.Argument(help="The kit's id.")],
    kind: Annotated[str, typer.Argument(help="logo, font or background.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="A PNG, JPEG or WebP picture; a TTF or OTF font.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Upload the kit's logo, font or background (replacing the one it had)."""
    from clipray.services import brand

    db, buckets, ws = _context(ctx, workspace)
    try:
        brand.put_asset(db, buckets, ws, kit_id, kind, _TYPES.get(file.suffix.lower()),
                        file.read_bytes(), file.name)  # fmt: skip
    finally:
        db.dispose()
    out.print(f"[green]OK[/] {kind} of {kit_id}: {file.name}", highlight=False)


@brand_app.command("delete")
def brand_delete(
    ctx: typer.Context,
    kit_id: Annotated[str, typer.Argument(help="The kit's id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Delete the kit and its uploaded files (clips already rendered keep theirs)."""
    from clipray.services import brand

    db, buckets, ws = _context(ctx, workspace)
    try:
        brand.delete_kit(db, buckets, ws, kit_id)
    finally:
        db.dispose()
    out.print(f"[green]OK[/] deleted {kit_id}")
