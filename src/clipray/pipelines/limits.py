"""What a source must be, from the settings: the URL policy and the media limits that the
API (at request time) and the ingest step (at download time) both apply."""

from __future__ import annotations

from clipray.config import Settings
from clipray.pipelines.fetch import UrlPolicy
from clipray.pipelines.validate import MediaLimits


def url_policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy(
        allowed_domains=settings.url_allowed_domains,
        allow_private=settings.url_allow_private,
        max_bytes=settings.max_upload_bytes,
    )


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        max_duration_s=settings.max_source_duration_s,
        max_width=settings.max_source_width,
        max_height=settings.max_source_height,
    )
