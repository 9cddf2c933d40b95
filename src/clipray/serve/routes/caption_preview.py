"""The caption styler's routes: the styles a clip can be rendered with, and one frame of a
clip with its captions in a style, drawn by the render's own libass path."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from clipray.serve.deps import Caller, ServicesDep, SessionDep, owned
from clipray.serve.permissions import Action
from clipray.services.caption_preview import caption_preview, caption_styles
from clipray.storage.orm import Clip, Source

router = APIRouter(tags=["clips"])


class CaptionStyles(BaseModel):
    """What ``POST /api/clips/{id}/rerender`` and the preview accept."""

    styles: list[str]
    aspects: list[str]


@router.get("/api/caption-styles")
def list_caption_styles(who: Caller) -> CaptionStyles:
    """The caption styles and aspects of the render code, in its order."""
    who.require(Action.READ)
    styles, aspects = caption_styles()
    return CaptionStyles(styles=styles, aspects=aspects)


_PNG = {200: {"content": {"image/png": {}}, "description": "One frame, captions burned in"}}


@router.get("/api/clips/{clip_id}/caption-preview", response_class=Response, responses=_PNG)
def preview_captions(
    clip_id: str,
    who: Caller,
    session: SessionDep,
    svc: ServicesDep,
    style: Annotated[str, Query(max_length=40)],
    aspect: Annotated[str | None, Query(max_length=8)] = None,
    at: Annotated[float | None, Query(ge=0)] = None,
) -> Response:
    """A PNG of one frame of the clip with its captions in ``style`` (and ``aspect``; the
    clip's own when left out) at clip time ``at`` seconds (default: where the clip's own
    captions show): the moment planned as a re-render would plan it, the frame drawn by the
    same FFmpeg filters and libass as the rendered clip, within a bound of 30 s. 422
    ``UNKNOWN_CAPTION_STYLE``, ``UNKNOWN_ASPECT``, ``BAD_TIME``; 409
    ``PREVIEW_UNSUPPORTED`` for an audiogram."""
    who.require(Action.READ)
    clip = owned(session, Clip, clip_id, who, "clip")
    source = owned(session, Source, clip.source_id, who, "source")
    png = caption_preview(svc.settings, svc.buckets, svc.db, session, clip, source, style,
                          aspect, at)  # fmt: skip
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
