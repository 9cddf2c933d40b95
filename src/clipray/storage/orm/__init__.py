"""The database schema as typed SQLAlchemy 2 models.

Rows here are storage records; HTTP request/response schemas live in ``serve/`` and the
pipeline vocabulary in ``schemas.py``. Every change to these modules ships with a migration in
``storage/migrations/versions`` (a test checks that the two agree).

One module per area (accounts, media, review, generated, audit, publishing, publications,
webhooks, flags, streams, brand);
import the models from ``clipray.storage.orm`` as before.
"""

from clipray.domain.enums import (
    AnalysisStatus,
    ClipStatus,
    ConnectionStatus,
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
from clipray.domain.time import as_utc, utcnow
from clipray.storage.orm.accounts import (
    ApiToken,
    RateLimitHit,
    RefreshToken,
    User,
    Workspace,
    WorkspaceMember,
)
from clipray.storage.orm.audit import AuditEvent
from clipray.storage.orm.base import NAMING, Base, str_enum
from clipray.storage.orm.brand import BrandKitRow
from clipray.storage.orm.flags import FeatureFlag
from clipray.storage.orm.generated import (
    GeneratedClip,
    HighlightReel,
    KeeperSweep,
)
from clipray.storage.orm.library import LibraryItem
from clipray.storage.orm.media import (
    Analysis,
    Clip,
    Job,
    JobStep,
    Source,
    UploadReservation,
)
from clipray.storage.orm.publications import Publication
from clipray.storage.orm.publishing import ConnectedAccount, OAuthState
from clipray.storage.orm.review import (
    ClipExport,
    ClipGroup,
    CutEdit,
    VirtualClip,
)
from clipray.storage.orm.stream_clips import StreamClip
from clipray.storage.orm.stream_events import StreamEvent
from clipray.storage.orm.streams import StreamMonitor, SupervisorLease
from clipray.storage.orm.webhooks import (
    WebhookDelivery,
    WebhookInbound,
    WebhookNonce,
    WebhookSubscription,
)

__all__ = [
    "NAMING",
    "Analysis",
    "AnalysisStatus",
    "ApiToken",
    "AuditEvent",
    "Base",
    "BrandKitRow",
    "Clip",
    "ClipExport",
    "ClipGroup",
    "ClipStatus",
    "ConnectedAccount",
    "ConnectionStatus",
    "CutEdit",
    "ExportStatus",
    "FeatureFlag",
    "GeneratedClip",
    "GeneratedKind",
    "GeneratedStatus",
    "HighlightReel",
    "Job",
    "JobStatus",
    "JobStep",
    "KeeperSweep",
    "LibraryItem",
    "OAuthState",
    "ProxyStatus",
    "Publication",
    "RateLimitHit",
    "RefreshToken",
    "ReviewStatus",
    "Role",
    "Source",
    "SourceOrigin",
    "StepStatus",
    "StreamClip",
    "StreamEvent",
    "StreamMonitor",
    "SupervisorLease",
    "UploadReservation",
    "User",
    "VirtualClip",
    "WebhookDelivery",
    "WebhookInbound",
    "WebhookNonce",
    "WebhookSubscription",
    "Workspace",
    "WorkspaceMember",
    "as_utc",
    "new_id",
    "str_enum",
    "utcnow",
]
