"""Publications: asking for them, deciding on an editor's request, cancelling, and reading
them (the list, one, the content calendar). The one flow behind ``/api/publish``,
``/api/clips/batch/publish`` and ``clipray publish|calendar``; executing a publication
(claim, upload, retry) is ``services/publishing.py``'s.

:func:`create` makes one publication per clip and account, all or none: every clip must be
rendered (or a generated clip not purged) with its video on the bucket, every account the
workspace's, active, on a configured platform, and the metadata must fit each platform
(:func:`prepare_metadata`). An admin's or owner's publication is ``pending`` (or
``scheduled`` for ``scheduled_at``); an editor's is ``requested`` until an admin or owner
approves it (:func:`approve`, :func:`reject`). A repeated ``Idempotency-Key`` returns what
the first request made; the database's unique rules decide between concurrent requests.

    >>> made = create(db, buckets, settings, who, actor,                      # doctest: +SKIP
    ...               PublishRequest(("c1",), ("a1",), PostMetadata(title="Launch")))
    >>> made.replayed, [p.status for p in made.publications]
    (False, ['pending'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from clipray.config import Settings
from clipray.domain.audit import Actor, AuditAction
from clipray.domain.errors import CodedError, Conflict, Forbidden, not_found
from clipray.domain.publications import CANCELLABLE, ClipKind, PublicationStatus
from clipray.domain.time import utcnow
from clipray.publish.base import PlatformOff, PostMetadata
from clipray.publish.requests import (
    MAX_ACCOUNTS,
    MAX_CLIPS,
    calendar_range,
    check_key,
    check_schedule,
    prepare_metadata,
    unique_ids,
)
from clipray.serve.permissions import Action
from clipray.services import audit
from clipray.services.access import Membership, owned
from clipray.services.connections import AccountUnusable
from clipray.services.generated import store as generated_store
from clipray.storage.db import Database
from clipray.storage.generated import GeneratedRepo
from clipray.storage.keys import is_id
from clipray.storage.objects import Buckets
from clipray.storage.orm import (
    Clip,
    ClipStatus,
    ConnectedAccount,
    ConnectionStatus,
    GeneratedClip,
    Publication,
)
from clipray.storage.publications import Filters, PublicationRepo


class PublicationExists(Conflict):
    """409 ``PUBLICATION_EXISTS``: the clip already has an open publication to the account."""

    def __init__(self, rows: Sequence[Publication]) -> None:
        first = rows[0]
        super().__init__("PUBLICATION_EXISTS",
                         f"clip {first.clip_id} already has a {first.status.value} publication "
                         f"({first.id}) to account {first.account_id}: cancel it first, or "
                         "repeat the request with its Idempotency-Key",
                         detail={"publication_ids": [r.id for r in rows]})  # fmt: skip


# --- what the doors see ----------------------------------------------------------------------
@dataclass(frozen=True)
class PublishRequest:
    """One request: every clip to every account (``scheduled_at`` None: now)."""

    clip_ids: Sequence[str]
    account_ids: Sequence[str]
    metadata: PostMetadata = field(default_factory=PostMetadata)
    """What to post; an empty title is the clip's own."""
    scheduled_at: datetime | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PublicationView:
    """A publication as every door shows it."""

    id: str
    clip_id: str
    clip_kind: str
    account_id: str | None
    platform: str
    status: str
    platform_post_id: str | None
    url: str | None
    error: tuple[str, str] | None
    """``(code, message)`` of the last failure."""
    metadata: dict[str, Any]
    scheduled_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    requested_by: str | None
    decided_by: str | None


@dataclass(frozen=True)
class Created:
    publications: list[PublicationView]
    replayed: bool
    """True when an earlier request with the same ``Idempotency-Key`` made them."""


@dataclass(frozen=True)
class CalendarDay:
    day: date
    publications: list[PublicationView]
    """In the order they go (or went) out."""


@dataclass(frozen=True)
class Calendar:
    start: date
    end: date
    """Inclusive."""
    days: list[CalendarDay]
    """Only the days that have publications, in order."""


def view(row: Publication) -> PublicationView:
    error = (row.error_code or "PUBLISH_FAILED", row.error or "") if (
        row.error_code or row.error) else None  # fmt: skip
    return PublicationView(
        id=row.id, clip_id=row.clip_id, clip_kind=row.clip_kind.value, account_id=row.account_id,
        platform=row.platform, status=row.status.value, platform_post_id=row.platform_post_id,
        url=row.url, error=error, metadata=dict(row.meta or {}), scheduled_at=row.scheduled_at,
        published_at=row.published_at, created_at=row.created_at,
        requested_by=row.requested_by, decided_by=row.decided_by,
    )  # fmt: skip


