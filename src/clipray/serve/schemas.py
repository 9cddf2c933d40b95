"""Request and response bodies of the HTTP API (separate from the ORM rows they map)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clipray.domain.enums import Role

T = TypeVar("T")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
Aspect = Literal["9:16", "1:1", "16:9"]
CaptionStyle = Literal["highlight_word", "karaoke", "pop_in", "none"]


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for v in value.values():
            _no_nul(v)
    if isinstance(value, list):
        for v in value:
            _no_nul(v)
    return value


class Body(BaseModel):
    """A request body. NUL characters are refused everywhere: PostgreSQL cannot store them,
    and no legitimate title, email or key holds one."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        return _no_nul(data)


class Page(BaseModel, Generic[T]):
    """One page of a list: ``data``, the ``total`` count, this ``page`` (from 1), ``pages``."""

    data: list[T]
    total: int
    page: int
    pages: int

    @classmethod
    def of(cls, data: list[Any], total: int, page: int, limit: int) -> Page[Any]:
        return cls(data=data, total=total, page=page, pages=max(1, math.ceil(total / limit)))


# --- accounts ----------------------------------------------------------------------------
class Register(Body):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _email(self) -> Register:
        if not EMAIL.match(self.email):
            raise ValueError("email is not an address")
        return self


class Registered(BaseModel):
    id: str
    email: str
    workspace_id: str


class Login(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class RefreshIn(Body):
    refresh_token: str = Field(max_length=200)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int


class Me(BaseModel):
    id: str
    email: str
    name: str
    workspace_id: str | None
    role: Role


class ApiTokenIn(Body):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["read"], max_length=10)


class ApiTokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    workspace_id: str
    created_at: datetime
    last_used_at: datetime | None = None
    token: str | None = None
    """Only in the answer that creates it: store it, it is not shown again."""


# --- workspaces --------------------------------------------------------------------------
class WorkspaceIn(Body):
    name: str = Field(min_length=1, max_length=200)


class WorkspaceOut(BaseModel):
    id: str
    slug: str
    name: str
    role: Role


class MemberIn(Body):
    email: str = Field(max_length=320)
    role: Role


class MemberPatch(Body):
    role: Role


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: Role


# --- uploads -----------------------------------------------------------------------------
class PresignIn(Body):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(gt=0)


class PresignOut(BaseModel):
    key: str
    url: str
    method: Literal["POST", "PUT"]
    fields: dict[str, str]
    headers: dict[str, str]
    expires_in: int


class ConfirmIn(Body):
    key: str = Field(min_length=1, max_length=1024)


class ConfirmOut(BaseModel):
    source_id: str
    duration: float
    width: int
    height: int


# --- jobs --------------------------------------------------------------------------------
class JobSettings(Body):
    """What the job makes; every field optional."""

    model_config = ConfigDict(extra="forbid")

    max_clips: int = Field(default=5, ge=1, le=20)
    min_duration: float = Field(default=15.0, ge=3.0, le=600.0)
    max_duration: float = Field(default=60.0, ge=3.0, le=600.0)
    aspect: Aspect = "9:16"
    captions: CaptionStyle = "highlight_word"

    @model_validator(mode="after")
    def _durations(self) -> JobSettings:
        if self.min_duration > self.max_duration:
            raise ValueError("min_duration is above max_duration")
        return self


class JobCreate(Body):
    """Exactly one of ``source_id`` (an uploaded source), ``source_url``, ``source_key``."""

    model_config = ConfigDict(extra="forbid")

    source_id: str | None = Field(default=None, max_length=32)
    source_url: str | None = Field(default=None, max_length=2048)
    source_key: str | None = Field(default=None, max_length=1024)
    settings: JobSettings = Field(default_factory=JobSettings)

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        given = [n for n in ("source_id", "source_url", "source_key") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of source_id, source_url, source_key")
        return self


class StepOut(BaseModel):
    name: str
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error: str | None
    detail: dict[str, Any]
    worker: dict[str, Any] | None = None
    """Which process ran the attempt (``worker_pid``, ``node_id``): shown to workspace
    admins only (``inspect_workers``), null for everyone else."""


class JobOut(BaseModel):
    id: str
    status: str
    paused: bool
    progress: float
    error: str | None
    source_id: str | None
    source: dict[str, str]
    settings: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepOut] = Field(default_factory=list)


class JobCreated(BaseModel):
    id: str
    status: str


# --- clips -------------------------------------------------------------------------------
class ClipOut(BaseModel):
    id: str
    job_id: str | None
    source_id: str
    moment_id: str
    start: float
    end: float
    score: float
    title: str
    description: str
    hashtags: list[str]
    reasons: list[str]
    status: str
    version: int
    error: str | None
    generated_clip_id: str | None = None
    """The generated clip this render is (``/api/generated-clips/{id}``); None until it is
    rendered, and again once retention purged it."""
    created_at: datetime


class ClipPatch(Body):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class RerenderIn(Body):
    model_config = ConfigDict(extra="forbid")

    aspect: Aspect | None = None
    captions: CaptionStyle | None = None


class ClipIds(Body):
    ids: list[str] = Field(min_length=1, max_length=100)


class Deleted(BaseModel):
    deleted: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


# --- sources and virtual clips ------------------------------------------------------------
ReviewName = Literal["pending_review", "approved", "skipped", "archived"]


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
    created_at: datetime


