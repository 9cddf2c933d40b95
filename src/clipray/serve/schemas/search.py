"""Search over frames and words, and highlight reels made of its moments."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from clipray.serve.schemas.common import Body, Timestamp, Title, _no_nul

REEL_PARTS_MAX = 500
"""A bound on the request itself, checked before any work; ``highlight_max_parts`` (a
setting, lower by default) is the reel's real limit, checked by the route."""


def _base64(value: Any) -> Any:
    """Standard base64 (RFC 4648, padded) to bytes; anything else is left to the type."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the image is not standard base64: {exc}") from exc


_PICTURE_SCHEMA = {"type": "string", "contentEncoding": "base64",
                   "description": "A JPEG, PNG or WebP picture, base64-encoded (RFC 4648, no "
                   "data: prefix); the request body's size limit bounds it."}  # fmt: skip
Picture = Annotated[bytes, BeforeValidator(_base64), WithJsonSchema(_PICTURE_SCHEMA)]


class SearchIn(Body):
    """Words (``query``) or an example picture (``image``), not both."""

    query: str = Field(default="", max_length=500, examples=["someone laughing on stage"])
    image: Picture | None = None
    """Search frames that look like this picture instead of words (``visual`` mode)."""
    mode: Literal["visual", "transcript", "hybrid"] = "hybrid"
    """``visual``: frames through CLIP; ``transcript``: meaning and keywords of what is said;
    ``hybrid``: both, fused by reciprocal rank. With an ``image`` it may be left out
    (``visual``, the one mode a picture searches)."""
    job_id: str | None = Field(default=None, max_length=64)
    """Only the source this job is about."""
    source_id: str | None = Field(default=None, max_length=64)
    """Only this source."""
    limit: int = Field(default=10, ge=1, le=100)
    """Moments per page."""
    page: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _picture_searches_frames(self) -> SearchIn:
        if self.image is not None and "mode" not in self.model_fields_set:
            self.mode = "visual"
        return self


class SearchHit(BaseModel):
    """One moment: neighbouring hits of one source, merged."""

    source_id: str
    job_id: str | None
    """The newest job about the source."""
    start: float
    end: float
    score: float
    """Cosine similarity for one list (visual mode); reciprocal-rank fusion score else."""
    mode: Literal["visual", "transcript", "hybrid"]
    """How the moment was found (``hybrid``: by frames and by words)."""
    text: str
    """What is said in it, where the transcript matched."""
    thumbnail_url: str
    """A frame of the moment (``GET`` redirects to the image)."""


class SearchOut(BaseModel):
    results: list[SearchHit]
    total: int
    page: int
    pages: int
    visual: Literal["available", "unavailable"]
    """``unavailable``: no CLIP weights are configured, frames were not searched."""


class MomentIn(Body):
    source_id: str = Field(max_length=64)
    start: float = Field(ge=0, le=10**7)
    end: float = Field(gt=0, le=10**7)
    """Seconds; the bound (about 115 days) only keeps absurd numbers out of the planner."""

    @model_validator(mode="after")
    def _order(self) -> MomentIn:
        if self.end <= self.start:
            raise ValueError("a moment ends after it starts")
        return self


class HighlightIn(Body):
    moments: list[MomentIn] = Field(min_length=1, max_length=REEL_PARTS_MAX)
    """In reel order: search results, or by hand."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        """As every body, but a list past the bound is left to ``max_length``, which
        refuses it by its length: walking 260,000 moments for NULs took seconds."""
        moments = data.get("moments") if isinstance(data, dict) else None
        if isinstance(moments, list) and len(moments) > REEL_PARTS_MAX:
            return data
        return _no_nul(data)
    title: Title = ""
    height: int | None = Field(default=None, ge=144, le=2160)
    """Height of the reel; unset: the tallest part's (at most 1080), width from its aspect."""


class HighlightJobOut(BaseModel):
    id: str
    status: Literal["pending", "running", "succeeded", "failed"]
    moments: list[MomentIn]
    title: str
    error: str | None
    generated_clip_id: str | None
    duration_s: float | None
    url: str | None
    """A presigned URL of the reel, once it succeeded; it saves the MP4 under the reel's title
    (``Content-Disposition: attachment``)."""
    created_at: Timestamp
    finished_at: Timestamp | None


class TranscriptWord(BaseModel):
    start: float
    end: float
    word: str
    """As the model wrote it, leading space included: a segment's words join into its text."""
    probability: float | None


class TranscriptSegment(BaseModel):
    start: float
    end: float
    text: str
    words: list[TranscriptWord]


class TranscriptOut(BaseModel):
    """What was said in a source, from its newest successful analysis, in spoken order."""

    source_id: str
    language: str | None
    model: str | None
    """The speech recognition model that wrote it."""
    segments: list[TranscriptSegment]
