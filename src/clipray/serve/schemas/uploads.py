"""Presigned uploads straight to the bucket, and their confirmation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from clipray.serve.schemas.common import Body


class PresignIn(Body):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(gt=0, le=2**63 - 1)


class PresignOut(BaseModel):
    key: str
    url: str
    method: Literal["POST", "PUT"]
    fields: dict[str, str]
    headers: dict[str, str]
    expires_in: int


class ConfirmIn(Body):
    key: str = Field(min_length=1, max_length=1024)


class ConfirmOut(BaseModel):
    source_id: str
    duration: float
    width: int
    height: int