# --- what a request names --------------------------------------------------------------------
@dataclass(frozen=True)
class _Clip:
    id: str
    kind: ClipKind
    title: str
    key: str


def _clip(s: Session, workspace_id: str, clip_id: str, now: datetime) -> _Clip:
    """A rendered clip (``/api/clips``) or a generated clip, by id, that can be posted.

    Raises:
        NotFound: 404 ``CLIP_NOT_FOUND``; Forbidden: 403 another workspace's.
        Conflict: 409 ``CLIP_NOT_READY`` (not rendered, or its files expired) or
            ``CLIP_PURGED`` (a generated clip whose retention ran out).
    """
    row = s.get(Clip, clip_id) if is_id(clip_id) else None
    if row is not None:
        if row.workspace_id != workspace_id:
            raise Forbidden("FORBIDDEN", "this clip belongs to another workspace")
        if row.status is not ClipStatus.RENDERED or not row.video_key:
            why = f": {row.error}" if row.error else ""
            raise Conflict("CLIP_NOT_READY", f"clip {clip_id} is {row.status.value}, not "
                           f"rendered{why}")  # fmt: skip
        return _Clip(row.id, ClipKind.CLIP, row.title, row.video_key)
    gen = s.get(GeneratedClip, clip_id) if is_id(clip_id) else None
    if gen is None:
        raise not_found("clip", clip_id)
    if gen.workspace_id != workspace_id:
        raise Forbidden("FORBIDDEN", "this generated clip belongs to another workspace")
    if GeneratedRepo.gone(gen, now):
        raise Conflict("CLIP_PURGED", f"generated clip {clip_id} was purged when its retention "
                       "ran out: it can no longer be published (render it again)")  # fmt: skip
    return _Clip(gen.id, ClipKind.GENERATED, gen.title, gen.storage_key)


def _account(s: Session, settings: Settings, workspace_id: str, account_id: str
             ) -> ConnectedAccount:  # fmt: skip
    """The workspace's connected account, if it can post now.

    Raises:
        NotFound: 404 ``CONNECTED_ACCOUNT_NOT_FOUND``; Forbidden: 403 another workspace's.
        AccountUnusable: 409 ``ACCOUNT_REVOKED`` or ``ACCOUNT_NEEDS_RECONNECT``.
        PlatformOff: 409 ``PLATFORM_OFF`` (no OAuth client configured for its platform).
    """
    row = owned(s, ConnectedAccount, account_id, workspace_id, "connected_account")
    if row.status is ConnectionStatus.REVOKED:
        raise AccountUnusable("ACCOUNT_REVOKED", f"account {row.id} was disconnected")
    if row.status is ConnectionStatus.NEEDS_RECONNECT:
        raise AccountUnusable("ACCOUNT_NEEDS_RECONNECT", f"{row.platform} account {row.id} "
                              "must be connected again first")  # fmt: skip
    if not settings.publish.of(row.platform).configured:
        raise PlatformOff(row.platform)
    return row


def _replay(repo: PublicationRepo, key: str, pairs: set[tuple[str, str]]
            ) -> list[PublicationView] | None:  # fmt: skip
    """What an earlier request with ``key`` made, or None; the same key with other clips or
    accounts is a client's bug, refused rather than half-answered."""
    rows = repo.by_key(key)
    if not rows:
        return None
    if {(r.clip_id, r.account_id) for r in rows} != pairs:
        raise CodedError("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for "
                         "another request (other clips or accounts): use a new key")  # fmt: skip
    return [view(r) for r in rows]