class ExportOut(BaseModel):
    status: str
    method: str | None
    """``copy`` (stream copy from the proxy) or ``reencode``."""
    frames: int | None
    duration_s: float | None
    size_bytes: int | None
    error: str | None
    finished_at: datetime | None


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
    reviewed_at: datetime | None
    export: ExportOut | None


class CoverOut(BaseModel):
    """A source's current clips: consecutive frame ranges covering it exactly."""

    source_id: str
    version: int
    frame_count: int
    frame_rate: str
    clips: list[VirtualClipOut]


class VirtualClipPatch(Body):
    model_config = ConfigDict(extra="forbid")

    review: ReviewName | None = None
    """Approving a clip exports it (once; by stream copy from the source's proxy)."""
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    group_id: str | None = Field(default=None, max_length=32)
    """A group of this source; ``""`` takes the clip out of its group."""


class CutIn(Body):
    model_config = ConfigDict(extra="forbid")

    frame: int = Field(ge=0, le=2**31 - 1, description="The first frame of the new clip.")
    version: int | None = Field(default=None, ge=0, le=2**31 - 1)
    """The source's ``cut_version`` you edited: a stale one gets 409 and changes nothing."""


class CutMove(Body):
    model_config = ConfigDict(extra="forbid")

    to: int = Field(ge=0, le=2**31 - 1, description="The frame the cut moves to.")
    version: int | None = Field(default=None, ge=0, le=2**31 - 1)


class UndoIn(Body):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=0, le=2**31 - 1)


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
    created_at: datetime


class EditDone(BaseModel):
    edit: EditOut
    clips: list[VirtualClipOut]
    """The clips the operation created (or, for an undo, brought back)."""


class GroupIn(Body):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=5000)
    hashtags: list[str] = Field(default_factory=list, max_length=30)


class GroupPatch(Body):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    hashtags: list[str] | None = Field(default=None, max_length=30)


class GroupOut(BaseModel):
    id: str
    source_id: str
    name: str
    title: str
    description: str
    hashtags: list[str]
    clips: list[str]
    created_at: datetime


# --- generated clips ---------------------------------------------------------------------
class GeneratedOrigin(BaseModel):
    """What a generated clip was made from: a rendered clip or a highlight reel."""

    type: Literal["clip", "reel"]
    id: str
    """``/api/clips/{id}`` for a clip, ``/api/highlights/jobs/{id}`` for a reel."""


class GeneratedClipOut(BaseModel):
    id: str
    source_id: str | None
    candidate_id: str
    """The rendered clip (``/api/clips/{id}``) or highlight reel it was generated from."""
    origin: GeneratedOrigin
    """``candidate_id`` with its type, so a client follows the link without guessing."""
    kind: Literal["heuristic", "llm-ranked", "highlight-reel"]
    status: Literal["available", "kept", "published", "purged"]
    title: str
    size_bytes: int
    duration_s: float
    expires_at: datetime | None
    expires_in_days: float | None
    """Days until it is purged; None for a kept or published clip (it never expires)."""
    kept_at: datetime | None
    published_at: datetime | None
    created_at: datetime


# --- search and highlight reels ------------------------------------------------------------
class SearchIn(Body):
    query: str = Field(max_length=500, examples=["someone laughing on stage"])
    mode: Literal["visual", "transcript", "hybrid"] = "hybrid"
    """``visual``: frames through CLIP; ``transcript``: meaning and keywords of what is said;
    ``hybrid``: both, fused by reciprocal rank."""
    job_id: str | None = Field(default=None, max_length=64)
    """Only the source this job is about."""
    source_id: str | None = Field(default=None, max_length=64)
    """Only this source."""
    limit: int = Field(default=10, ge=1, le=100)
    """Moments per page."""
    page: int = Field(default=1, ge=1, le=1000)


class SearchHit(BaseModel):
    """One moment: neighbouring hits of one source, merged."""

    source_id: str
    job_id: str | None
    """The newest job about the source."""
    start: float
    end: float
    score: float
    """Cosine similarity for one list (visual mode); reciprocal-rank fusion score else."""
    mode: Literal["visual", "transcript", "hybrid"]
    """How the moment was found (``hybrid``: by frames and by words)."""
    text: str
    """What is said in it, where the transcript matched."""
    thumbnail_url: str
    """A frame of the moment (``GET`` redirects to the image)."""


class SearchOut(BaseModel):
    results: list[SearchHit]
    total: int
    page: int
    pages: int
    visual: Literal["available", "unavailable"]
    """``unavailable``: no CLIP weights are configured, frames were not searched."""


class MomentIn(Body):
    source_id: str = Field(max_length=64)
    start: float = Field(ge=0)
    end: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> MomentIn:
        if self.end <= self.start:
            raise ValueError("a moment ends after it starts")
        return self


class HighlightIn(Body):
    moments: list[MomentIn] = Field(min_length=1)
    """In reel order: search results, or by hand."""
    title: str = Field(default="", max_length=200)
    height: int | None = Field(default=None, ge=144, le=2160)
    """Height of the reel; unset: the tallest part's (at most 1080), width from its aspect."""


class HighlightJobOut(BaseModel):
    id: str
    status: Literal["pending", "running", "succeeded", "failed"]
    moments: list[MomentIn]
    title: str
    error: str | None
    generated_clip_id: str | None
    duration_s: float | None
    url: str | None
    """A presigned URL of the reel, once it succeeded."""
    created_at: datetime
    finished_at: datetime | None
