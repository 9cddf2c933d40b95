"""Publishing from the terminal: publish, calendar.

clipray publish CLIP_ID --to ACCOUNT_ID [--at TIME] [--title T] [--description D] [--hashtag H]
clipray calendar [--from DATE] [--to DATE]

The commands act as the local user (the workspace's owner), through the same service as
``/api/publish`` and ``/api/publish/calendar``: a publication made here is ``pending`` (or
``scheduled`` with ``--at``) and waits for the publisher like one made over HTTP.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from clipray.cli.common import _settings, _workspace_database, app, out
from clipray.domain.time import rfc3339


def parse_at(text: str) -> datetime:
    """``--at``: ISO 8601 with an offset, or without one a local time of this machine's
    zone; returned in UTC."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-24T18:00, "
                                 "2026-12-24T18:00+01:00)", param_hint="--at") from exc  # fmt: skip
    if at.tzinfo is None:
        at = at.astimezone()  # the machine's zone, its offset on that date (DST included)
    return at.astimezone(UTC)


def _stamp(t: datetime | None) -> str | None:
    return rfc3339(t) if t else None


def _row(v: Any) -> dict[str, Any]:
    """A publication as ``--json`` prints it: the API's shape."""
    stamp = _stamp
    return {"id": v.id, "clip_id": v.clip_id, "clip_kind": v.clip_kind,
            "account_id": v.account_id, "platform": v.platform, "status": v.status,
            "platform_post_id": v.platform_post_id, "url": v.url,
            "error": {"code": v.error[0], "message": v.error[1]} if v.error else None,
            "metadata": v.metadata, "scheduled_at": stamp(v.scheduled_at),
            "published_at": stamp(v.published_at), "created_at": stamp(v.created_at),
            "requested_by": v.requested_by, "decided_by": v.decided_by}  # fmt: skip


@app.command("publish")
def publish(
    ctx: typer.Context,
    clip_id: Annotated[str, typer.Argument(help="A rendered clip's id or a generated clip's id.")],
    to: Annotated[list[str], typer.Option("--to", help="Connected account id (repeatable; "
                                          "`clipray accounts list`).")],
    at: Annotated[str | None, typer.Option(help="Publish at this time instead of now: ISO 8601 "
                                           "with an offset, or a local time of this machine "
                                           "(shown back in UTC).")] = None,
    title: Annotated[str, typer.Option(help="Title (default: the clip's).")] = "",
    description: Annotated[str, typer.Option(help="Description or caption.")] = "",
    hashtag: Annotated[list[str] | None, typer.Option("--hashtag", help="Hashtag, with or "
                                                      "without # (repeatable).")] = None,
    privacy: Annotated[str | None, typer.Option(help="The platform's visibility value (e.g. "
                                                "YouTube public; default: private where the "
                                                "platform allows).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the publications as JSON, "
                                          "in the API's shape.")] = False,
) -> None:
    """Publish a clip to connected accounts, now or at --at: prints each publication's id
    and status (pending or scheduled; the publisher posts it)."""
    from clipray.publish.base import PostMetadata
    from clipray.services import accounts, publications

    when = parse_at(at) if at is not None else None
    settings = _settings(ctx)
    db, ws = _workspace_database(settings)
    try:
        from clipray.cluster.services import open_storage

        who, actor = accounts.local_caller(db, ws.id)
        meta = PostMetadata(title=title, description=description,
                            hashtags=tuple(hashtag or ()), privacy=privacy)  # fmt: skip
        made = publications.create(db, open_storage(settings), settings, who, actor,
                                   publications.PublishRequest((clip_id,), tuple(to), meta,
                                                               when))  # fmt: skip
    finally:
        db.dispose()
    if as_json:
        out.print_json(json.dumps({"data": [_row(v) for v in made.publications]}))
        return
    for v in made.publications:
        due = f" at {rfc3339(v.scheduled_at)} (UTC)" if v.scheduled_at else ""
        out.print(f"{v.id}  {v.status}{due}  {v.platform} account {v.account_id}",
                  highlight=False, soft_wrap=True)  # fmt: skip


@app.command("calendar")
def calendar(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (UTC; "
                                              "default today).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, inclusive (default: 28 "
                                            "days in all; at most 92).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calendar as JSON, in the "
                                          "API's shape.")] = False,
) -> None:
    """The content calendar: scheduled, publishing and published publications by UTC day."""
    from clipray.services import accounts, publications

    first, last = _day(start, "--from"), _day(end, "--to")
    db, ws = _workspace_database(_settings(ctx))
    try:
        who, _ = accounts.local_caller(db, ws.id)
        cal = publications.calendar(db, who, first, last)
    finally:
        db.dispose()
    if as_json:
        doc = {"from": cal.start.isoformat(), "to": cal.end.isoformat(),
               "days": [{"date": d.day.isoformat(),
                         "publications": [_row(v) for v in d.publications]}
                        for d in cal.days]}  # fmt: skip
        out.print_json(json.dumps(doc))
        return
    out.print(f"{cal.start} to {cal.end} (UTC)", highlight=False, soft_wrap=True)
    if not cal.days:
        out.print("nothing scheduled or published in this range", highlight=False)
    for d in cal.days:
        out.print(f"\n{d.day:%a %Y-%m-%d}", highlight=False)
        for v in d.publications:
            when = v.published_at if v.status == "published" and v.published_at else (
                v.scheduled_at or v.created_at)  # fmt: skip
            title = str(v.metadata.get("title") or "")
            out.print(f"  {when:%H:%M}  {v.status:<10}  {v.platform:<9}  {v.clip_id}  {v.id}"
                      f"  {title}".rstrip(), highlight=False, soft_wrap=True,
                      markup=False)  # fmt: skip


def _day(text: str | None, hint: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not a date: {text!r} (YYYY-MM-DD)", param_hint=hint) from exc
