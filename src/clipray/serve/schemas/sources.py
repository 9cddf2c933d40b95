"""Sources, their virtual clips (the cover), cut operations and clip groups."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import (
    Body,
    Description,
    Hashtag,
    Name,
    ReviewName,
    Timestamp,
    Title,
)

FRAME_MAX = 2**31 - 1
"""Frames and versions are 32-bit columns."""


class SourceOut(BaseModel):
    id: str
    origin: str
    origin_uri: str
    duration_s: float
    width: int | None
    height: int | None
    fps: float | None
    frame_count: int | None
    """Frames of the virtual-clip grid; None until the analysis created the clips."""
    frame_rate: str | None
    """The grid's exact rate, e.g. ``30000/1001``; frame N starts at N / rate seconds."""
    cut_version: int
    """Send it back with a cut operation: a changed version means another edit landed."""
    proxy_status: str
    created_at: Timestamp
    audio_only: bool = False
    """A sound file without a picture (a podcast episode): its clips render as audiograms,
    and it has no virtual clips (no frame grid)."""


class ExportOut(BaseModel):
    status: str
    method: str | None
    """``copy`` (stream copy from the proxy) or ``reencode``."""
    frames: int | None
    duration_s: float | None
    size_bytes: int | None
    error: str | None
    finished_at: Timestamp | None


class VirtualClipOut(BaseModel):
    id: str
    source_id: str
    start_frame: int
    end_frame: int
    """Exclusive: the clip holds frames ``start_frame .. end_frame - 1``."""
    start: float
    end: float
    live: bool
    """False once a cut operation replaced the clip (it stays for undo and the audit)."""
    review: ReviewName
    group_id: str | None
    title: str
    description: str
    reviewed_at: Timestamp | None
    export: ExportOut | None


class CoverOut(BaseModel):
    """A source's current clips: consecutive frame ranges covering it exactly."""

    source_id: str
    version: int
    frame_count: int
    frame_rate: str
    clips: list[VirtualClipOut]


class VirtualClipPatch(Body):
    review: ReviewName | None = None
    """Approving a clip exports it (once; by stream copy from the source's proxy)."""
    title: Title | None = None
    description: Description | None = None
    group_id: str | None = Field(default=None, max_length=32)
    """A group of this source; ``""`` takes the clip out of its group."""


class CutIn(Body):
    frame: int = Field(ge=0, le=FRAME_MAX, description="The first frame of the new clip.")
    version: int | None = Field(default=None, ge=0, le=FRAME_MAX)
    """The source's ``cut_version`` you edited: a stale one gets 409 and changes nothing."""


class CutMove(Body):
    to: int = Field(ge=0, le=FRAME_MAX, description="The frame the cut moves to.")
    version: int | None = Field(default=None, ge=0, le=FRAME_MAX)


class UndoIn(Body):
    version: int | None = Field(default=None, ge=0, le=FRAME_MAX)


class CutsOut(BaseModel):
    source_id: str
    version: int
    frame_count: int
    frame_rate: str
    cuts: list[int]
    """Interior cut points: the first frame of every clip but the first."""


class EditOut(BaseModel):
    """One committed cut operation (its audit row), with the clips it made."""

    id: str
    op: Literal["add", "remove", "move", "undo"]
    user_id: str | None
    frame: int | None
    to: int | None
    cuts_before: list[int]
    cuts_after: list[int]
    created: list[str]
    archived: list[str]
    version: int
    undo_of: str | None
    undone: bool
    created_at: Timestamp


class EditDone(BaseModel):
    edit: EditOut
    clips: list[VirtualClipOut]
    """The clips the operation created (or, for an undo, brought back)."""


class GroupIn(Body):
    name: Name
    title: Title = ""
    description: Description = ""
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=30)


class GroupPatch(Body):
    name: Name | None = None
    title: Title | None = None
    description: Description | None = None
    hashtags: list[Hashtag] | None = Field(default=None, max_length=30)


class GroupOut(BaseModel):
    id: str
    source_id: str
    name: str
    title: str
    description: str
    hashtags: list[str]
    clips: list[str]
    created_at: Timestamp


class ProxyOut(BaseModel):
    """The source's all-intra proxy for frame-exact viewing (every frame a keyframe, frame
    N shown from N / ``frame_rate`` seconds)."""

    status: Literal["ready", "pending", "building"]
    url: str | None
    """A presigned URL of the MP4 (no credentials needed: a ``<video>`` can play it) while
    ``status`` is ready; None before."""
    frame_count: int
    frame_rate: str
    error: str | None
    """Why the previous build failed, while it is being tried again."""
