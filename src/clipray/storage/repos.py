"""Repositories: the only code that queries or writes rows.

Each repository wraps one session; the caller decides the transaction (``Database.session``).
Reads of workspace-owned records always take the workspace id, so a record of another
workspace is simply not found.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.domain.ids import SLUG as SLUG  # the slug rules are pure: re-exported from domain
from clipray.domain.ids import InvalidSlugError as InvalidSlugError
from clipray.domain.ids import check_slug
from clipray.storage.orm import (
    Analysis,
    AnalysisStatus,
    Clip,
    ClipStatus,
    Job,
    JobStatus,
    JobStep,
    Role,
    Source,
    SourceOrigin,
    StepStatus,
    User,
    Workspace,
    WorkspaceMember,
    utcnow,
)

T = TypeVar("T")
LOCAL_USER_EMAIL = "local@clipray.invalid"
"""The user the CLI acts as on a machine without accounts (``.invalid`` never resolves)."""


def fetch_page(session: Session, query: Select[Any], limit: int, offset: int,
               *order: Any) -> tuple[list[Any], int]:  # fmt: skip
    """One page of ``query`` in ``order``, and how many rows the whole query has."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def get_or_create(
    session: Session, find: Callable[[], T | None], create: Callable[[], T]
) -> tuple[T, bool]:
    """``find()``, or ``create()`` inside a savepoint; a concurrent creator that won the race
    (unique violation) is found instead. Returns the row and whether this call created it."""
    found = find()
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            return create(), True
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found, False


class UserRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, user_id: str) -> User | None:
        return self.s.get(User, user_id)

    def by_email(self, email: str) -> User | None:
        return self.s.scalar(select(User).where(User.email == email.lower()))

    def create(self, email: str, display_name: str = "") -> User:
        user = User(email=email.lower(), display_name=display_name)
        self.s.add(user)
        self.s.flush()
        return user

    def ensure(self, email: str, display_name: str = "") -> User:
        """The user with ``email``, created if missing."""
        user, _ = get_or_create(
            self.s, lambda: self.by_email(email), lambda: self.create(email, display_name)
        )
        return user

    def first_registered(self) -> User | None:
        """The earliest-registered user who can sign in (the CLI's local user, which has
        no password, is not one), ties broken by id."""
        q = select(User).where(User.password_hash.is_not(None))
        return self.s.scalar(q.order_by(User.created_at, User.id).limit(1))


class WorkspaceRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, workspace_id: str) -> Workspace | None:
        return self.s.get(Workspace, workspace_id)

    def by_slug(self, slug: str) -> Workspace | None:
        return self.s.scalar(select(Workspace).where(Workspace.slug == slug))

    def list(self) -> Sequence[Workspace]:
        return self.s.scalars(select(Workspace).order_by(Workspace.slug)).all()

    def create(self, slug: str, name: str = "", owner: User | None = None) -> Workspace:
        ws = Workspace(slug=check_slug(slug), name=name or slug)
        self.s.add(ws)
        self.s.flush()
        if owner is not None:
            self.add_member(ws.id, owner.id, Role.OWNER)
        return ws

    def ensure(self, slug: str, owner: User | None = None) -> tuple[Workspace, bool]:
        """The workspace ``slug``, created on first use. Returns it and whether it was created."""
        check_slug(slug)
        return get_or_create(
            self.s, lambda: self.by_slug(slug), lambda: self.create(slug, owner=owner)
        )

    def add_member(self, workspace_id: str, user_id: str, role: Role) -> WorkspaceMember:
        member = self.s.get(WorkspaceMember, (workspace_id, user_id))
        if member is None:
            member = WorkspaceMember(workspace_id=workspace_id, user_id=user_id, role=role)
            self.s.add(member)
        else:
            member.role = role
        self.s.flush()
        return member

    def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        member = self.s.get(WorkspaceMember, (workspace_id, user_id))
        return member.role if member else None


@dataclass(frozen=True)
class SourceMeta:
    """What ingest learned about a video; becomes a ``sources`` row."""

    origin: SourceOrigin
    origin_uri: str
    storage_key: str
    sha256: str
    size_bytes: int
    duration_s: float
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None


class SourceRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def add(self, meta: SourceMeta, source_id: str | None = None) -> Source:
        fields: dict[str, Any] = asdict(meta)
        source = Source(workspace_id=self.workspace_id, **fields)
        if source_id:
            source.id = source_id
        self.s.add(source)
        self.s.flush()
        return source

    def get(self, source_id: str) -> Source | None:
        return self.s.scalar(
            select(Source).where(Source.id == source_id, Source.workspace_id == self.workspace_id)
        )

    def stored_bytes(self) -> int:
        """Bytes of the workspace's sources: what its storage quota counts."""
        return int(self.s.scalar(
            select(func.coalesce(func.sum(Source.size_bytes), 0))
            .where(Source.workspace_id == self.workspace_id)
        ) or 0)  # fmt: skip

    def by_sha256(self, sha256: str) -> Source | None:
        return self.s.scalar(
            select(Source).where(Source.sha256 == sha256, Source.workspace_id == self.workspace_id)
        )

    def list(self, limit: int = 100, offset: int = 0) -> Sequence[Source]:
        return self.s.scalars(
            select(Source)
            .where(Source.workspace_id == self.workspace_id)
            .order_by(Source.created_at.desc(), Source.id)
            .limit(limit)
            .offset(offset)
        ).all()

    def page(self, limit: int, offset: int) -> tuple[list[Source], int]:
        """One page of the workspace's sources, newest first, and how many there are."""
        q = select(Source).where(Source.workspace_id == self.workspace_id)
        return fetch_page(self.s, q, limit, offset, Source.created_at.desc(), Source.id)

    def working_job(self, source_id: str, active: Collection[JobStatus]) -> str | None:
        """The id of a job in one of the ``active`` states that works on the source."""
        return self.s.scalar(
            select(Job.id).where(Job.source_id == source_id, Job.status.in_(active)).limit(1)
        )


class JobRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def create(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        source_id: str | None = None,
        created_by: str | None = None,
    ) -> Job:
        job = Job(
            workspace_id=self.workspace_id,
            kind=kind,
            params=params or {},
            source_id=source_id,
            created_by=created_by,
            status=JobStatus.CREATED,
        )
        self.s.add(job)
        self.s.flush()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.s.scalar(
            select(Job).where(Job.id == job_id, Job.workspace_id == self.workspace_id)
        )

    def list(self, status: JobStatus | None = None, limit: int = 100) -> Sequence[Job]:
        q = select(Job).where(Job.workspace_id == self.workspace_id)
        if status is not None:
            q = q.where(Job.status == status)
        return self.s.scalars(q.order_by(Job.created_at.desc()).limit(limit)).all()

    def set_status(self, job: Job, status: JobStatus, error: str | None = None) -> Job:
        job.status = status
        now = utcnow()
        if status is not JobStatus.CREATED and job.started_at is None:
            job.started_at = now
        if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
            job.finished_at = now
        job.error = error
        self.s.flush()
        return job

    def start_step(self, job: Job, name: str) -> JobStep:
        """A new attempt of step ``name``: attempt numbers count up per job and step."""
        previous = self.s.scalar(
            select(JobStep.attempt)
            .where(JobStep.job_id == job.id, JobStep.name == name)
            .order_by(JobStep.attempt.desc())
            .limit(1)
        )
        step = JobStep(
            job_id=job.id,
            name=name,
            attempt=(previous or 0) + 1,
            status=StepStatus.RUNNING,
            started_at=utcnow(),
        )
        self.s.add(step)
        self.s.flush()
        return step

    def finish_step(
        self,
        step: JobStep,
        status: StepStatus,
        error: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> JobStep:
        step.status = status
        step.error = error
        step.finished_at = utcnow()
        if detail is not None:
            step.detail = detail
        self.s.flush()
        return step

    def steps(self, job: Job) -> Sequence[JobStep]:
        return self.s.scalars(
            select(JobStep)
            .where(JobStep.job_id == job.id)
            .order_by(JobStep.created_at, JobStep.name, JobStep.attempt)
        ).all()


class AnalysisRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def find(self, source_id: str, fingerprint: str) -> Analysis | None:
        return self.s.scalar(
            select(Analysis).where(
                Analysis.workspace_id == self.workspace_id,
                Analysis.source_id == source_id,
                Analysis.fingerprint == fingerprint,
            )
        )

    def latest(self, source_id: str) -> Analysis | None:
        """The newest analysis of the source that succeeded and stored its document."""
        return self.s.scalar(
            select(Analysis)
            .where(
                Analysis.workspace_id == self.workspace_id,
                Analysis.source_id == source_id,
                Analysis.status == AnalysisStatus.SUCCEEDED,
                Analysis.artifact_key.is_not(None),
            )
            .order_by(Analysis.created_at.desc(), Analysis.id.desc())
            .limit(1)
        )

    def record(
        self,
        source: Source,
        fingerprint: str,
        *,
        artifact_key: str | None,
        summary: dict[str, Any],
        error: str | None = None,
    ) -> Analysis:
        """Store the outcome of an analysis, replacing an earlier one of the same config."""
        row = self.find(source.id, fingerprint)
        if row is None:
            row = Analysis(
                workspace_id=self.workspace_id,
                source_id=source.id,
                sha256=source.sha256,
                fingerprint=fingerprint,
            )
            self.s.add(row)
        row.status = AnalysisStatus.FAILED if error else AnalysisStatus.SUCCEEDED
        row.artifact_key = artifact_key
        row.summary = summary
        row.error = error
        self.s.flush()
        return row


class ClipRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def find(self, moment_id: str, spec_hash: str) -> Clip | None:
        """The version of a moment rendered with exactly this spec, if any."""
        return self.s.scalar(
            select(Clip).where(
                Clip.workspace_id == self.workspace_id,
                Clip.moment_id == moment_id,
                Clip.spec_hash == spec_hash,
            )
        )

    def versions(self, moment_id: str) -> Sequence[Clip]:
        return self.s.scalars(
            select(Clip)
            .where(Clip.workspace_id == self.workspace_id, Clip.moment_id == moment_id)
            .order_by(Clip.version)
        ).all()

    def add(self, clip: Clip) -> Clip:
        """Store a new version of ``clip.moment_id`` (numbered after the existing ones)."""
        clip.workspace_id = self.workspace_id
        latest = self.s.scalar(
            select(Clip.version)
            .where(Clip.workspace_id == self.workspace_id, Clip.moment_id == clip.moment_id)
            .order_by(Clip.version.desc())
            .limit(1)
        )
        clip.version = (latest or 0) + 1
        self.s.add(clip)
        self.s.flush()
        return clip

    def for_job(self, job_id: str) -> Sequence[Clip]:
        return self.s.scalars(
            select(Clip)
            .where(Clip.workspace_id == self.workspace_id, Clip.job_id == job_id)
            .order_by(Clip.start_s, Clip.version)
        ).all()

    def replace_pending(self, job_id: str, rows: Sequence[Clip]) -> list[Clip]:
        """The job's chosen clips: earlier pending ones (an interrupted attempt) are replaced."""
        for old in self.s.scalars(
            select(Clip).where(
                Clip.workspace_id == self.workspace_id,
                Clip.job_id == job_id,
                Clip.status == ClipStatus.PENDING,
            )
        ):
            self.s.delete(old)
        self.s.flush()
        return [self.add(row) for row in rows]

    def mark_rendered(self, clip_id: str, keys: dict[str, str], error: str | None) -> Clip | None:
        """Record a render's outcome (its files' keys, or why it failed)."""
        clip = self.get(clip_id)
        if clip is None:
            return None
        clip.status = ClipStatus.FAILED if error else ClipStatus.RENDERED
        clip.error = error
        clip.video_key = keys.get("video")
        clip.thumbnail_key = keys.get("thumbnail")
        clip.fcpxml_key = keys.get("fcpxml")
        clip.edl_key = keys.get("edl")
        self.s.flush()
        return clip

    def get(self, clip_id: str) -> Clip | None:
        return self.s.scalar(
            select(Clip).where(Clip.workspace_id == self.workspace_id, Clip.id == clip_id)
        )

    def for_source(self, source_id: str) -> Sequence[Clip]:
        return self.s.scalars(
            select(Clip)
            .where(Clip.workspace_id == self.workspace_id, Clip.source_id == source_id)
            .order_by(Clip.start_s, Clip.version)
        ).all()
