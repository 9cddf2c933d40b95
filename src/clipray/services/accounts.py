"""Accounts: who a bearer credential is, in which workspace, and the flows that make and
trade credentials (register, login, refresh, logout, API tokens).

The HTTP routes (``/api/auth``, ``/api/tokens``) and the request dependencies of every
route (``serve/deps.py``) call these; the rules over strings (hashing, JWTs, the sliding
window) are pure functions in ``serve/security.py``, the role policy is
``serve/permissions.py``.

    >>> rate_limit(db, "login", "203.0.113.7", limit=10, window_s=60)   # doctest: +SKIP
    >>> pair = login(session, tokens, ttl, "ada@example.com", password)  # doctest: +SKIP
    >>> who, _ = authenticate(session, tokens, f"Bearer {pair.access_token}")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from clipray.domain.audit import Actor
from clipray.domain.enums import Role
from clipray.domain.errors import (
    CodedError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
)
from clipray.serve.permissions import Action, parse_scopes
from clipray.serve.security import (
    InvalidTokenError,
    TokenConfig,
    check_password_strength,
    decode_access_token,
    hash_password,
    hash_token,
    is_api_token,
    issue_access_token,
    needs_rehash,
    new_api_token,
    new_refresh_token,
    sliding_window_wait,
    verify_password,
)
from clipray.services.access import Membership, require
from clipray.storage.accounts import ApiTokenRepo, RateLimitRepo, RefreshTokenRepo
from clipray.storage.db import Database
from clipray.storage.keys import is_id
from clipray.storage.orm import ApiToken, User, Workspace, new_id, utcnow
from clipray.storage.repos import LOCAL_USER_EMAIL, UserRepo, WorkspaceRepo

__all__ = [
    "IssuedTokens",
    "authenticate",
    "caller_membership",
    "create_api_token",
    "list_api_tokens",
    "login",
    "logout",
    "rate_limit",
    "refresh",
    "register",
    "revoke_api_token",
]

# A hash to verify against when the email is unknown, so that a miss costs the same time as
# a wrong password (no user enumeration by timing).
_DUMMY_HASH = hash_password(new_id())


@dataclass(frozen=True)
class IssuedTokens:
    """A fresh access token and the refresh token that can trade for the next pair."""

    access_token: str
    refresh_token: str
    expires_in: int
    """Seconds the access token lives."""


def _unauthorized(code: str, message: str) -> Unauthorized:
    return Unauthorized(code, message, headers={"WWW-Authenticate": "Bearer"})


# --- who is calling ------------------------------------------------------------------------
def authenticate(session: Session, tokens: TokenConfig,
                 authorization: str | None) -> tuple[User, ApiToken | None]:  # fmt: skip
    """The user behind an ``Authorization: Bearer ...`` value, and the API token row when
    the credential is one (its ``last_used_at`` is stamped).

    Raises:
        Unauthorized: 401 ``UNAUTHORIZED`` (no bearer credential), ``TOKEN_INVALID``,
            ``TOKEN_EXPIRED`` (refreshing helps), with ``WWW-Authenticate: Bearer``.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("UNAUTHORIZED", "send 'Authorization: Bearer <token>'")
    token = token.strip()
    if is_api_token(token):
        row = ApiTokenRepo(session).by_hash(hash_token(token))
        if row is None:
            raise _unauthorized("TOKEN_INVALID", "unknown or revoked API token")
        row.last_used_at = utcnow()
        user = UserRepo(session).get(row.user_id)
        if user is None:
            raise _unauthorized("TOKEN_INVALID", "the token's user is gone")
        return user, row
    try:
        user_id = decode_access_token(tokens, token)
    except InvalidTokenError as exc:
        raise _unauthorized(exc.code, str(exc)) from exc
    user = UserRepo(session).get(user_id)
    if user is None:
        raise _unauthorized("TOKEN_INVALID", "the token's user is gone")
    return user, None


def caller_membership(session: Session, user: User, api_token: ApiToken | None,
                      workspace_id: str | None) -> Membership:  # fmt: skip
    """Where a request acts: an API token's own workspace, else the one the client names
    (``X-Workspace-Id``), else the user's personal one; the caller must be a member.

    Raises:
        Forbidden: 403 ``WORKSPACE_FORBIDDEN`` (a token naming another workspace, or no
            membership).
        CodedError: 400 ``WORKSPACE_REQUIRED`` when no workspace can be told.
    """
    if api_token is not None:
        if workspace_id and workspace_id != api_token.workspace_id:
            raise Forbidden("WORKSPACE_FORBIDDEN", "an API token acts in its own workspace")
        workspace_id = api_token.workspace_id
    else:
        workspace_id = workspace_id or user.personal_workspace_id or ""
    if not workspace_id:
        raise CodedError("WORKSPACE_REQUIRED", "name a workspace with X-Workspace-Id",
                         status=400)  # fmt: skip
    role = WorkspaceRepo(session).role_of(workspace_id, user.id) if is_id(workspace_id) else None
    if role is None:
        raise Forbidden("WORKSPACE_FORBIDDEN", "you are not a member of that workspace")
    scopes = frozenset(api_token.scopes) if api_token is not None else None
    return Membership(workspace_id, role, scopes)


