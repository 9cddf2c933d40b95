"""The database schema as typed SQLAlchemy 2 models.

Rows here are storage records; HTTP request/response schemas live in ``serve/`` and the
pipeline vocabulary in ``schemas.py``. Every change to this file ships with a migration in
``storage/migrations/versions`` (a test checks that the two agree).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The vocabulary lives in clipray.domain; re-exported for storage's callers.
from clipray.domain.enums import (
    AnalysisStatus,
    ClipStatus,
    ExportStatus,
    GeneratedKind,
    GeneratedStatus,
    JobStatus,
    ProxyStatus,
    ReviewStatus,
    Role,
    SourceOrigin,
    StepStatus,
)
from clipray.domain.ids import new_id
from clipray.domain.time import as_utc, utcnow  # noqa: F401

# Stable constraint names, so that migrations can drop and alter them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, alike on SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON}  # noqa: RUF012 (SQLAlchemy reads it once)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    """argon2id hash; None for users that cannot log in (the CLI's local user)."""
    personal_workspace_id: Mapped[str | None] = mapped_column(String(32))
    """The workspace made at registration, where requests without X-Workspace-Id act.
    No foreign key: users and workspaces would reference each other in a cycle."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer)
    """Quota: jobs running at once; None takes ``CLIPRAY_QUOTA_CONCURRENT_JOBS``."""
    max_minutes_per_month: Mapped[int | None] = mapped_column(Integer)
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    """Bytes of the workspace's own sources it may hold (None: the configured default).
    Generated clips are not counted: they live on the app-owned bucket."""
    """Quota: source minutes processed per calendar month (UTC); None takes
    ``CLIPRAY_QUOTA_MINUTES_PER_MONTH``."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    members: Mapped[list[WorkspaceMember]] = relationship(
        back_populates="workspace", cascade="all, delete-orphan", passive_deletes=True
    )


class WorkspaceMember(Base):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "member_role"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="members")


