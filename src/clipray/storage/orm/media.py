"""Sources, jobs and their steps, analyses, rendered clips, upload reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# The vocabulary lives in clipray.domain; re-exported for storage's callers.
from clipray.domain.enums import (
    AnalysisStatus,
    ClipStatus,
    JobStatus,
    ProxyStatus,
    ReviewStatus,
    SourceOrigin,
    StepStatus,
)
from clipray.domain.ids import new_id
from clipray.domain.time import utcnow
from clipray.storage.coltypes import UtcDateTime
from clipray.storage.orm.base import Base, str_enum


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

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
    proxy_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When a worker took the proxy build; a claim older than the build timeout is stale."""
    proxy_error: Mapped[str | None] = mapped_column(Text)

    @property
    def audio_only(self) -> bool:
        """A sound file without a picture (a podcast episode): ingest records no video codec
        for one, and every video source has one, so no column of its own is needed."""
        return self.video_codec is None


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
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """Retry backoff: the runner starts no step of this job before this time."""
    trace_id: Mapped[str | None] = mapped_column(String(64))
    """The API's trace id of the request that created the job: the id of the job's trace."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


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
    review: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, "review_status"), default=ReviewStatus.PENDING_REVIEW,
        server_default=ReviewStatus.PENDING_REVIEW.value,
    )
    """Where a reviewer put this version (the studio's approve, skip, archive); the video
    is not touched."""
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    generated_clip_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_clips.id", ondelete="SET NULL")
    )
    """The generated clip its render stored; cleared when retention purges it, so the
    moment can be rendered again."""


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
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
