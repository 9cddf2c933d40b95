"""Search: text queries over the frames and the transcript of the workspace's videos, or an
example picture (``image``, base64 in the JSON body) over the frames.

The query is encoded by the encoder deployment (a handle; batched across requests), then
the index answers each list with the workspace filter inside the query itself, so hits of
another workspace never reach this code. Hits close in time merge into moments. The flow
is :func:`clipray.services.search.search`, the one ``clipray search`` runs too.

A result's ``thumbnail_url`` is signed: ``GET`` it with no ``Authorization`` header (an
``<img src>``) until it expires, and it redirects to the JPEG.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from clipray.serve.deps import Caller, Services, ServicesDep
from clipray.serve.errors import ErrorResponse
from clipray.serve.permissions import Action
from clipray.serve.schemas import SearchHit, SearchIn, SearchOut
from clipray.services import search as service

router = APIRouter(prefix="/api/search", tags=["search"])


def thumbnail_links(svc: Services) -> service.ThumbnailLinks:
    """Links signed with the API's token secret, living as long as a presigned URL."""
    return service.ThumbnailLinks(svc.tokens.secret, svc.settings.presign_expiry_s)


_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "VISUAL_SEARCH_UNAVAILABLE, "
          "JOB_HAS_NO_SOURCE or SEARCH_SCOPE_CONFLICT"},
    413: {"model": ErrorResponse, "description": "PAYLOAD_TOO_LARGE (the body, picture "
          "included, is over CLIPRAY_MAX_REQUEST_BYTES) or IMAGE_TOO_LARGE (too many pixels)"},
    415: {"model": ErrorResponse, "description": "IMAGE_TYPE_UNSUPPORTED: the picture is "
          "not a JPEG, PNG or WebP image"},
}  # fmt: skip


@router.post("", responses=_ERRORS)
async def search(body: SearchIn, who: Caller, svc: ServicesDep) -> SearchOut:
    """Moments of the workspace's videos that match ``query`` (words) or ``image`` (an
    example picture, searched against the frames), best first.

    Errors: 422 ``QUERY_EMPTY`` (neither words nor a picture), ``QUERY_TEXT_AND_IMAGE``
    (both), ``IMAGE_QUERY_NOT_VISUAL`` (a picture with mode transcript or hybrid),
    ``IMAGE_EMPTY``, ``IMAGE_UNREADABLE`` (a broken picture), ``VALIDATION_ERROR`` (an
    image that is not base64); 415 ``IMAGE_TYPE_UNSUPPORTED``; 413 ``PAYLOAD_TOO_LARGE``,
    ``IMAGE_TOO_LARGE``; 409 ``VISUAL_SEARCH_UNAVAILABLE`` in visual mode without CLIP
    weights (hybrid mode then searches the transcript and says ``visual: unavailable``);
    409 ``JOB_HAS_NO_SOURCE`` for a job that has not stored its video; 409
    ``SEARCH_SCOPE_CONFLICT`` for a job about another source.
    """
    who.require(Action.READ)
    req = service.SearchRequest(body.query, body.mode, body.source_id, body.job_id,
                                body.limit, body.page, body.image)  # fmt: skip
    links = await run_in_threadpool(thumbnail_links, svc)
    page = await service.search(svc, who.workspace_id, req, svc.encoders, links)
    return SearchOut(results=[SearchHit.model_validate(r) for r in page.results],
                     total=page.total, page=page.page, pages=page.pages,
                     visual=page.visual)  # fmt: skip


@router.get("/thumbnails/{source_id}", status_code=302,
            responses={302: {"description": "Redirect to a presigned URL of a JPEG"}})  # fmt: skip
def signed_thumbnail(
    source_id: str,
    svc: ServicesDep,
    t: Annotated[float, Query(ge=0, le=86_400, description="Seconds into the source.")],
    exp: Annotated[int, Query(ge=0, description="Expiry, in Unix seconds.")],
    sig: Annotated[str, Query(max_length=128, description="The server's signature.")],
) -> RedirectResponse:
    """A search result's frame, for a link taken from ``thumbnail_url``: no credentials,
    the signature is the right to this one frame until ``exp``. Errors: 403
    ``THUMBNAIL_LINK_INVALID`` / ``THUMBNAIL_LINK_EXPIRED``, 404 ``SOURCE_NOT_FOUND``."""
    url = service.signed_thumbnail(svc, svc.buckets, thumbnail_links(svc), source_id, t, exp,
                                   sig)  # fmt: skip
    return RedirectResponse(url, status_code=302)
