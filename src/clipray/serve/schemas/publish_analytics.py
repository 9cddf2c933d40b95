"""What ``GET /api/publish/analytics`` answers: each published publication's last pulled
stats, and the totals per platform."""

from __future__ import annotations

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import Page, Timestamp


class PublicationStatsOut(BaseModel):
    publication_id: str
    clip_id: str
    platform: str
    account_id: str | None
    url: str | None
    published_at: Timestamp | None
    views: int
    likes: int
    comments: int
    stats_at: Timestamp | None = Field(description="When the stats were pulled from the "
                                       "platform; null until the first pull.")  # fmt: skip


class PlatformTotalsOut(BaseModel):
    platform: str
    publications: int = Field(description="Published publications counted.")
    views: int
    likes: int
    comments: int


class AnalyticsPage(Page[PublicationStatsOut]):
    """One page of publications (newest first) and the totals over all of them."""

    totals: list[PlatformTotalsOut]
