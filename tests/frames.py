"""Decoded pictures, for tests that check frames by their pixels (which frame a clip holds,
where a cut lands) rather than by what the container says, and frames indexed for search
without an analysis."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def gray_frames(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Every frame of the first video stream of ``path``, gray, scaled to ``size`` (width,
    height): ``(N, H, W)`` float."""
    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-s", f"{w}x{h}",
         "-pix_fmt", "gray", "-f", "rawvideo", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.float64)


def frames_indexed(settings, buckets, db, workspace_id: str, path: Path,
                   size: tuple[int, int] = (256, 144)) -> str:  # fmt: skip
    """A real source of the workspace (``path`` ingested) whose frames are indexed as the
    analysis indexes them (2 per second, at ``size``: a 16:9 video's 256-pixel analysis
    frame, through ``settings``' CLIP), without running an analysis: its id."""
    from clipray.domain.analysis import Analysis
    from clipray.models.embed import EmbedConfig, EmbedModel
    from clipray.pipelines.index import SourceToIndex, index_sources
    from clipray.pipelines.ingest import IngestContext, ingest

    item = ingest(IngestContext(buckets, db, workspace_id), str(path))
    w, h = size
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vf",
                          f"fps=2,scale={w}:{h}:flags=neighbor", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "pipe:"], capture_output=True, check=True).stdout  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    cfg = EmbedConfig(model_name=settings.clip_model, pretrained=settings.clip_pretrained)
    vectors = EmbedModel.load(cfg).embed_images(frames)
    todo = SourceToIndex.of(workspace_id, item.source.id, Analysis.from_json({}), vectors,
                            np.arange(len(frames)) * 0.5)  # fmt: skip
    assert index_sources(settings, [todo]) == {item.source.id: None}
    return item.source.id
