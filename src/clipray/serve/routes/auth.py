"""Accounts: register, login, refresh (rotating), logout, who am I, and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from clipray.serve.deps import Caller, ServicesDep, SessionDep, UserDep, client_ip
from clipray.serve.errors import ApiError
from clipray.serve.permissions import Action, parse_scopes
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
from clipray.serve.security import (
    check_password_strength,
    hash_password,
    hash_token,
    issue_access_token,
    needs_rehash,
    new_api_token,
    new_refresh_token,
    sliding_window_wait,
    verify_password,
)
from clipray.storage.accounts import ApiTokenRepo, RateLimitRepo, RefreshTokenRepo
from clipray.storage.keys import is_id
from clipray.storage.orm import Role, User, as_utc, new_id, utcnow
from clipray.storage.repos import UserRepo, WorkspaceRepo

router = APIRouter(prefix="/api/auth", tags=["auth"])
tokens_router = APIRouter(prefix="/api/tokens", tags=["auth"])
# A hash to verify against when the email is unknown, so that a miss costs the same time as
# a wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password(new_id())


def rate_limit(svc: ServicesDep, request: Request, name: str, limit: int, window_s: int) -> None:
    """Admit this request only if the client's address had fewer than ``limit`` admitted in
    the last ``window_s`` seconds (a sliding window: no burst across a clock boundary).

    The hits are rows in the database, so the limit holds across Serve replicas; they
    commit in their own transaction, so that a refused login still counts. A refused
    request is not recorded: ``Retry-After`` is when the oldest admitted one leaves the
    window, and a client hammering the door cannot push that further away.
    """
    key = f"{name}:{client_ip(request, svc.settings.trusted_proxies)}"
    now = utcnow()
    with svc.db.session() as s:
        repo = RateLimitRepo(s)
        wait = sliding_window_wait(repo.recent(key, window_s, now), limit, window_s, now)
        if wait is None:
            repo.admit(key, now)
    if wait is not None:
        raise ApiError(429, "RATE_LIMITED", f"too many {name} attempts; retry in {wait} s",
                       headers={"Retry-After": str(wait)})  # fmt: skip


def _issue(svc: ServicesDep, session: Session, user: User, family: str | None = None) -> Tokens:
    refresh = new_refresh_token()
    ttl = timedelta(days=svc.settings.refresh_token_ttl_days)
    RefreshTokenRepo(session).issue(user.id, hash_token(refresh), ttl, family)
    return Tokens(
        access_token=issue_access_token(svc.tokens, user.id),
        refresh_token=refresh,
        expires_in=svc.tokens.access_ttl_s,
    )


@router.post("/register", status_code=201)
def register(body: Register, request: Request, svc: ServicesDep, session: SessionDep) -> Registered:
    """Create an account and its personal workspace (the user is its owner)."""
    rate_limit(svc, request, "register", svc.settings.rate_limit_register_per_hour, 3600)
    weak = check_password_strength(body.password)
    if weak:
        raise ApiError(422, "PASSWORD_TOO_WEAK", weak)
    users = UserRepo(session)
    if users.by_email(body.email) is not None:
        raise ApiError(409, "EMAIL_TAKEN", "an account with this email exists")
    user = users.create(body.email, body.name)
    user.password_hash = hash_password(body.password)
    ws = WorkspaceRepo(session).create(f"u-{user.id[:16]}", name=body.name or body.email,
                                       owner=user)  # fmt: skip
    user.personal_workspace_id = ws.id
    session.flush()
    return Registered(id=user.id, email=user.email, workspace_id=ws.id)


@router.post("/login")
def login(body: Login, request: Request, svc: ServicesDep, session: SessionDep) -> Tokens:
    """Trade email and password for an access token and a refresh token."""
    rate_limit(svc, request, "login", svc.settings.rate_limit_login_per_minute, 60)
    user = UserRepo(session).by_email(body.email)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not verify_password(stored, body.password) or user is None or not user.password_hash:
        raise ApiError(401, "INVALID_CREDENTIALS", "wrong email or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(body.password)
    return _issue(svc, session, user)


@router.post("/refresh")
def refresh(body: RefreshIn, svc: ServicesDep, session: SessionDep) -> Tokens:
    """Trade a refresh token for a new pair; the old refresh token stops working.

    A refresh token used twice was stolen or replayed: its whole family is revoked, which
    logs out both the thief and the owner.
    """
    repo = RefreshTokenRepo(session)
    row = repo.by_hash(hash_token(body.refresh_token))
    if row is None:
        raise ApiError(401, "TOKEN_INVALID", "unknown refresh token")
    if row.revoked_at is not None:
        repo.revoke_family(row.family_id)
        session.commit()  # the revocation stands although the request fails
        raise ApiError(401, "TOKEN_REUSED", "this refresh token was already used; log in again")
    if as_utc(row.expires_at) <= utcnow():
        raise ApiError(401, "TOKEN_EXPIRED", "the refresh token expired; log in again")
    user = UserRepo(session).get(row.user_id)
    if user is None:
        raise ApiError(401, "TOKEN_INVALID", "the token's user is gone")
    row.revoked_at = utcnow()
    tokens = _issue(svc, session, user, family=row.family_id)
    successor = repo.by_hash(hash_token(tokens.refresh_token))
    row.replaced_by = successor.id if successor else None
    return tokens


@router.post("/logout", status_code=204)
def logout(body: RefreshIn, session: SessionDep) -> Response:
    """Revoke the refresh token (and its family). Access tokens expire on their own."""
    repo = RefreshTokenRepo(session)
    row = repo.by_hash(hash_token(body.refresh_token))
    if row is not None:
        repo.revoke_family(row.family_id)
    return Response(status_code=204)


@router.get("/me")
def me(who: Caller) -> Me:
    u = who.user
    return Me(id=u.id, email=u.email, name=u.display_name, workspace_id=who.workspace_id,
              role=who.role)  # fmt: skip


# --- API tokens ----------------------------------------------------------------------------
def _token_out(row, token: str | None = None) -> ApiTokenOut:  # type: ignore[no-untyped-def]
    return ApiTokenOut(id=row.id, name=row.name, scopes=list(row.scopes),
                       workspace_id=row.workspace_id, created_at=row.created_at,
                       last_used_at=row.last_used_at, token=token)  # fmt: skip


@tokens_router.post("", status_code=201)
def create_token(body: ApiTokenIn, who: Caller, session: SessionDep) -> ApiTokenOut:
    """A machine token acting as you in this workspace, limited to ``scopes``
    (read, jobs:write, clips:write, publish). The token is shown once."""
    if who.scopes is not None:
        raise ApiError(403, "FORBIDDEN_SCOPE", "an API token cannot create API tokens")
    who.require(Action.MANAGE_TOKENS)
    try:
        scopes = parse_scopes(body.scopes)
    except ValueError as exc:
        raise ApiError(422, "SCOPE_UNKNOWN", str(exc)) from exc
    token = new_api_token()
    row = ApiTokenRepo(session).create(who.user.id, who.workspace_id, body.name,
                                       hash_token(token), sorted(scopes))  # fmt: skip
    return _token_out(row, token)


@tokens_router.get("")
def list_tokens(who: Caller, session: SessionDep) -> list[ApiTokenOut]:
    return [_token_out(r) for r in ApiTokenRepo(session).list(who.user.id, who.workspace_id)]


@tokens_router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, auth: UserDep, session: SessionDep) -> Response:
    user, _ = auth
    row = ApiTokenRepo(session).get(token_id) if is_id(token_id) else None
    if row is None or row.revoked_at is not None:
        raise ApiError(404, "TOKEN_NOT_FOUND", f"API token {token_id} not found")
    if row.user_id != user.id:
        role = WorkspaceRepo(session).role_of(row.workspace_id, user.id)
        if role not in (Role.OWNER, Role.ADMIN):
            raise ApiError(403, "FORBIDDEN", "this API token is someone else's")
    row.revoked_at = utcnow()
    return Response(status_code=204)