# --- asking ----------------------------------------------------------------------------------
def create(db: Database, buckets: Buckets, settings: Settings, who: Membership, actor: Actor,
           req: PublishRequest, now: datetime | None = None) -> Created:  # fmt: skip
    """Publish every clip of ``req`` to every account of it, all or nothing.

    Raises:
        Forbidden: 403 ``FORBIDDEN_ROLE`` for a viewer.
        CodedError: 422 ``PUBLISH_REQUEST_INVALID``, ``SCHEDULED_AT_NAIVE|PAST|TOO_FAR``,
            ``IDEMPOTENCY_KEY_INVALID|REUSED``, the metadata's (:func:`prepare_metadata`).
        NotFound, Conflict: the clips' and accounts' (:func:`_clip`, :func:`_account`),
            409 ``CLIP_FILE_MISSING`` (the video is not on the bucket), 409
            ``PUBLICATION_EXISTS``.
    """
    who.require(Action.REQUEST_PUBLISH)
    at = now or utcnow()
    ws = who.workspace_id
    key = check_key(req.idempotency_key)
    clip_ids = unique_ids(req.clip_ids, "clip_ids", MAX_CLIPS)
    account_ids = unique_ids(req.account_ids, "account_ids", MAX_ACCOUNTS)
    pairs = {(c, a) for c in clip_ids for a in account_ids}
    if key is not None:
        with db.session() as s:
            made = _replay(PublicationRepo(s, ws), key, pairs)
        if made is not None:
            return Created(made, replayed=True)
    when = check_schedule(req.scheduled_at, at)
    with db.session() as s:
        clips = [_clip(s, ws, c, at) for c in clip_ids]
        platforms = {a: _account(s, settings, ws, a).platform for a in account_ids}
    metas = {(c.id, a): prepare_metadata(platforms[a], req.metadata, c.title)
             for c in clips for a in account_ids}  # fmt: skip
    store = generated_store(buckets, ws)
    for c in clips:  # outside any transaction: a slow bucket holds no database lock
        if store.head(c.key) is None:
            raise Conflict("CLIP_FILE_MISSING", f"clip {c.id}'s video is not on the bucket "
                           "(deleted or expired): render it again")  # fmt: skip
    if who.can(Action.PUBLISH):
        status = PublicationStatus.SCHEDULED if when else PublicationStatus.PENDING
    else:
        status = PublicationStatus.REQUESTED
    with db.session() as s:
        repo = PublicationRepo(s, ws)
        if key is not None and (made := _replay(repo, key, pairs)) is not None:
            return Created(made, replayed=True)
        taken = repo.open_pairs(clip_ids, account_ids)
        rows = [] if taken else [
            Publication(workspace_id=ws, clip_id=c.id, clip_kind=c.kind, account_id=a,
                        platform=platforms[a], status=status, meta=metas[(c.id, a)],
                        scheduled_at=when, not_before=when or at, idempotency_key=key,
                        requested_by=actor.user_id, created_at=at)
            for c in clips for a in account_ids]  # fmt: skip
        if taken or not repo.insert(rows):
            # Open already, or a concurrent request won a pair. It may be this very request
            # sent again, committed since the first look (PostgreSQL reads each statement's
            # own snapshot): what the key made is visible now.
            if key is not None and (made := _replay(repo, key, pairs)) is not None:
                return Created(made, replayed=True)
            raise PublicationExists(taken or repo.open_pairs(clip_ids, account_ids) or rows)
        for r in rows:
            audit.record(s, actor, ws, AuditAction.PUBLICATION_CREATED, "publication", r.id,
                         {"clip_id": r.clip_id, "account_id": r.account_id,
                          "platform": r.platform, "status": status.value})  # fmt: skip
        return Created([view(r) for r in rows], replayed=False)


# --- deciding and cancelling -----------------------------------------------------------------
def _moved_or_refuse(s: Session, repo: PublicationRepo, row: Publication, allowed: frozenset[
        PublicationStatus], code: str, verb: str, **values: Any) -> None:  # fmt: skip
    """Move ``row`` if its status is still one of ``allowed``; 409 ``code`` otherwise (also
    when the publisher claimed it between the read and the update)."""
    if row.status in allowed and repo.move(row.id, allowed, **values):
        s.expire(row)
        return
    s.refresh(row)
    raise Conflict(code, f"publication {row.id} is {row.status.value}: it cannot be {verb}",
                   detail={"status": row.status.value})  # fmt: skip


def approve(db: Database, settings: Settings, who: Membership, actor: Actor,
            publication_id: str, now: datetime | None = None) -> PublicationView:  # fmt: skip
    """An admin or owner approves an editor's request: ``scheduled`` while its
    ``scheduled_at`` is ahead, else ``pending`` (due now). The clip and the account are
    checked again: either may have gone while the request waited.

    Raises:
        Forbidden: 403 below admin. Conflict: 409 ``PUBLICATION_NOT_REQUESTED``, and the
            clip's and account's refusals.
    """
    who.require(Action.PUBLISH)
    at = now or utcnow()
    with db.session() as s:
        repo = PublicationRepo(s, who.workspace_id)
        row = owned(s, Publication, publication_id, who.workspace_id, "publication")
        if row.status is PublicationStatus.REQUESTED:
            _clip(s, who.workspace_id, row.clip_id, at)
            if row.account_id is None:
                raise AccountUnusable("ACCOUNT_REVOKED", "the account was removed")
            _account(s, settings, who.workspace_id, row.account_id)
        later = row.scheduled_at is not None and row.scheduled_at > at
        status = PublicationStatus.SCHEDULED if later else PublicationStatus.PENDING
        _moved_or_refuse(s, repo, row, frozenset({PublicationStatus.REQUESTED}),
                         "PUBLICATION_NOT_REQUESTED", "approved", status=status,
                         not_before=row.scheduled_at if later else at,
                         decided_by=actor.user_id)  # fmt: skip
        audit.record(s, actor, who.workspace_id, AuditAction.PUBLICATION_APPROVED,
                     "publication", row.id, {"status": status.value})  # fmt: skip
        return view(row)


