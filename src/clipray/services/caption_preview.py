"""Preview a clip's captions in another style (or aspect): one frame, as the render draws it.

``GET /api/clips/{id}/caption-preview`` calls :func:`caption_preview`: the clip's moment is
planned again with the asked style and aspect by the same :func:`plan_rerender` a re-render
uses (so the reframe path and the ``.ass`` are the ones a re-render would burn in), and one
frame of the source is drawn through the render's filter chain (``clips/preview.py``). All
styles are previewed at the same clip time, one where the clip's own captions show, so
that they compare side by side.

    >>> png = caption_preview(settings, buckets, db, s, clip, source, "pop_in")  # doctest: +SKIP
    >>> png[:4]                                                                    # doctest: +SKIP
    b'\\x89PNG'
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from clipray.clips.captions import STYLES
from clipray.clips.preview import caption_time, preview_frame
from clipray.clips.render import ASPECTS, RenderSpec
from clipray.config import Settings
from clipray.domain.errors import CodedError, Conflict
from clipray.pipelines.ingest import IngestContext
from clipray.services.rerender import plan_rerender
from clipray.storage.db import Database
from clipray.storage.objects import Buckets
from clipray.storage.orm import Clip, Source

__all__ = ["caption_preview", "caption_styles"]


def caption_styles() -> tuple[list[str], list[str]]:
    """The caption styles and aspects a clip can be rendered with: the render code's own
    lists, so a style added there shows in the studio without a change here."""
    return list(STYLES), list(ASPECTS)


def caption_preview(settings: Settings, buckets: Buckets, db: Database, session: Session,
                    clip: Clip, source: Source, style: str, aspect: str | None = None,
                    at: float | None = None) -> bytes:  # fmt: skip
    """The PNG of one frame of ``clip`` with its captions in ``style`` and ``aspect`` (None:
    the clip's own), at clip time ``at`` (None: where the clip's own captions show, near its
    thumbnail's frame).

    Raises:
        CodedError: 422 ``UNKNOWN_CAPTION_STYLE`` / ``UNKNOWN_ASPECT``, ``BAD_TIME`` for an
            ``at`` outside the clip.
        Conflict: ``PREVIEW_UNSUPPORTED`` for an audiogram (no source frame),
            ``ANALYSIS_MISSING`` when the source's analysis is gone.
        RenderError: 500 ``RENDER_FAILED`` when FFmpeg fails or runs past its bound.
    """
    if style not in STYLES:
        raise CodedError("UNKNOWN_CAPTION_STYLE", f"caption style must be one of {list(STYLES)}",
                         detail={"style": style, "styles": list(STYLES)})  # fmt: skip
    if aspect is not None and aspect not in ASPECTS:
        raise CodedError("UNKNOWN_ASPECT", f"aspect must be one of {list(ASPECTS)}",
                         detail={"aspect": aspect})  # fmt: skip
    own = RenderSpec.from_json(clip.render_spec)
    if own.audiogram is not None:
        raise Conflict("PREVIEW_UNSUPPORTED", "an audiogram's captions are drawn on its "
                       "canvas, not on a source frame; re-render to see them")
    if at is not None and not 0 <= at <= own.duration:
        raise CodedError("BAD_TIME", f"at must be within the clip's 0 to {own.duration:.2f} s",
                         detail={"at": at})  # fmt: skip
    session.commit()  # no lock held while the analysis is read and FFmpeg runs
    ctx = IngestContext.of(settings, buckets, db, clip.workspace_id)
    plan = plan_rerender(settings, ctx, clip, source, aspect, style)
    if at is None:
        stored = (clip.plan or {}).get("ass")
        at = caption_time(stored or plan.ass, float((clip.plan or {}).get("thumbnail_at", 0.0)))
    url = ctx.buckets.media.scoped(ctx.workspace_id).presign_get(source.storage_key)
    size = (source.width or 0, source.height or 0)  # probed at ingest (video sources only)
    with tempfile.TemporaryDirectory(prefix="clipray-preview-") as tmp:
        png = preview_frame(plan.spec, url, size, plan.ass, at, Path(tmp),
                            ffmpeg=settings.ffmpeg_bin)  # fmt: skip
        return png.read_bytes()
