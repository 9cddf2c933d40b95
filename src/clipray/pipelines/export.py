"""Virtual clips at the edges: the cover after analysis, the proxy, rolling exports.

After analysis a source gets its cover (one virtual clip per scene, on the source's frame
grid); approving its first clip makes its proxy wanted. The job runner keeps two queues
moving, both in the database: a proxy build per source (:func:`build_proxy`, one Ray task,
once: the all-intra H.264 proxy goes next to the source on the media bucket) and an export
per approved clip (:func:`export_clip`, one Ray task per clip, started as soon as the clip
is approved). Both claim their row first, so a second worker (a restarted runner, the CLI)
never does the work twice at once, and both can run again after a crash: same key, same
bytes.

An export reads only the frames it needs from the proxy over a presigned URL (the proxy is
written with its index first), cuts them by stream copy, and uploads the clip; the export
row records whether copy was exact or the range had to be re-encoded.

    >>> ensure_cover(db, workspace_id, source, analysis, info)         # doctest: +SKIP
    >>> build_proxy(settings, source.id)                               # doctest: +SKIP
    >>> export_clip(settings, export_id)                               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from clipray.clips.proxy import (
    FrameGrid,
    ProxyError,
    ProxyInfo,
    export_range,
    frame_grid,
    make_proxy,
)
from clipray.cluster.services import open_database, open_storage
from clipray.config import Settings
from clipray.domain.analysis import Analysis
from clipray.observability import timed
from clipray.storage.db import Database
from clipray.storage.keys import object_key
from clipray.storage.orm import (
    ClipExport,
    ExportStatus,
    ProxyStatus,
    Source,
    VirtualClip,
    utcnow,
)
from clipray.storage.vclips import CoverRepo, claim_export, claim_proxy, finish_export

log = logging.getLogger("clipray.export")
PROXY_NAME = "proxy.mp4"


def proxy_key(source: Source) -> str:
    return object_key(source.workspace_id, "sources", source.id, PROXY_NAME)


def export_key(clip: VirtualClip) -> str:
    return object_key(clip.workspace_id, "exports", clip.id, "clip.mp4")


def ensure_cover(db: Database, workspace_id: str, source_id: str, analysis: Analysis,
                 uri: str, ffprobe: str = "ffprobe") -> bool:  # fmt: skip
    """Create the source's virtual clips from its scene starts, once (the first analysis
    decides; later ones keep the user's edits). Returns whether it created them.

    The grid is :func:`~clipray.clips.proxy.frame_grid` of the source at ``uri`` (its
    header only; the analysis' own frame count stands in where the container has none):
    the rate scene detection numbers frames with, so scene starts are grid frames.

    An audio-only source has no frames to number: it gets no virtual clips (False)."""
    if not analysis.source.has_video:
        return False
    scenes = analysis.scenes
    decoded = scenes[-1].end_frame if scenes else None
    grid = frame_grid(uri, ffprobe, counted=decoded)
    starts = [s.start_frame for s in scenes if s.kind != "start"]
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None:
            return False
        rate = f"{grid.fps.numerator}/{grid.fps.denominator}"
        return CoverRepo(s, workspace_id).create_cover(source, grid.frame_count, rate, starts)


def grid_of(source: Source) -> FrameGrid:
    if source.frame_count is None or not source.frame_rate:
        raise ProxyError(f"source {source.id} has no frame grid yet (its analysis is pending)")
    return FrameGrid(fps=Fraction(source.frame_rate), frame_count=source.frame_count)


# --- proxy -------------------------------------------------------------------------------
def build_proxy(settings: Settings, source_id: str) -> str | None:
    """Build the source's proxy if it is wanted and nobody else is building it (Ray task).
    Returns the proxy's key when it is ready, None when another worker holds the build."""
    db = open_database(settings)
    try:
        stale = utcnow() - timedelta(seconds=settings.proxy_build_timeout_s)
        with db.session() as s:
            source = s.get(Source, source_id)
            if source is None:
                return None
            if source.proxy_status is ProxyStatus.READY:
                return source.proxy_key
            if not claim_proxy(s, source_id, stale):
                return None
        try:
            key = _make_proxy(settings, source)
        except Exception as exc:
            log.warning("proxy of source %s failed: %s", source_id, exc)
            with db.session() as s:
                row = s.get(Source, source_id)
                if row is not None:
                    row.proxy_status, row.proxy_error = ProxyStatus.FAILED, str(exc)[-2000:]
            raise
        with db.session() as s:
            row = s.get(Source, source_id)
            if row is not None:
                row.proxy_status, row.proxy_key, row.proxy_error = ProxyStatus.READY, key, None
        return key
    finally:
        db.dispose()


def _make_proxy(settings: Settings, source: Source) -> str:
    buckets = open_storage(settings)
    media = buckets.media.scoped(source.workspace_id)
    key = proxy_key(source)
    with tempfile.TemporaryDirectory(prefix="clipray-proxy-") as tmp:
        out = Path(tmp) / PROXY_NAME
        # make_proxy checks what exports rely on: all-intra, exactly the grid's frames.
        make_proxy(media.presign_get(source.storage_key), out, grid_of(source),
                   ffmpeg=settings.ffmpeg_bin, ffprobe=settings.ffprobe_bin)  # fmt: skip
        media.put_file(key, out, content_type="video/mp4")
    return key


def wait_for_proxy(settings: Settings, db: Database, source_id: str, timeout_s: float) -> str:
    """The key of the source's ready proxy, building it here if nobody is (the CLI's path;
    the job runner builds proxies as tasks of their own)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with db.session() as s:
            source = s.get(Source, source_id)
            if source is None:
                raise ProxyError(f"source {source_id} is gone")
            status, key, error = source.proxy_status, source.proxy_key, source.proxy_error
            if status in (ProxyStatus.NONE, ProxyStatus.FAILED):
                source.proxy_status = ProxyStatus.PENDING
        if status is ProxyStatus.READY and key:
            return key
        if status is ProxyStatus.FAILED and error:
            log.info("building the proxy of %s again after: %s", source_id, error)
        key = build_proxy(settings, source_id)
        if key:
            return key
        if time.monotonic() > deadline:
            raise ProxyError(f"the proxy of source {source_id} is not ready after {timeout_s} s")
        time.sleep(min(2.0, settings.job_poll_interval_s))


# --- export ------------------------------------------------------------------------------
def export_clip(settings: Settings, export_id: str) -> dict[str, Any] | None:
    """Export one approved clip from its source's proxy (Ray task). Returns what was
    recorded, or None when another worker holds this export or it is done already."""
    db = open_database(settings)
    try:
        with db.session() as s:
            attempt = claim_export(s, export_id)
        if attempt is None:
            return None
        try:
            with timed("export"):
                values = _export(settings, db, export_id)
        except Exception as exc:
            log.warning("export %s failed: %s", export_id, exc)
            with db.session() as s:
                finish_export(s, export_id, attempt, status=ExportStatus.FAILED,
                              error=str(exc)[-2000:])  # fmt: skip
            raise
        with db.session() as s:
            finish_export(s, export_id, attempt, status=ExportStatus.DONE, error=None, **values)
        return values
    finally:
        db.dispose()


def _export(settings: Settings, db: Database, export_id: str) -> dict[str, Any]:
    with db.session() as s:
        export = s.get(ClipExport, export_id)
        clip = s.get(VirtualClip, export.clip_id) if export else None
        source = s.get(Source, clip.source_id) if clip else None
        if export is None or clip is None or source is None:
            raise ProxyError(f"export {export_id}, its clip or its source is gone")
        start, end, key = clip.start_frame, clip.end_frame, export_key(clip)
        grid = grid_of(source)
        # What the build checked (all-intra, every frame of the grid): probing the proxy
        # again would read all of its packets over the network.
        proxy_info = ProxyInfo(
            frame_count=grid.frame_count, fps=grid.fps, width=source.width or 0,
            height=source.height or 0, has_audio=source.audio_codec is not None, all_intra=True,
        )  # fmt: skip
    proxy = wait_for_proxy(settings, db, source.id, settings.proxy_build_timeout_s)
    media = open_storage(settings).media.scoped(source.workspace_id)
    with tempfile.TemporaryDirectory(prefix="clipray-export-") as tmp:
        out = Path(tmp) / "clip.mp4"
        done = export_range(media.presign_get(proxy), proxy_info, start, end, out,
                            ffmpeg=settings.ffmpeg_bin, ffprobe=settings.ffprobe_bin)  # fmt: skip
        stored = media.put_file(key, out, content_type="video/mp4")
    return {"method": done.method, "frames": done.frames, "duration_s": done.duration_s,
            "key": key, "size_bytes": stored.size}  # fmt: skip
