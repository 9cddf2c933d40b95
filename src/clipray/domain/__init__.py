"""clipray's vocabulary: enums, ids, time, and the one error model.

Imports nothing heavy (no SQLAlchemy, Ray, FastAPI, boto3, numpy), so the pure core
(``clips/``, ``jobs/``, permissions, ranking) and every door can share it; an
``import-linter`` contract in ``pyproject.toml`` keeps it that way.

    from clipray.domain import CodedError, JobStatus, new_id, utcnow
"""

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
from clipray.domain.errors import (
    CodedError,
    Conflict,
    DependencyMissing,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from clipray.domain.ids import new_id
from clipray.domain.time import as_utc, rfc3339, utcnow

__all__ = [
    "AnalysisStatus",
    "ClipStatus",
    "CodedError",
    "Conflict",
    "DependencyMissing",
    "ExportStatus",
    "Forbidden",
    "GeneratedKind",
    "GeneratedStatus",
    "JobStatus",
    "NotFound",
    "PayloadTooLarge",
    "ProxyStatus",
    "RateLimited",
    "ReviewStatus",
    "Role",
    "SourceOrigin",
    "StepStatus",
    "Unauthorized",
    "Unavailable",
    "as_utc",
    "new_id",
    "rfc3339",
    "utcnow",
]
