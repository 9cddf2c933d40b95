"""Highlight reels: an ordered list of moments, possibly from several sources, as one MP4.

``check_parts`` refuses a request by its size alone, before anything is read; ``plan_reel``
checks it against the workspace's sources (pure: it takes the sources it may see); the API
and the CLI (through :mod:`clipray.services.reels`) record a ``highlight_reels`` row; the
job runner runs
:func:`make_highlight` as one Ray task per reel. Each part is re-encoded to one format,
the parts are joined by stream copy (:mod:`clipray.clips.reel`), and the reel is stored as
a generated clip of kind ``highlight-reel`` on the app-owned bucket, so retention applies.

    >>> moments = plan_reel([("src", 10.0, 14.5)], {"src": source}, 50, 600.0)  # doctest: +SKIP
    >>> reel = record_reel(session, ws, moments, "best of", None, user_id)  # doctest: +SKIP
    >>> make_highlight(settings, reel.id)                                      # doctest: +SKIP
    'done'
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from clipray.clips.reel import ReelFormat, ReelPart, common_format, make_reel
from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.schemas import CodedError
from clipray.storage import claims
from clipray.storage.generated import GeneratedLimitError, GeneratedRepo, Generation
from clipray.storage.keys import object_key
from clipray.storage.orm import ExportStatus, GeneratedKind, HighlightReel, Source, utcnow

log = logging.getLogger(__name__)
REEL_NAME = "reel.mp4"
MAX_REEL_HEIGHT = 1080
"""A reel is for posting: no taller than 1080p whatever its sources are."""


class ReelRequestError(CodedError):
    """A reel that cannot be made as asked: 422, or 404 ``SOURCE_NOT_FOUND``."""


@dataclass(frozen=True)
class PlannedMoment:
    source_id: str
    start: float
    end: float


def plan_reel(
    moments: Sequence[tuple[str, float, float]],
    sources: Mapping[str, Source],
    max_parts: int,
    max_duration_s: float,
) -> list[PlannedMoment]:
    """Check the moments against their sources: each source known (``sources`` holds only
    what the caller may see), each moment inside its video (an end past it is clipped to
    it), and the reel within the limits.

    Raises:
        ReelRequestError: ``REEL_EMPTY``, ``REEL_TOO_MANY_PARTS``, ``SOURCE_NOT_FOUND``,
            ``MOMENT_OUT_OF_RANGE``, ``REEL_TOO_LONG``.
    """
    check_parts(moments, max_parts)
    planned = []
    for i, (sid, start, end) in enumerate(moments):
        src = sources.get(sid)
        if src is None:
            raise ReelRequestError("SOURCE_NOT_FOUND", f"moment {i}: no source {sid}",
                                   status=404)  # fmt: skip
        end = min(end, src.duration_s)
        if not 0 <= start < end:
            raise ReelRequestError(
                "MOMENT_OUT_OF_RANGE",
                f"moment {i}: [{start}, {end}) is not inside the video (0 to {src.duration_s} s)",
            )
        planned.append(PlannedMoment(sid, start, end))
    total = sum(m.end - m.start for m in planned)
    if total > max_duration_s:
        raise ReelRequestError("REEL_TOO_LONG",
                               f"the moments last {total:.1f} s; a reel is at most "
                               f"{max_duration_s:.0f} s")  # fmt: skip
    return planned


def check_parts(moments: Sequence[object], max_parts: int) -> None:
    """Refuse a reel by its number of parts, before any source is looked up: a request of
    a quarter of a million moments costs one comparison, not a query per id.

    Raises:
        ReelRequestError: ``REEL_EMPTY``, ``REEL_TOO_MANY_PARTS``.
    """
    if not moments:
        raise ReelRequestError("REEL_EMPTY", "a reel needs at least one moment")
    if len(moments) > max_parts:
        raise ReelRequestError(
            "REEL_TOO_MANY_PARTS", f"{len(moments)} moments; a reel joins at most {max_parts}"
        )


def workspace_sources(session: Session, workspace_id: str, ids: set[str]) -> dict[str, Source]:
    """The sources among ``ids`` that belong to the workspace (what a reel may join)."""
    found = session.scalars(
        select(Source).where(Source.id.in_(ids), Source.workspace_id == workspace_id)
    )
    return {src.id: src for src in found}


def reels_query(workspace_id: str) -> Select[tuple[HighlightReel]]:
    """The workspace's reels (page it with ``fetch_page``, newest first)."""
    return select(HighlightReel).where(HighlightReel.workspace_id == workspace_id)