# --- credentials ---------------------------------------------------------------------------
USER_WINDOW_S = 60.0
"""The window of ``CLIPRAY_RATE_LIMIT_PER_MINUTE``."""


def admit_user(session: Session, user_id: str, limit: int, now: datetime) -> None:
    """Count one request against ``user_id``'s limit (``limit`` a minute; 0: off), in the
    request's own first transaction, committed at once; a refused request is not counted,
    so ``Retry-After`` is when the window frees a slot.

    Raises:
        RateLimited: 429 ``RATE_LIMITED`` with ``Retry-After`` (whole seconds, at least 1).
    """
    if limit <= 0:
        return
    frees_at = RateLimitRepo(session).take(f"user:{user_id}", limit, USER_WINDOW_S, now)
    if frees_at is not None:
        wait = max(1, math.ceil((frees_at - now).total_seconds()))
        raise RateLimited("RATE_LIMITED", f"over {limit} requests a minute; retry in {wait} s",
                          retry_after=wait,
                          detail={"limit": limit, "window_s": USER_WINDOW_S})  # fmt: skip
    session.commit()


def rate_limit(db: Database, name: str, client: str, limit: int, window_s: int) -> None:
    """Admit this request only if ``client`` had fewer than ``limit`` requests of ``name``
    admitted in the last ``window_s`` seconds (a sliding window: no burst across a clock
    boundary).

    The hits are rows in the database, so the limit holds across Serve replicas; they
    commit in their own transaction, so that a refused login still counts. A refused
    request is not recorded: ``Retry-After`` is when the oldest admitted one leaves the
    window, and a client hammering the door cannot push that further away.

    Raises:
        RateLimited: 429 ``RATE_LIMITED`` with ``Retry-After``.
    """
    key = f"{name}:{client}"
    now = utcnow()
    with db.session() as s:
        repo = RateLimitRepo(s)
        wait = sliding_window_wait(repo.recent(key, window_s, now), limit, window_s, now)
        if wait is None:
            repo.admit(key, now)
    if wait is not None:
        raise RateLimited("RATE_LIMITED", f"too many {name} attempts; retry in {wait} s",
                          retry_after=wait)  # fmt: skip


def register(session: Session, email: str, name: str, password: str) -> tuple[User, Workspace]:
    """Create an account and its personal workspace (the user is its owner).

    Raises:
        CodedError: 422 ``PASSWORD_TOO_WEAK``.
        Conflict: 409 ``EMAIL_TAKEN``.
    """
    weak = check_password_strength(password)
    if weak:
        raise CodedError("PASSWORD_TOO_WEAK", weak)
    users = UserRepo(session)
    if users.by_email(email) is not None:
        raise Conflict("EMAIL_TAKEN", "an account with this email exists")
    user = users.create(email, name)
    user.password_hash = hash_password(password)
    ws = WorkspaceRepo(session).create(f"u-{user.id[:16]}", name=name or email, owner=user)
    user.personal_workspace_id = ws.id
    session.flush()
    return user, ws


def _issue(session: Session, tokens: TokenConfig, refresh_ttl: timedelta, user: User,
           family: str | None = None) -> IssuedTokens:  # fmt: skip
    refresh_token = new_refresh_token()
    RefreshTokenRepo(session).issue(user.id, hash_token(refresh_token), refresh_ttl, family)
    return IssuedTokens(issue_access_token(tokens, user.id), refresh_token, tokens.access_ttl_s)


