"""Accounts: register, login, refresh (rotating), logout, who am I, and API tokens.

Routes parse, call ``services/accounts.py`` and format; logins and registrations are
rate-limited per client address first (``services.accounts.rate_limit``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from clipray.serve.deps import Caller, ServicesDep, SessionDep, UserDep, client_ip
from clipray.serve.schemas import (
    ApiTokenIn,
    ApiTokenOut,
    Login,
    Me,
    RefreshIn,
    Register,
    Registered,
    Tokens,
)
from clipray.services import accounts
from clipray.services.accounts import IssuedTokens
from clipray.storage.orm import ApiToken

router = APIRouter(prefix="/api/auth", tags=["auth"])
tokens_router = APIRouter(prefix="/api/tokens", tags=["auth"])


def rate_limit(svc: ServicesDep, request: Request, name: str, limit: int, window_s: int) -> None:
    """429 ``RATE_LIMITED`` (with ``Retry-After``) once the client's address spent ``limit``
    requests of ``name`` in ``window_s`` seconds; see ``services.accounts.rate_limit``."""
    client = client_ip(request, svc.settings.trusted_proxies)
    accounts.rate_limit(svc.db, name, client, limit, window_s)


def _refresh_ttl(svc: ServicesDep) -> timedelta:
    return timedelta(days=svc.settings.refresh_token_ttl_days)


def _tokens(issued: IssuedTokens) -> Tokens:
    return Tokens(access_token=issued.access_token, refresh_token=issued.refresh_token,
                  expires_in=issued.expires_in)  # fmt: skip


@router.post("/register", status_code=201)
def register(body: Register, request: Request, svc: ServicesDep, session: SessionDep) -> Registered:
    """Create an account and its personal workspace (the user is its owner)."""
    rate_limit(svc, request, "register", svc.settings.rate_limit_register_per_hour, 3600)
    user, ws = accounts.register(session, body.email, body.name, body.password)
    return Registered(id=user.id, email=user.email, workspace_id=ws.id)


@router.post("/login")
def login(body: Login, request: Request, svc: ServicesDep, session: SessionDep) -> Tokens:
    """Trade email and password for an access token and a refresh token."""
    rate_limit(svc, request, "login", svc.settings.rate_limit_login_per_minute, 60)
    return _tokens(accounts.login(session, svc.tokens, _refresh_ttl(svc), body.email,
                                  body.password))  # fmt: skip


@router.post("/refresh")
def refresh(body: RefreshIn, svc: ServicesDep, session: SessionDep) -> Tokens:
    """Trade a refresh token for a new pair; the old refresh token stops working.

    A refresh token used twice was stolen or replayed: its whole family is revoked, which
    logs out both the thief and the owner.
    """
    return _tokens(accounts.refresh(session, svc.tokens, _refresh_ttl(svc), body.refresh_token))


@router.post("/logout", status_code=204)
def logout(body: RefreshIn, session: SessionDep) -> Response:
    """Revoke the refresh token (and its family). Access tokens expire on their own."""
    accounts.logout(session, body.refresh_token)
    return Response(status_code=204)


@router.get("/me")
def me(who: Caller) -> Me:
    u = who.user
    return Me(id=u.id, email=u.email, name=u.display_name, workspace_id=who.workspace_id,
              role=who.role)  # fmt: skip


# --- API tokens ----------------------------------------------------------------------------
def _token_out(row: ApiToken, token: str | None = None) -> ApiTokenOut:
    return ApiTokenOut(id=row.id, name=row.name, scopes=list(row.scopes),
                       workspace_id=row.workspace_id, created_at=row.created_at,
                       last_used_at=row.last_used_at, token=token)  # fmt: skip


@tokens_router.post("", status_code=201)
def create_token(body: ApiTokenIn, who: Caller, session: SessionDep) -> ApiTokenOut:
    """A machine token acting as you in this workspace, limited to ``scopes``
    (read, jobs:write, clips:write, publish). The token is shown once."""
    row, token = accounts.create_api_token(session, who.user, who.membership, body.name,
                                           body.scopes)  # fmt: skip
    return _token_out(row, token)


@tokens_router.get("")
def list_tokens(who: Caller, session: SessionDep) -> list[ApiTokenOut]:
    return [_token_out(r) for r in accounts.list_api_tokens(session, who.user.id,
                                                            who.workspace_id)]  # fmt: skip


@tokens_router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, auth: UserDep, session: SessionDep) -> Response:
    user, _ = auth
    accounts.revoke_api_token(session, user.id, token_id)
    return Response(status_code=204)