class Source(Base):
    """A video in a workspace: where it came from, where it is stored, what ffprobe said."""

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("workspace_id", "sha256", name="uq_sources_workspace_sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    origin: Mapped[SourceOrigin] = mapped_column(str_enum(SourceOrigin, "source_origin"))
    origin_uri: Mapped[str] = mapped_column(Text, default="")
    """The URL, bucket URI or file name the user gave; informational, never used in a key."""
    storage_key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    container: Mapped[str | None] = mapped_column(String(64))
    video_codec: Mapped[str | None] = mapped_column(String(64))
    audio_codec: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Virtual clips: the frame grid they are cut on, and the proxy they are exported from.
    frame_count: Mapped[int | None] = mapped_column(Integer)
    """Frames of the virtual-clip grid (and of the proxy); None until the cover exists."""
    frame_rate: Mapped[str | None] = mapped_column(String(32))
    """The grid's exact rate as a fraction, e.g. ``30000/1001``."""
    cut_version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every cut operation: the optimistic lock that turns a concurrent edit
    into a conflict instead of a broken cover."""
    proxy_status: Mapped[ProxyStatus] = mapped_column(
        str_enum(ProxyStatus, "proxy_status"), default=ProxyStatus.NONE
    )
    proxy_key: Mapped[str | None] = mapped_column(String(1024))
    proxy_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a worker took the proxy build; a claim older than the build timeout is stale."""
    proxy_error: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    """A unit of work a user asked for (analyse, render, export...), with its steps."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("workspace_id", "idempotency_key", name="uq_jobs_workspace_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "job_status"), default=JobStatus.CREATED, index=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    """A paused job finishes the step it is in and starts no other until resumed."""
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """Hash of the request that created the job: a reused Idempotency-Key with another
    body is refused instead of silently returning a different job."""
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Retry backoff: the runner starts no step of this job before this time."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    steps: Mapped[list[JobStep]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="JobStep.created_at",
    )


class JobStep(Base):
    """One attempt at one step of a job."""

    __tablename__ = "job_steps"
    __table_args__ = (
        UniqueConstraint("job_id", "name", "attempt", name="uq_job_steps_job_name_attempt"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[StepStatus] = mapped_column(
        str_enum(StepStatus, "step_status"), default=StepStatus.PENDING
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    job: Mapped[Job] = relationship(back_populates="steps")


class Analysis(Base):
    """The analysis of one source under one configuration; its artifacts live on the bucket.

    ``fingerprint`` hashes what changes the result (models, thresholds, sizes): the same
    bytes analysed with the same fingerprint are never analysed twice.
    """

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("source_id", "fingerprint", name="uq_analyses_source_fingerprint"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[AnalysisStatus] = mapped_column(str_enum(AnalysisStatus, "analysis_status"))
    artifact_key: Mapped[str | None] = mapped_column(String(1024))
    """Key of ``analysis.json`` on the media bucket; None when the analysis failed."""
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Counts and timings: scenes, words, tracks, embeddings, seconds per stage."""
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Clip(Base):
    """One rendered version of a chosen moment of a source.

    ``moment_id`` names the moment (source and span); rendering it again with other
    settings adds a version, rendering it with the same ``spec_hash`` reuses the row.
    Files live on the app-owned clips bucket.
    """

    __tablename__ = "clips"
    __table_args__ = (
        UniqueConstraint("moment_id", "version", name="uq_clips_moment_version"),
        UniqueConstraint("moment_id", "spec_hash", name="uq_clips_moment_spec"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    """The job that chose this moment; None for clips made by ``clipray run``."""
    moment_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[ClipStatus] = mapped_column(str_enum(ClipStatus, "clip_status"))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    render_spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    spec_hash: Mapped[str] = mapped_column(String(64))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What a pending clip's render needs besides the spec (captions, NLE files, thumbnail
    time), so that rendering resumes from the database after a crash."""
    video_key: Mapped[str | None] = mapped_column(String(1024))
    thumbnail_key: Mapped[str | None] = mapped_column(String(1024))
    fcpxml_key: Mapped[str | None] = mapped_column(String(1024))
    edl_key: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    generated_clip_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_clips.id", ondelete="SET NULL")
    )
    """The generated clip its render stored; cleared when retention purges it, so the
    moment can be rendered again."""


class ClipGroup(Base):
    """Clips of one source grouped for shared metadata (a series, a topic, a post)."""

    __tablename__ = "clip_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VirtualClip(Base):
    """Frames ``[start_frame, end_frame)`` of a source: a clip that is only cut points.

    The live clips of a source cover it with no gap and no overlap (``clips.cuts``). A cut
    operation never changes a row's frames: it archives the replaced clips (``live`` False)
    and adds new ones, so undo brings the old rows back as they were.
    """

    __tablename__ = "virtual_clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    """In the source's current cover; False once a cut operation replaced it."""
    review: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, "review_status"), default=ReviewStatus.PENDING_REVIEW
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("clip_groups.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CutEdit(Base):
    """The audit trail of a source's cover: one row per operation (undo included)."""

    __tablename__ = "cut_edits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    op: Mapped[str] = mapped_column(String(16))
    """``add``, ``remove``, ``move`` or ``undo``."""
    frame: Mapped[int | None] = mapped_column(Integer)
    to_frame: Mapped[int | None] = mapped_column(Integer)
    cuts_before: Mapped[list[int]] = mapped_column(JSON, default=list)
    cuts_after: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    archived_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer)
    """The source's ``cut_version`` after this operation."""
    undo_of: Mapped[str | None] = mapped_column(String(32))
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClipExport(Base):
    """The file of one approved virtual clip. A clip's frames never change (edits make new
    clips), so one export per clip is all there is: exporting again reuses it."""

    __tablename__ = "clip_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_clips.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "export_status"), default=ExportStatus.PENDING
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by each claim; only the latest claimant may record the outcome."""
    method: Mapped[str | None] = mapped_column(String(16))
    """``copy`` (stream copy from the proxy) or ``reencode`` (where copy could not be exact)."""
    key: Mapped[str | None] = mapped_column(String(1024))
    frames: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GeneratedClip(Base):
    """A clip clipray generated: product output on the app-owned bucket, not the user's
    archive. It counts against no storage quota and expires unless kept or published.
    One row per candidate it came from (upserted, so a retried render reuses it)."""

    __tablename__ = "generated_clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    candidate_id: Mapped[str] = mapped_column(String(64), unique=True)
    """What it was generated from: a rendered moment (a ``clips`` row) or a highlight reel."""
    kind: Mapped[GeneratedKind] = mapped_column(
        str_enum(GeneratedKind, "generated_kind"), default=GeneratedKind.HEURISTIC
    )
    status: Mapped[GeneratedStatus] = mapped_column(
        str_enum(GeneratedStatus, "generated_status"), default=GeneratedStatus.AVAILABLE
    )
    storage_key: Mapped[str] = mapped_column(String(1024))
    """The video on the app-owned bucket; its sibling files (thumbnail, NLE) share the prefix."""
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    title: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    kept_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class HighlightReel(Base):
    """A highlight reel asked for: its moments in order, and the work that makes it (one
    Ray task, driven by the job runner and claimed with an attempt number like an export).
    The reel itself is a generated clip (kind ``highlight-reel``), so retention applies."""

    __tablename__ = "highlight_reels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"moments": [{"source_id", "start", "end"}, ...], "height": int | None}``."""
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "reel_status"), default=ExportStatus.PENDING, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by each claim; only the latest claimant may record the outcome."""
    generated_clip_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_clips.id", ondelete="SET NULL")
    )
    method: Mapped[str | None] = mapped_column(String(16))
    """How the parts were joined: ``copy`` (concat by stream copy) or ``reencode``."""
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One refresh token, stored as a hash. Refreshing rotates it: the old one is revoked and
    points at its successor; presenting a revoked one revokes its whole family (theft)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A machine credential: acts as its user in one workspace, limited to its scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimitHit(Base):
    """One admitted request of a rate-limited kind (``login:203.0.113.7``), shared by every
    Serve replica through the database. A sliding window counts the rows younger than it;
    older rows are deleted as the key is hit, so a key holds at most its limit of rows."""

    __tablename__ = "rate_limit_hits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UploadReservation(Base):
    """The declared size of a presigned upload, held against its workspace's storage quota
    from the presign until it is confirmed or, once ``expires_at`` (the presign's) and a
    grace period have passed, the retention keeper deletes the object and this row."""

    __tablename__ = "upload_reservations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KeeperSweep(Base):
    """When a periodic keeper (``retention``) last finished a sweep: durable, so that a
    restarted keeper sweeps at once when the last sweep is older than its interval."""

    __tablename__ = "keeper_sweeps"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    swept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