def login(session: Session, tokens: TokenConfig, refresh_ttl: timedelta, email: str,
          password: str) -> IssuedTokens:  # fmt: skip
    """Trade email and password for an access token and a refresh token; a password hashed
    with older parameters is hashed again.

    Raises:
        Unauthorized: 401 ``INVALID_CREDENTIALS`` (unknown email or wrong password alike,
            in the same time).
    """
    user = UserRepo(session).by_email(email)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not verify_password(stored, password) or user is None or not user.password_hash:
        raise Unauthorized("INVALID_CREDENTIALS", "wrong email or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _issue(session, tokens, refresh_ttl, user)


def refresh(session: Session, tokens: TokenConfig, refresh_ttl: timedelta,
            refresh_token: str) -> IssuedTokens:  # fmt: skip
    """Trade a refresh token for a new pair; the old refresh token stops working.

    A refresh token used twice was stolen or replayed: its whole family is revoked (and
    committed although the request fails), which logs out both the thief and the owner.

    Raises:
        Unauthorized: 401 ``TOKEN_INVALID``, ``TOKEN_REUSED``, ``TOKEN_EXPIRED``.
    """
    repo = RefreshTokenRepo(session)
    row = repo.by_hash(hash_token(refresh_token))
    if row is None:
        raise Unauthorized("TOKEN_INVALID", "unknown refresh token")
    if row.revoked_at is not None:
        repo.revoke_family(row.family_id)
        session.commit()  # the revocation stands although the request fails
        raise Unauthorized("TOKEN_REUSED", "this refresh token was already used; log in again")
    if row.expires_at <= utcnow():
        raise Unauthorized("TOKEN_EXPIRED", "the refresh token expired; log in again")
    user = UserRepo(session).get(row.user_id)
    if user is None:
        raise Unauthorized("TOKEN_INVALID", "the token's user is gone")
    row.revoked_at = utcnow()
    issued = _issue(session, tokens, refresh_ttl, user, family=row.family_id)
    successor = repo.by_hash(hash_token(issued.refresh_token))
    row.replaced_by = successor.id if successor else None
    return issued


def logout(session: Session, refresh_token: str) -> None:
    """Revoke the refresh token and its family (an unknown one is already as good as
    revoked). Access tokens expire on their own."""
    repo = RefreshTokenRepo(session)
    row = repo.by_hash(hash_token(refresh_token))
    if row is not None:
        repo.revoke_family(row.family_id)


# --- API tokens ----------------------------------------------------------------------------
def create_api_token(session: Session, user: User, who: Membership, name: str,
                     scopes: Sequence[str]) -> tuple[ApiToken, str]:  # fmt: skip
    """A machine token acting as ``user`` in ``who``'s workspace, limited to ``scopes``;
    returns its row and the token itself, which is stored only as a digest.

    Raises:
        Forbidden: 403 ``FORBIDDEN_SCOPE`` (an API token cannot make another),
            ``FORBIDDEN_ROLE`` (the role cannot manage tokens).
        CodedError: 422 ``SCOPE_UNKNOWN``.
    """
    if who.scopes is not None:
        raise Forbidden("FORBIDDEN_SCOPE", "an API token cannot create API tokens")
    require(who.role, who.scopes, Action.MANAGE_TOKENS)
    try:
        allowed = parse_scopes(scopes)
    except ValueError as exc:
        raise CodedError("SCOPE_UNKNOWN", str(exc)) from exc
    token = new_api_token()
    row = ApiTokenRepo(session).create(user.id, who.workspace_id, name, hash_token(token),
                                       sorted(allowed))  # fmt: skip
    return row, token


def list_api_tokens(session: Session, user_id: str, workspace_id: str) -> Sequence[ApiToken]:
    """The user's live API tokens in the workspace, oldest first."""
    return ApiTokenRepo(session).list(user_id, workspace_id)


def revoke_api_token(session: Session, user_id: str, token_id: str) -> None:
    """Revoke an API token: one's own, or any of a workspace one owns or administers.

    Raises:
        NotFound: 404 ``TOKEN_NOT_FOUND`` (also for one revoked already).
        Forbidden: 403 ``FORBIDDEN`` for someone else's token without the role.
    """
    row = ApiTokenRepo(session).get(token_id) if is_id(token_id) else None
    if row is None or row.revoked_at is not None:
        raise NotFound("TOKEN_NOT_FOUND", f"API token {token_id} not found")
    if row.user_id != user_id:
        role = WorkspaceRepo(session).role_of(row.workspace_id, user_id)
        if role not in (Role.OWNER, Role.ADMIN):
            raise Forbidden("FORBIDDEN", "this API token is someone else's")
    row.revoked_at = utcnow()


# --- the CLI's caller --------------------------------------------------------------------
def local_user(db: Database) -> str:
    """The id of the user the CLI acts as on a machine without accounts (the audit trail
    names who made each edit), created on first use."""
    with db.session() as s:
        return UserRepo(s).ensure(LOCAL_USER_EMAIL, "local user").id


def local_caller(db: Database, workspace_id: str) -> tuple[Membership, Actor]:
    """The CLI's caller: the local user with their role in the workspace (its owner, since
    ``ensure_workspace`` made it so), for the role rules and the audit log."""
    user_id = local_user(db)
    with db.session() as s:
        role = WorkspaceRepo(s).role_of(workspace_id, user_id)
    if role is None:
        raise Forbidden("WORKSPACE_FORBIDDEN", "the local user is not a member of this workspace")
    return Membership(workspace_id, role), Actor(user_id)