def reject(db: Database, who: Membership, actor: Actor, publication_id: str,
           now: datetime | None = None) -> PublicationView:  # fmt: skip
    """An admin or owner turns an editor's request down (``rejected``, final).

    Raises:
        Forbidden: 403 below admin. Conflict: 409 ``PUBLICATION_NOT_REQUESTED``.
    """
    who.require(Action.PUBLISH)
    with db.session() as s:
        repo = PublicationRepo(s, who.workspace_id)
        row = owned(s, Publication, publication_id, who.workspace_id, "publication")
        _moved_or_refuse(s, repo, row, frozenset({PublicationStatus.REQUESTED}),
                         "PUBLICATION_NOT_REQUESTED", "rejected",
                         status=PublicationStatus.REJECTED, decided_by=actor.user_id,
                         finished_at=now or utcnow())  # fmt: skip
        audit.record(s, actor, who.workspace_id, AuditAction.PUBLICATION_REJECTED,
                     "publication", row.id)  # fmt: skip
        return view(row)


def cancel(db: Database, who: Membership, actor: Actor, publication_id: str,
           now: datetime | None = None) -> PublicationView:  # fmt: skip
    """Cancel a requested, pending or scheduled publication (one being uploaded, or done,
    cannot be). An editor may cancel only their own requests.

    Raises:
        Forbidden: 403 a viewer, or an editor for what is not their request.
        Conflict: 409 ``PUBLICATION_NOT_CANCELLABLE``.
    """
    who.require(Action.REQUEST_PUBLISH)
    with db.session() as s:
        repo = PublicationRepo(s, who.workspace_id)
        row = owned(s, Publication, publication_id, who.workspace_id, "publication")
        own_request = (row.status is PublicationStatus.REQUESTED
                       and row.requested_by is not None and row.requested_by == actor.user_id)
        if not (who.can(Action.PUBLISH) or own_request):
            raise Forbidden("FORBIDDEN_ROLE", f"a {who.role.value} of this workspace may cancel "
                            "only their own publication requests")  # fmt: skip
        _moved_or_refuse(s, repo, row, CANCELLABLE, "PUBLICATION_NOT_CANCELLABLE", "cancelled",
                         status=PublicationStatus.CANCELLED,
                         finished_at=now or utcnow())  # fmt: skip
        audit.record(s, actor, who.workspace_id, AuditAction.PUBLICATION_CANCELLED,
                     "publication", row.id)  # fmt: skip
        return view(row)


# --- reading ---------------------------------------------------------------------------------
def page(db: Database, who: Membership, filters: Filters, limit: int, offset: int
         ) -> tuple[list[PublicationView], int]:  # fmt: skip
    """The workspace's publications, newest first, narrowed by ``filters``."""
    who.require(Action.READ)
    with db.session() as s:
        rows, total = PublicationRepo(s, who.workspace_id).page(filters, limit, offset)
        return [view(r) for r in rows], total


def get(db: Database, who: Membership, publication_id: str) -> PublicationView:
    who.require(Action.READ)
    with db.session() as s:
        return view(owned(s, Publication, publication_id, who.workspace_id, "publication"))


def _when(row: Publication) -> datetime:
    """The moment a publication stands at on the calendar."""
    if row.status is PublicationStatus.PUBLISHED and row.published_at is not None:
        return row.published_at
    return row.scheduled_at or row.started_at or row.created_at


def calendar(db: Database, who: Membership, start: date | None = None, end: date | None = None,
             now: datetime | None = None) -> Calendar:  # fmt: skip
    """Scheduled, publishing and published publications from ``start`` to ``end`` (UTC
    dates, inclusive), by day."""
    who.require(Action.READ)
    first, last = calendar_range(start, end, (now or utcnow()).date())
    lo = datetime.combine(first, time(), tzinfo=UTC)
    hi = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    with db.session() as s:
        rows = sorted(PublicationRepo(s, who.workspace_id).calendar(lo, hi), key=_when)
    days: dict[date, list[PublicationView]] = {}
    for r in rows:
        days.setdefault(_when(r).date(), []).append(view(r))
    return Calendar(first, last, [CalendarDay(d, v) for d, v in days.items()])


__all__ = [
    "Calendar",
    "CalendarDay",
    "Created",
    "Filters",
    "PublicationExists",
    "PublicationView",
    "PublishRequest",
    "approve",
    "calendar",
    "cancel",
    "create",
    "get",
    "page",
    "prepare_metadata",
    "reject",
]
