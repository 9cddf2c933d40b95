"""The workspace library: sources marked as B-roll (cut away to while someone speaks) or
sound effects (played on a spoken word that is one of their tags), for jobs with ``broll``
or ``sfx`` on. Members read it; editors and above change it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from clipray.domain.library import LibraryEntry
from clipray.serve.deps import Caller, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas.library import (
    Kind,
    LibraryItemIn,
    LibraryItemOut,
    LibraryItemPatch,
    LibraryList,
)
from clipray.services import library

router = APIRouter(prefix="/api/library", tags=["library"])


def item_out(e: LibraryEntry) -> LibraryItemOut:
    return LibraryItemOut(id=e.id, source_id=e.source_id, kind=e.kind.value,
                          tags=list(e.tags), title=e.title, duration_s=e.duration_s,
                          created_at=e.created_at)  # fmt: skip


@router.post("", status_code=201)
def add_item(body: LibraryItemIn, who: Caller, svc: ServicesDep) -> LibraryItemOut:
    """Mark one of the workspace's sources as B-roll or a sound effect (the source stays a
    source). Refusals: 404 ``SOURCE_NOT_FOUND``, 422 ``LIBRARY_KIND_MISMATCH`` (B-roll
    without a video stream or under 1.5 s, a sound without audio or over 10 s), 422
    ``LIBRARY_TAGS_INVALID`` (not 1 to 20 words of 1 to 32 characters), 409
    ``LIBRARY_ITEM_EXISTS`` (the source already is that kind)."""
    who.require(Action.UPLOAD)
    return item_out(library.add(svc.db, who.workspace_id, body.source_id, body.kind, body.tags))


@router.get("")
def list_items(who: Caller, svc: ServicesDep, kind: Kind | None = None) -> LibraryList:
    """The workspace's library, newest first; ``kind`` keeps one kind."""
    who.require(Action.READ)
    return LibraryList(data=[item_out(e) for e in library.entries(svc.db, who.workspace_id,
                                                                  kind)])  # fmt: skip


@router.patch("/{item_id}")
def retag_item(item_id: str, body: LibraryItemPatch, who: Caller, svc: ServicesDep
               ) -> LibraryItemOut:  # fmt: skip
    """Replace the item's tags. 404 ``LIBRARY_ITEM_NOT_FOUND``, 422 ``LIBRARY_TAGS_INVALID``."""
    who.require(Action.UPLOAD)
    return item_out(library.retag(svc.db, who.workspace_id, item_id, body.tags))


@router.delete("/{item_id}", status_code=204)
def remove_item(item_id: str, who: Caller, svc: ServicesDep) -> Response:
    """Take the item out of the library; its source stays. 404 ``LIBRARY_ITEM_NOT_FOUND``."""
    who.require(Action.UPLOAD)
    library.remove(svc.db, who.workspace_id, item_id)
    return Response(status_code=204)