def reel_format(sources: Sequence[Source], height: int | None) -> ReelFormat:
    """One format for every part: the tallest part's size (at most 1080p, or ``height``),
    and the frame rate most parts have (30 where unknown), so most parts keep their
    motion."""
    sizes = [(s.width or 1280, s.height or 720) for s in sources]
    w, h = common_format(sizes, max_height=height or MAX_REEL_HEIGHT)
    if height is not None and h != height:  # asked for: scale to it, keeping the aspect
        w, h = round(w * height / h / 2) * 2, height
    rates = Counter(round(s.fps) for s in sources if s.fps)
    fps = str(min(rates.most_common(1)[0][0], 60)) if rates else "30"
    return ReelFormat(width=w, height=h, fps=fps)


def record_reel(session: Session, workspace_id: str, moments: Sequence[PlannedMoment],
                title: str, height: int | None, user_id: str | None) -> HighlightReel:  # fmt: skip
    """Queue a reel (the job runner picks it up once the transaction commits)."""
    row = HighlightReel(
        workspace_id=workspace_id, created_by=user_id, title=title,
        spec={"moments": [{"source_id": m.source_id, "start": m.start, "end": m.end}
                          for m in moments], "height": height},
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def make_highlight(settings: Settings, reel_id: str) -> str:
    """Ray task: make one queued reel and store it as a generated clip. Returns ``done``,
    ``failed``, or ``skipped`` when another worker has it."""
    db = open_database(settings)
    with db.session() as s:
        attempt = claims.claim(s, HighlightReel, reel_id)
    if attempt is None:
        return "skipped"
    key = None
    store = None
    try:
        buckets = open_storage(settings)
        with db.session() as s:
            reel = s.get(HighlightReel, reel_id)
            assert reel is not None
            ws, title, spec = reel.workspace_id, reel.title, reel.spec
            ids = {m["source_id"] for m in spec["moments"]}
            sources = workspace_sources(s, ws, ids)
            for src in sources.values():
                s.expunge(src)
        problem = buckets.generation_problem()
        if problem or buckets.generated is None:
            raise ReelRequestError("NO_GENERATED_BUCKET", problem or "no app-owned bucket")
        missing = ids - sources.keys()
        if missing:
            raise ReelRequestError("SOURCE_NOT_FOUND", f"sources deleted: {sorted(missing)}")
        media = buckets.media.scoped(ws)
        parts = [ReelPart(media.presign_get(sources[m["source_id"]].storage_key),
                          float(m["start"]), float(m["end"]),
                          has_audio=sources[m["source_id"]].audio_codec is not None)
                 for m in spec["moments"]]  # fmt: skip
        used = [sources[m["source_id"]] for m in spec["moments"]]
        fmt = reel_format(used, spec.get("height"))
        store = buckets.generated.scoped(ws)
        with tempfile.TemporaryDirectory(prefix="clipray-reel-") as tmp:
            done = make_reel(
                parts, Path(tmp) / REEL_NAME, fmt, workdir=Path(tmp),
                ffmpeg_bin=settings.ffmpeg_bin, ffprobe_bin=settings.ffprobe_bin,
            )  # fmt: skip
            key = object_key(ws, "clips", reel_id, REEL_NAME)
            info = store.put_file(key, done.path, content_type="video/mp4")
        with db.session() as s:
            row, replaced = GeneratedRepo(s, ws).upsert(
                Generation(reel_id, used[0].id, key, info.size, round(done.duration, 3),
                           title or "highlight reel", GeneratedKind.HIGHLIGHT_REEL),
                utcnow(), settings.generated_clip_retention_days,
                settings.generated_clips_max_live,
            )  # fmt: skip
            recorded = claims.finish(
                s, HighlightReel, reel_id, attempt, status=ExportStatus.DONE,
                generated_clip_id=row.id, method=done.method,
                duration_s=round(done.duration, 3), error=None,
            )  # fmt: skip
            if not recorded:  # a later claim owns the reel now: leave the row to it
                s.rollback()
        if replaced and replaced != key:
            store.delete(replaced)
        return "done"
    except Exception as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        if isinstance(exc, GeneratedLimitError) and key and store is not None:
            store.delete(key)  # refused: no object without its row
        with db.session() as s:
            claims.finish(s, HighlightReel, reel_id, attempt, status=ExportStatus.FAILED,
                          error=f"{code}: {exc}"[-2000:])  # fmt: skip
        log.warning("highlight reel %s failed: %s", reel_id, exc)
        return "failed"
