"""Accounts, tokens and workspaces."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from clipray.domain.enums import Role
from clipray.serve.schemas.common import EMAIL, Body, RoleName, Timestamp


class Register(Body):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _email(self) -> Register:
        if not EMAIL.match(self.email):
            raise ValueError("email is not an address")
        return self


class Registered(BaseModel):
    id: str
    email: str
    workspace_id: str


class Login(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class RefreshIn(Body):
    refresh_token: str = Field(max_length=200)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int


class Me(BaseModel):
    id: str
    email: str
    name: str
    workspace_id: str | None
    role: Role


class ApiTokenIn(Body):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=lambda: ["read"], max_length=10
    )


class ApiTokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    workspace_id: str
    created_at: Timestamp
    last_used_at: Timestamp | None = None
    token: str | None = None
    """Only in the answer that creates it: store it, it is not shown again."""


# --- workspaces --------------------------------------------------------------------------
class WorkspaceIn(Body):
    name: str = Field(min_length=1, max_length=200)


class WorkspaceOut(BaseModel):
    id: str
    slug: str
    name: str
    role: Role


class MemberIn(Body):
    email: str = Field(max_length=320)
    role: RoleName


class MemberPatch(Body):
    role: RoleName


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: Role
