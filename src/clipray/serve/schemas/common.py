"""What every request and response body of the API shares: the strict request base, pages,
timestamps and the text types that refuse control characters.

    class ClipPatch(Body):
        title: Title | None = None
        description: Description | None = None
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from clipray.domain.enums import Role
from clipray.domain.time import rfc3339

T = TypeVar("T")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
Aspect = Literal["9:16", "1:1", "16:9"]
CaptionStyle = Literal["highlight_word", "karaoke", "pop_in", "typewriter", "bounce", "none"]
Layout = Literal["auto", "speaker", "split", "wide"]
"""How faces are framed: follow the speaker (split while two speak), follow the speaker,
always two faces stacked, or the whole frame letterboxed."""
ZoomStyle = Literal["smooth", "snap", "ken_burns", "pulse"]
HookText = Annotated[str, Field(min_length=1, max_length=120)]
"""A hook's text; ``auto``: the clip's title."""
ReviewName = Literal["pending_review", "approved", "skipped", "archived"]

Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""Every time the API serves: RFC 3339 in UTC with a ``Z`` offset (a browser would read a
time without an offset as local time), the same text on every call for the same instant."""

RoleName = Annotated[Role, Strict(False)]
"""A role by its value (``"editor"``): strict mode would only take the enum member, which
JSON cannot carry."""


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for v in value.values():
            _no_nul(v)
    if isinstance(value, list):
        for v in value:
            _no_nul(v)
    return value


class Body(BaseModel):
    """A request body, checked whole before any query or work.

    Strict: ``true`` is not a number and ``"7"`` is not a frame (a client that sends them
    has a bug that coercion would hide); unknown fields are refused (a misspelt option
    would silently fall back to its default); ``NaN`` and ``Infinity`` (which Python's
    JSON parser accepts) are refused. NUL characters are refused everywhere: PostgreSQL
    cannot store them, and no legitimate title, email or key holds one."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        return _no_nul(data)


# C0 controls, DEL and C1 controls: ESC sequences recolour a terminal that prints a
# title, BEL rings it, CR/LF split a title into lines (and HTTP headers built from it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A description may span lines and keep tabs; nothing else.
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _refuse(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "{what} must not contain control characters (found {char})",
                {"what": what, "char": f"U+{ord(found.group()):04X}"},
            )
        return value

    return AfterValidator(check)


_LINE_SCHEMA = {"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}
Title = Annotated[
    str, Field(max_length=200, json_schema_extra=_LINE_SCHEMA), _refuse(_CONTROL, "a title")
]
"""One line of at most 200 characters, no control characters."""
Description = Annotated[
    str,
    Field(max_length=5000, json_schema_extra={"pattern": r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"}),
    _refuse(_CONTROL_BUT_LINES, "a description"),
]
"""At most 5000 characters; line feeds and tabs allowed, other control characters not."""
Hashtag = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra=_LINE_SCHEMA),
    _refuse(_CONTROL, "a hashtag"),
]
"""One hashtag, at most 100 characters, no control characters."""
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra=_LINE_SCHEMA),
    _refuse(_CONTROL, "a name"),
]
"""A name people read in a list (a group): one line, 1 to 200 characters."""


class Page(BaseModel, Generic[T]):
    """One page of a list: ``data``, the ``total`` count, this ``page`` (from 1), ``pages``."""

    data: list[T]
    total: int
    page: int
    pages: int

    @classmethod
    def of(cls, data: list[Any], total: int, page: int, limit: int) -> Page[Any]:
        return cls(data=data, total=total, page=page, pages=max(1, math.ceil(total / limit)))


class Deleted(BaseModel):
    deleted: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
