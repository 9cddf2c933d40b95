"""Service lifecycle: up, serve, down, status, doctor.

clipray up        # embedded S3, migrations, default workspace, local Ray head
clipray status    # what runs, where
clipray doctor    # is this machine ready? each line OK or the fix
clipray serve     # the HTTP API on Ray Serve (127.0.0.1:8000), with the job runner
clipray down      # stop what ``up`` started (data stays)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clipray import __version__
from clipray.cli.common import (
    _settings,
    app,
    out,
)
from clipray.cluster import doctor as doctor_checks
from clipray.cluster.services import (
    bring_down,
    bring_up,
    connect_ray,
    embedded_s3,
    ensure_workspace,
    local_ray_head,
    open_database,
)
from clipray.config import Settings
from clipray.storage import migrate


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
    s3_note = f" (adopted: {report.s3_adopted})" if report.s3_adopted else ""
    out.print(f"[green]OK[/] S3 {s3_word} at {report.s3_endpoint}{s3_note}", soft_wrap=True)
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
        dash += f" (adopted: {report.ray_adopted})" if report.ray_adopted else ""
        out.print(f"[green]OK[/] Ray {ray_word} at {report.ray_address}{dash}", soft_wrap=True)
        _start_actors(settings)
        out.print("[green]OK[/] job runner, retention keeper, stream supervisor and publisher "
                  "running")


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
    if served.note:
        out.print(f"[yellow]note[/] {served.note}", highlight=False, soft_wrap=True)
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
    for name, outcome in bring_down(_settings(ctx)).items():
        out.print(f"{name}: {outcome}", highlight=False, soft_wrap=True)


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
            "found_by": s3.found_by,
            "note": s3.note,
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
            "address": head.address(st),
            "dashboard": head.dashboard_url(st),
            "found_by": st.found_by,
            "note": st.note,
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
    for name in ("s3", "ray"):
        if info[name].get("note"):
            out.print(f"{name}: {info[name]['note']}", highlight=False, soft_wrap=True)


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
