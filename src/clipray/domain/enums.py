"""Every state and kind a record can be in: string enums, stored by value.

The database stores them as VARCHAR with a CHECK (``storage/orm.py``); the API serves the
values; the pure core decides with them.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A member's role in a workspace, from most to least powerful."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class SourceOrigin(enum.StrEnum):
    """Where a source video came from."""

    LOCAL = "local"
    URL = "url"
    UPLOAD = "upload"
    BUCKET = "bucket"


class JobStatus(enum.StrEnum):
    """A job's state; ``clipray.jobs.machine`` says which transitions are legal."""

    CREATED = "created"
    INGESTING = "ingesting"
    ANALYZING = "analyzing"
    CLIPS_GENERATED = "clips_generated"
    RENDERING = "rendering"
    REVIEW = "review"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ProxyStatus(enum.StrEnum):
    """The all-intra proxy of a source, which virtual clips are exported from."""

    NONE = "none"
    PENDING = "pending"
    """Wanted: the job runner starts a build."""
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class AnalysisStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ClipStatus(enum.StrEnum):
    PENDING = "pending"
    """Chosen and planned, not rendered yet."""
    RENDERED = "rendered"
    FAILED = "failed"


class ReviewStatus(enum.StrEnum):
    """Where a virtual clip stands in review."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    """Approved clips are exported (one export per clip, as soon as it is approved)."""
    SKIPPED = "skipped"
    ARCHIVED = "archived"


class ExportStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class GeneratedKind(enum.StrEnum):
    HEURISTIC = "heuristic"
    LLM_RANKED = "llm-ranked"
    HIGHLIGHT_REEL = "highlight-reel"
    STREAM = "stream"
    """Cut from a live stream's ring buffer (``stream_clips`` says which window)."""


class GeneratedStatus(enum.StrEnum):
    AVAILABLE = "available"
    """Ephemeral: purged once ``expires_at`` passes."""
    KEPT = "kept"
    PUBLISHED = "published"
    PURGED = "purged"
    """Its object is deleted; the row stays as the record (and for the candidate's upsert)."""


class ConnectionStatus(enum.StrEnum):
    """Where a connected platform account stands."""

    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"
    """The platform refused to refresh its tokens: the user must connect it again."""
    REVOKED = "revoked"
    """Disconnected by a user; its tokens are deleted."""
