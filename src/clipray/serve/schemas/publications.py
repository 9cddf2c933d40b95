"""Publications as the API takes and shows them: the publish request (``/api/publish``,
``/api/publish/schedule``, ``/api/clips/batch/publish``), a publication, the calendar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, Strict, WithJsonSchema

from clipray.publish.requests import MAX_ACCOUNTS, MAX_CLIPS
from clipray.serve.schemas.common import Body, Description, Hashtag, Timestamp, Title

Platform = Literal["youtube", "tiktok", "instagram", "x", "linkedin"]
Status = Literal["requested", "pending", "scheduled", "publishing", "published", "failed",
                 "cancelled", "rejected"]  # fmt: skip
Id = Annotated[str, Field(min_length=1, max_length=64)]


def _text(value: Any) -> Any:
    """A time arrives as text: lax parsing would read a bare number as a Unix time."""
    if not isinstance(value, str):
        raise ValueError("a time is an ISO 8601 string with a UTC offset")
    return value


When = Annotated[
    datetime,
    Strict(False),
    BeforeValidator(_text),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""ISO 8601 with a UTC offset (``2026-12-24T18:00:00+01:00``, ``...Z``); one without an
offset is refused (422 ``SCHEDULED_AT_NAIVE``), as is one in the past (``SCHEDULED_AT_PAST``)."""


class PostMetadataIn(Body):
    """What to post. Each platform gets it trimmed to its limits (title and text cut at a
    character boundary, hashtags normalised to ``#tag``, the surplus dropped); what cannot
    be fixed is refused with a code."""

    title: Title = ""
    """Empty: the clip's own title. Required by YouTube (422 ``PUBLISH_TITLE_REQUIRED``)."""
    description: Description = ""
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=60)
    """Without or with ``#``; one without a letter is 422 ``PUBLISH_HASHTAG_INVALID``."""
    privacy: str | None = Field(default=None, min_length=1, max_length=40)
    """The platform's own visibility value: YouTube ``private|unlisted|public``, TikTok
    ``SELF_ONLY|MUTUAL_FOLLOW_FRIENDS|FOLLOWER_OF_CREATOR|PUBLIC_TO_EVERYONE``, LinkedIn
    ``PUBLIC|CONNECTIONS|LOGGED_IN``; Instagram and X have none. Unset: private where the
    platform allows it (YouTube, TikTok), public on LinkedIn."""


class PublishIn(Body):
    """Every clip to every account: one publication per pair, all made or none."""

    clip_ids: list[Id] = Field(min_length=1, max_length=MAX_CLIPS)
    """Rendered clips (``/api/clips``) or generated clips (``/api/generated-clips``)."""
    account_ids: list[Id] = Field(min_length=1, max_length=MAX_ACCOUNTS)
    """Connected accounts (``/api/auth/accounts``)."""
    metadata: PostMetadataIn = Field(default_factory=PostMetadataIn)
    scheduled_at: When | None = None
    """Null: publish now (``pending``); a future time: ``scheduled`` until then."""


class ScheduleIn(PublishIn):
    scheduled_at: When  # type: ignore[assignment]
    """When to publish: a future time with a UTC offset."""


class PublicationError(BaseModel):
    code: str
    message: str


class PublicationOut(BaseModel):
    id: str
    clip_id: str
    clip_kind: Literal["clip", "generated"]
    account_id: str | None
    """Null once the account was removed (the record stays)."""
    platform: Platform
    status: Status
    """``requested``: an editor's, waiting for an admin or owner to approve it."""
    platform_post_id: str | None
    url: str | None
    error: PublicationError | None
    """The last failure's code and message."""
    metadata: dict[str, Any]
    """Title, description, hashtags and privacy, trimmed to the platform's limits."""
    scheduled_at: Timestamp | None
    published_at: Timestamp | None
    created_at: Timestamp
    requested_by: str | None
    decided_by: str | None
    """The admin or owner who approved or rejected an editor's request."""


class PublicationsOut(BaseModel):
    data: list[PublicationOut]
    """One per clip and account, in the order of the request (clips first)."""


class CalendarDayOut(BaseModel):
    date: date
    """A UTC date."""
    publications: list[PublicationOut]
    """In the order they go (or went) out."""


class CalendarOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    days: list[CalendarDayOut]
    """Only the days that have scheduled, publishing or published publications."""
