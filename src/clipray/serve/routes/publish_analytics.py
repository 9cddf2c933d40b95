"""``GET /api/publish/analytics``: views, likes and comments of the workspace's published
publications, as the publisher last pulled them (every ``publish_analytics_interval_s``).

Registered before the publications router, whose ``/api/publish/{id}`` would otherwise
take ``analytics`` for an id.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from clipray.serve.deps import Caller, PageNo, PageSize, ServicesDep
from clipray.serve.permissions import Action
from clipray.serve.schemas.publish_analytics import (
    AnalyticsPage,
    PlatformTotalsOut,
    PublicationStatsOut,
)
from clipray.services import publishing

router = APIRouter(prefix="/api/publish", tags=["publish"])

Platform = Literal["youtube", "tiktok", "instagram", "x", "linkedin"]


@router.get("/analytics")
def publish_analytics(
    who: Caller,
    svc: ServicesDep,
    page: PageNo = 1,
    limit: PageSize = 20,
    platform: Annotated[Platform | None, Query(description="Only this platform's posts.")] = None,
) -> AnalyticsPage:  # fmt: skip
    """Published publications, newest first, each with its views, likes, comments and when
    they were pulled (``stats_at``), and the totals per platform over all of them."""
    who.require(Action.READ)
    rows, total, totals = publishing.analytics(svc.db, who.workspace_id, limit,
                                               (page - 1) * limit, platform)  # fmt: skip
    return AnalyticsPage(
        data=[PublicationStatsOut(**asdict(r)) for r in rows], total=total, page=page,
        pages=max(1, math.ceil(total / limit)),
        totals=[PlatformTotalsOut(**asdict(t)) for t in totals],
    )  # fmt: skip
