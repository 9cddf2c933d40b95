"""Publications: ask for them, read them, decide on an editor's request, cancel one, and
the content calendar. The flow is ``services/publications.py``; these routes parse, call it
and format. Executing a publication is the publisher's (``services/publishing.py``).

``POST /api/publish`` (and ``/api/publish/schedule``, ``/api/clips/batch/publish``) answers
201 with the publications made, or 200 with the same ones when an earlier request carried the
same ``Idempotency-Key`` (header ``Idempotent-Replayed: true``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from clipray.domain.publications import PublicationStatus
from clipray.publish.base import PostMetadata
from clipray.serve.deps import ActorDep, Caller, PageNo, PageSize, ServicesDep
from clipray.serve.schemas import Page
from clipray.serve.schemas.publications import (
    CalendarDayOut,
    CalendarOut,
    Platform,
    PublicationError,
    PublicationOut,
    PublicationsOut,
    PublishIn,
    ScheduleIn,
)
from clipray.services import publications
from clipray.services.publications import Filters, PublicationView, PublishRequest

router = APIRouter(prefix="/api/publish", tags=["publishing"])
clips_router = APIRouter(prefix="/api/clips", tags=["publishing"])

IdempotencyKey = Annotated[str | None, Header(
    description="Repeat a request safely: the same key returns the publications the first "
                "request made (200), never a second set. 1 to 200 printable ASCII characters.",
)]  # fmt: skip
_CREATED = {200: {"model": PublicationsOut,
                  "description": "Replayed: an earlier request with this Idempotency-Key made "
                                 "these (header Idempotent-Replayed: true)"}}  # fmt: skip
FilterId = Annotated[str | None, Query(max_length=64)]


def publication_out(v: PublicationView) -> PublicationOut:
    error = PublicationError(code=v.error[0], message=v.error[1]) if v.error else None
    return PublicationOut(
        id=v.id, clip_id=v.clip_id, clip_kind=v.clip_kind,  # type: ignore[arg-type]
        account_id=v.account_id, platform=v.platform,  # type: ignore[arg-type]
        status=v.status,  # type: ignore[arg-type]
        platform_post_id=v.platform_post_id, url=v.url, error=error, metadata=v.metadata,
        scheduled_at=v.scheduled_at, published_at=v.published_at, created_at=v.created_at,
        requested_by=v.requested_by, decided_by=v.decided_by,
    )  # fmt: skip


def _create(body: PublishIn, key: str | None, who: Caller, actor: ActorDep, svc: ServicesDep,
            response: Response) -> PublicationsOut:  # fmt: skip
    meta = PostMetadata(title=body.metadata.title, description=body.metadata.description,
                        hashtags=tuple(body.metadata.hashtags), privacy=body.metadata.privacy)
    req = PublishRequest(clip_ids=body.clip_ids, account_ids=body.account_ids, metadata=meta,
                         scheduled_at=body.scheduled_at, idempotency_key=key)  # fmt: skip
    made = publications.create(svc.db, svc.buckets, svc.settings, who.membership, actor, req)
    if made.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return PublicationsOut(data=[publication_out(v) for v in made.publications])


@router.post("", status_code=201, responses=_CREATED)
def publish(body: PublishIn, who: Caller, actor: ActorDep, svc: ServicesDep, response: Response,
            idempotency_key: IdempotencyKey = None) -> PublicationsOut:  # fmt: skip
    """Publish every clip to every account (one publication per pair), now or at
    ``scheduled_at``. An admin's or owner's is ``pending`` or ``scheduled``; an editor's is
    ``requested`` until an admin or owner approves it; a viewer cannot (403). All or
    nothing: 404/403 for a clip or account not found or another workspace's, 409
    ``CLIP_NOT_READY``, ``CLIP_PURGED``, ``CLIP_FILE_MISSING``, ``ACCOUNT_REVOKED``,
    ``ACCOUNT_NEEDS_RECONNECT``, ``PLATFORM_OFF``, ``PUBLICATION_EXISTS`` (the clip already
    has an open publication to the account), 422 for a schedule or metadata that cannot be
    used."""
    return _create(body, idempotency_key, who, actor, svc, response)


@router.post("/schedule", status_code=201, responses=_CREATED)
def schedule(body: ScheduleIn, who: Caller, actor: ActorDep, svc: ServicesDep,
             response: Response, idempotency_key: IdempotencyKey = None
             ) -> PublicationsOut:  # fmt: skip
    """``POST /api/publish`` with ``scheduled_at`` required: publish at that time."""
    return _create(body, idempotency_key, who, actor, svc, response)


@clips_router.post("/batch/publish", status_code=201, responses=_CREATED)
def batch_publish(body: PublishIn, who: Caller, actor: ActorDep, svc: ServicesDep,
                  response: Response, idempotency_key: IdempotencyKey = None
                  ) -> PublicationsOut:  # fmt: skip
    """Publish many clips at once: the same request and rules as ``POST /api/publish``."""
    return _create(body, idempotency_key, who, actor, svc, response)


@router.get("")
def list_publications(
    who: Caller,
    svc: ServicesDep,
    status: PublicationStatus | None = None,
    platform: Platform | None = None,
    account_id: FilterId = None,
    clip_id: FilterId = None,
    page: PageNo = 1,
    limit: PageSize = 20,
) -> Page[PublicationOut]:
    """The workspace's publications, newest first, optionally only one status, platform,
    account or clip."""
    filters = Filters(status=status, platform=platform, account_id=account_id, clip_id=clip_id)
    views, total = publications.page(svc.db, who.membership, filters, limit, (page - 1) * limit)
    return Page[PublicationOut].of([publication_out(v) for v in views], total, page, limit)


@router.get("/calendar")
def calendar(
    who: Caller,
    svc: ServicesDep,
    start: Annotated[date | None, Query(alias="from", description="First day (UTC date); "
                                        "default today.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, inclusive; default "
                                      "27 days after from.")] = None,
) -> CalendarOut:  # fmt: skip
    """The content calendar: scheduled, publishing and published publications by UTC day
    (a published one on the day it went out, the others on the day they are due). At most
    92 days at once (422 ``CALENDAR_RANGE_TOO_LONG``)."""
    cal = publications.calendar(svc.db, who.membership, start, end)
    days = [CalendarDayOut(date=d.day, publications=[publication_out(v) for v in d.publications])
            for d in cal.days]  # fmt: skip
    return CalendarOut(from_=cal.start, to=cal.end, days=days)


@router.get("/{publication_id}")
def get_publication(publication_id: str, who: Caller, svc: ServicesDep) -> PublicationOut:
    return publication_out(publications.get(svc.db, who.membership, publication_id))


@router.delete("/{publication_id}")
def cancel_publication(publication_id: str, who: Caller, actor: ActorDep, svc: ServicesDep
                       ) -> PublicationOut:  # fmt: skip
    """Cancel a requested, pending or scheduled publication (409
    ``PUBLICATION_NOT_CANCELLABLE`` once it is publishing or done). An editor may cancel
    only their own requests."""
    return publication_out(publications.cancel(svc.db, who.membership, actor, publication_id))


@router.post("/{publication_id}/approve")
def approve(publication_id: str, who: Caller, actor: ActorDep, svc: ServicesDep
            ) -> PublicationOut:  # fmt: skip
    """Approve an editor's request (admins and owners): ``scheduled`` while its
    ``scheduled_at`` is ahead, else ``pending``. 409 ``PUBLICATION_NOT_REQUESTED`` for one
    that is not waiting for approval. Audited."""
    return publication_out(publications.approve(svc.db, svc.settings, who.membership, actor,
                                                publication_id))  # fmt: skip


@router.post("/{publication_id}/reject")
def reject(publication_id: str, who: Caller, actor: ActorDep, svc: ServicesDep
           ) -> PublicationOut:  # fmt: skip
    """Turn an editor's request down (admins and owners): ``rejected``. Audited."""
    return publication_out(publications.reject(svc.db, who.membership, actor, publication_id))
