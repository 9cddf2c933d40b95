"""Live streams: watch one, list them, follow one's events, stop one.

clipray streams start https://www.twitch.tv/somechannel --keywords goal --keywords wow
clipray streams start rtmp-push        # prints the ingest URL OBS pushes to
clipray streams list
clipray streams watch STREAM_ID        # events, clips and status changes as they happen
clipray streams stop STREAM_ID

The stream supervisor of ``clipray serve`` (or of the cluster) runs the monitors.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clipray.cli.common import _cover_context, _settings, app, out
from clipray.domain.streams import Control

streams_app = typer.Typer(help="Live streams: watch one, list them, follow one, stop one.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(streams_app, name="streams")


def _row(m: Any) -> dict[str, Any]:
    return {"id": m.id, "status": m.status.value, "url": m.url, "push": m.push_port is not None,
            "clips_generated": m.clips_generated, "last_error": m.last_error,
            "last_seen_at": m.last_seen_at.isoformat() if m.last_seen_at else None}  # fmt: skip


@streams_app.command("start")
def start(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The stream's URL (HLS/DASH, RTMP, SRT or a "
                                            "platform page), or rtmp-push for push ingest.")],
    keywords: Annotated[list[str] | None, typer.Option(
        "--keywords", "-k", help="A word that triggers a clip when spoken (repeatable).")] = None,
    min_duration: Annotated[float | None, typer.Option(help="Shortest clip, seconds.")] = None,
    max_duration: Annotated[float | None, typer.Option(help="Longest clip, seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Watch a live stream; prints its id (and, for rtmp-push, where OBS pushes)."""
    from clipray.services import streams

    settings = _settings(ctx)
    chosen: dict[str, Any] = {"keywords": keywords or []}
    if min_duration is not None:
        chosen["min_duration"] = min_duration
    if max_duration is not None:
        chosen["max_duration"] = max_duration
    db, ws_id, user_id = _cover_context(settings)
    try:
        made = streams.create(settings, db, ws_id, user_id, url, chosen)
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps({"id": made.monitor.id, "status": made.monitor.status.value,
                                   "ingest_url": made.ingest_url}))  # fmt: skip
        return
    out.print(f"stream {made.monitor.id} {made.monitor.status.value}", highlight=False)
    if made.ingest_url:
        out.print(f"push to: {escape(made.ingest_url)}", highlight=False, soft_wrap=True)


@streams_app.command("list")
def list_streams(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Streams per page.")] = 20,
    page: Annotated[int, typer.Option(min=1, help="Page, from 1.")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The workspace's streams, newest first."""
    from clipray.services import streams

    db, ws_id, _ = _cover_context(_settings(ctx))
    try:
        rows, total = streams.page(db, ws_id, limit, (page - 1) * limit)
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps({"data": [_row(r) for r in rows], "total": total}))
        return
    table = Table("id", "status", "source", "clips", "last error")
    for r in rows:
        table.add_row(r.id, r.status.value, escape(r.url or "rtmp-push"), str(r.clips_generated),
                      escape(r.last_error or ""))  # fmt: skip
    out.print(table)


@streams_app.command("stop")
def stop(
    ctx: typer.Context,
    stream_id: Annotated[str, typer.Argument(help="The stream's id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stop watching a stream (its worker drains; its buffer is removed)."""
    from clipray.services import streams

    settings = _settings(ctx)
    db, ws_id, _ = _cover_context(settings)
    try:
        row = streams.control(settings, db, ws_id, stream_id, Control.STOP)
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps(_row(row)))
        return
    out.print(f"stream {row.id} {row.status.value}", highlight=False)


def _line(msg: dict[str, Any]) -> str:
    """One message of a stream's feed as one line for people."""
    at = str(msg.get("at", ""))[11:19]
    kind = msg["type"]
    if kind == "event":
        what = (f"{msg['kind']} {msg['t_start']:.1f}-{msg['t_end']:.1f} s "
                f"strength {msg['strength']:.2f}")  # fmt: skip
    elif kind == "clip":
        what = (f"{msg['id']} {msg['stream_start']:.1f}-{msg['stream_end']:.1f} s "
                f"score {msg['score']:.2f}")  # fmt: skip
    elif kind == "status":
        what = msg["status"] + (f" ({msg['error']})" if msg.get("error") else "")
    else:
        return f"stream {msg.get('status', 'ended')}: no more events"
    return f"{at} {kind:<6} {what}"


class _Stopped(Exception):
    """Ctrl+C, seen between two reads of the stream's events."""


@streams_app.command("watch")
def watch(
    ctx: typer.Context,
    stream_id: Annotated[str, typer.Argument(help="The stream's id.")],
    after: Annotated[int, typer.Option(min=0, help="Start after this event's seq (0: "
                                                   "from the oldest kept).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Follow a stream: its events, clips and status changes, one line each as they
    happen, until the stream is stopped (Ctrl+C ends it sooner)."""
    import signal
    import threading

    from clipray.services import stream_events

    settings = _settings(ctx)
    db, ws_id, _ = _cover_context(settings)
    # Ctrl+C ends the wait between two reads: a KeyboardInterrupt raised inside a database
    # call could leave the connection pool's lock held, and closing it would then hang.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def nap(seconds: float) -> None:
        if stop.wait(seconds):
            raise _Stopped

    try:
        stream_events.check(db, ws_id, stream_id)
        for msg in stream_events.watch(db, settings, stream_id, after, sleep=nap):
            typer.echo(json.dumps(msg) if as_json else _line(msg))
            if stop.is_set():
                break
    except _Stopped:
        pass
    finally:
        db.dispose()
