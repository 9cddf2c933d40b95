"""Connected accounts: the one flow behind ``/api/auth/{platform}/login|callback``,
``/api/auth/accounts`` and ``clipray accounts``, and the tokens publishing uses.

Connecting is OAuth 2.0's authorization code flow with PKCE (S256). :func:`start` makes a
random ``state`` (stored hashed, bound to the user, workspace and platform, single use,
valid :data:`STATE_TTL`) and a code verifier (stored encrypted) and returns the platform's
consent URL; :func:`complete` takes the ``state`` and ``code`` the platform redirected
back with, refuses a state that is unknown, used, expired, of another platform or of
another user, exchanges the code and stores the account with its tokens encrypted
(``storage/vault.py``). :func:`usable_tokens` is what publishing calls: it refreshes the
tokens before they expire, re-encrypts them with the newest key, and marks the account
``needs_reconnect`` when the platform refuses the refresh.

    >>> consent = start(settings, db, user_id, ws, "youtube", redirect_uri)   # doctest: +SKIP
    >>> view = complete(settings, db, "youtube", state, code)                 # doctest: +SKIP
    >>> tokens = usable_tokens(settings, db, ws, view.id)                     # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipray.config import Settings
from clipray.domain.errors import CodedError, Conflict, Forbidden
from clipray.publish.base import (
    PLATFORMS,
    PlatformAdapter,
    PlatformOff,
    TokenExpired,
    Tokens,
    UnknownPlatform,
)
from clipray.publish.registry import adapter_for
from clipray.services.access import owned
from clipray.services.flags import require_platform
from clipray.storage.connections import ConnectedAccountRepo, OAuthStateRepo
from clipray.storage.db import Database
from clipray.storage.orm import ConnectedAccount, ConnectionStatus, utcnow
from clipray.storage.vault import KeyRing, load_keyring

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
"""How long a consent may take: long enough to log in at the platform, short enough that a
leaked ``state`` is soon worthless."""


class StateRefused(CodedError):
    """The callback's ``state`` does not open a consent flow: 400 with why."""

    status = 400


class AccountUnusable(Conflict):
    """The account cannot post: ``ACCOUNT_NEEDS_RECONNECT`` or ``ACCOUNT_REVOKED``."""


@dataclass(frozen=True)
class Consent:
    url: str
    platform: str
    expires_at: datetime


@dataclass(frozen=True)
class AccountView:
    """A connected account as every door shows it: never its tokens."""

    id: str
    platform: str
    platform_account_id: str
    name: str
    scopes: tuple[str, ...]
    status: str
    created_at: datetime
    updated_at: datetime


def _view(row: ConnectedAccount) -> AccountView:
    return AccountView(id=row.id, platform=row.platform,
                       platform_account_id=row.platform_account_id, name=row.name,
                       scopes=tuple(row.scopes or ()), status=row.status.value,
                       created_at=row.created_at, updated_at=row.updated_at)  # fmt: skip


def adapter(settings: Settings, platform: str) -> PlatformAdapter:
    """The platform's adapter; off (no client configured) is refused before its module is
    even imported."""
    if platform not in PLATFORMS:
        raise UnknownPlatform(platform)
    if not settings.publish.of(platform).configured:
        raise PlatformOff(platform)
    return adapter_for(platform, settings.publish)


def keyring(settings: Settings) -> KeyRing:
    """The Fernet keys; embedded mode generates one, production (a database URL) needs
    ``CLIPRAY_FERNET_KEYS`` (503 ``FERNET_KEYS_MISSING``)."""
    return load_keyring(settings.fernet_keys, settings.home_dir,
                        production=settings.database_url is not None)  # fmt: skip


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_pair() -> tuple[str, str]:
    """``(verifier, S256 challenge)`` per RFC 7636: 64 random bytes, url-safe."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- connecting ------------------------------------------------------------------------------
def callback_uri(public_url: str | None, path: str, from_request: str) -> str:
    """The redirect URI a platform sends the browser back to: ``path`` under
    ``CLIPRAY_PUBLIC_URL`` when set (behind a reverse proxy the request's own host and
    scheme are the proxy's upstream, which no browser can reach), else ``from_request``,
    the URL built from the request."""
    if not public_url:
        return from_request
    return f"{public_url.rstrip('/')}/{path.lstrip('/')}"


def start(settings: Settings, db: Database, user_id: str, workspace_id: str, platform: str,
          redirect_uri: str, now: datetime | None = None) -> Consent:  # fmt: skip
    """A consent flow for ``user_id`` in ``workspace_id``: its consent URL.

    Raises:
        UnknownPlatform: 404 ``PLATFORM_UNKNOWN``; PlatformOff: 409 ``PLATFORM_OFF``, or
            ``PLATFORM_SWITCHED_OFF`` while its feature flag is off (``services/flags.py``).
        FernetKeysMissing: 503 ``FERNET_KEYS_MISSING`` (production without keys).
    """
    platform_adapter = adapter(settings, platform)
    require_platform(db, platform, workspace_id)
    ring = keyring(settings)
    at = now or utcnow()
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair() if platform_adapter.uses_pkce else (None, None)
    enc, version = ring.encrypt(verifier) if verifier else (None, None)
    with db.session() as s:
        repo = OAuthStateRepo(s)
        repo.purge(at - STATE_TTL)  # expired ones can never pass: keep the table small
        repo.add(state_hash=hash_state(state), user_id=user_id, workspace_id=workspace_id,
                 platform=platform, verifier_enc=enc, key_version=version,
                 redirect_uri=redirect_uri, created_at=at, expires_at=at + STATE_TTL)  # fmt: skip
    url = platform_adapter.consent_url(state, challenge, redirect_uri)
    return Consent(url, platform, at + STATE_TTL)


@dataclass(frozen=True)
class _Flow:
    user_id: str
    workspace_id: str
    verifier_enc: str | None
    key_version: str | None
    redirect_uri: str


def _take_state(db: Database, platform: str, state: str, at: datetime,
                caller_user_id: str | None) -> _Flow:  # fmt: skip
    """Check and consume the state in its own transaction: it is spent even if the code
    exchange that follows fails (a code and its state are single use at the platform too)."""
    with db.session() as s:
        repo = OAuthStateRepo(s)
        row = repo.by_hash(hash_state(state)) if state else None
        if row is None:
            raise StateRefused("OAUTH_STATE_UNKNOWN", "unknown OAuth state: start again")
        if row.platform != platform:
            raise StateRefused("OAUTH_STATE_PLATFORM",
                               f"this OAuth state was made for {row.platform}, not {platform}")
        if caller_user_id is not None and caller_user_id != row.user_id:
            raise Forbidden("OAUTH_STATE_FOREIGN", "this OAuth state belongs to another user")
        if row.used_at is not None:
            raise StateRefused("OAUTH_STATE_USED", "this OAuth state was already used: "
                               "start again")  # fmt: skip
        if row.expires_at <= at:
            raise StateRefused("OAUTH_STATE_EXPIRED",
                               f"this OAuth state expired ({int(STATE_TTL.total_seconds())} s "
                               "to consent): start again")  # fmt: skip
        if not repo.consume(row.id, at):
            raise StateRefused("OAUTH_STATE_USED", "this OAuth state was already used")
        return _Flow(row.user_id, row.workspace_id, row.verifier_enc, row.key_version,
                     row.redirect_uri)  # fmt: skip


def complete(settings: Settings, db: Database, platform: str, state: str, code: str | None,
             error: str | None = None, now: datetime | None = None,
             caller_user_id: str | None = None) -> AccountView:  # fmt: skip
    """Finish a consent flow: the platform redirected back with ``state`` and ``code`` (or
    ``error`` when the user declined). Stores the account, or updates it when the same
    platform account was connected to the workspace before.

    Raises:
        StateRefused: 400 ``OAUTH_STATE_UNKNOWN|USED|EXPIRED|PLATFORM``.
        Forbidden: 403 ``OAUTH_STATE_FOREIGN`` when ``caller_user_id`` did not start it.
        PlatformSwitchedOff: 409 ``PLATFORM_SWITCHED_OFF`` when its flag was switched off
            since the consent began (the state is spent, no code is exchanged).
        CodedError: 400 ``OAUTH_DENIED`` when the platform reports an error; the platform's
            refusals (``PLATFORM_TOKEN_EXPIRED`` for a bad code, ...).
    """
    if platform not in PLATFORMS:
        raise UnknownPlatform(platform)
    at = now or utcnow()
    flow = _take_state(db, platform, state, at, caller_user_id)
    platform_adapter = adapter(settings, platform)
    require_platform(db, platform, flow.workspace_id)  # switched off since the consent began
    ring = keyring(settings)
    if error or not code:
        raise CodedError("OAUTH_DENIED", f"{platform} did not grant access: {error or 'no code'}",
                         status=400)  # fmt: skip
    verifier = ring.decrypt(flow.verifier_enc, flow.key_version)[0] if flow.verifier_enc else None
    tokens = platform_adapter.exchange_code(code, verifier, flow.redirect_uri)
    info = platform_adapter.account(tokens)
    with db.session() as s:
        row = ConnectedAccountRepo(s).upsert(
            flow.workspace_id, platform, info.platform_account_id, name=info.name,
            connected_by=flow.user_id, status=ConnectionStatus.ACTIVE,
            extra={**dict(tokens.extra), **dict(info.extra)},
            **_sealed(ring, tokens),
        )  # fmt: skip
        log.info("connected %s account %s to workspace %s", platform, row.id, flow.workspace_id)
        return _view(row)


def _sealed(ring: KeyRing, tokens: Tokens) -> dict[str, object]:
    """The token columns of ``tokens``, encrypted with the newest key."""
    access, version = ring.encrypt(tokens.access_token)
    refresh = ring.encrypt(tokens.refresh_token)[0] if tokens.refresh_token else None
    return {"access_token_enc": access, "refresh_token_enc": refresh, "key_version": version,
            "token_expires_at": tokens.expires_at, "scopes": list(tokens.scopes)}  # fmt: skip


def _opened(ring: KeyRing, row: ConnectedAccount) -> Tokens:
    if row.access_token_enc is None:
        raise AccountUnusable("ACCOUNT_REVOKED", f"account {row.id} was disconnected")
    access = ring.decrypt(row.access_token_enc, row.key_version)[0]
    refresh = (ring.decrypt(row.refresh_token_enc, row.key_version)[0]
               if row.refresh_token_enc else None)  # fmt: skip
    extra = {k: str(v) for k, v in (row.extra or {}).items()}
    return Tokens(access, refresh, row.token_expires_at, tuple(row.scopes or ()), extra)


# --- reading and removing --------------------------------------------------------------------
def list_accounts(db: Database, workspace_id: str) -> list[AccountView]:
    """The workspace's connected accounts (disconnected ones are not listed)."""
    with db.session() as s:
        return [_view(r) for r in ConnectedAccountRepo(s).list(workspace_id)]


def disconnect(settings: Settings, db: Database, workspace_id: str, account_id: str) -> bool:
    """Revoke the grant at the platform where it can, then delete the tokens and mark the
    account ``revoked``. Returns whether the platform confirmed the revocation (a platform
    turned off since, or unreachable, still loses its tokens here).

    Raises:
        NotFound: 404 ``CONNECTED_ACCOUNT_NOT_FOUND``; Forbidden: another workspace's.
    """
    with db.session() as s:
        row = owned(s, ConnectedAccount, account_id, workspace_id, "connected_account")
        tokens = None if row.access_token_enc is None else _opened(keyring(settings), row)
        platform = row.platform
    revoked = False
    if tokens is not None:
        try:
            revoked = adapter(settings, platform).revoke(tokens)
        except PlatformOff:
            revoked = False
    with db.session() as s:
        row = owned(s, ConnectedAccount, account_id, workspace_id, "connected_account")
        row.status = ConnectionStatus.REVOKED
        row.access_token_enc = row.refresh_token_enc = None
        row.token_expires_at = None
        row.updated_at = utcnow()
    return revoked


# --- publishing's tokens ---------------------------------------------------------------------
def usable_tokens(settings: Settings, db: Database, workspace_id: str, account_id: str,
                  now: datetime | None = None, force_refresh: bool = False) -> Tokens:  # fmt: skip
    """The account's tokens, refreshed first when they expire within the adapter's margin
    (or ``force_refresh``, after the platform answered 401); a refresh stores the new
    tokens encrypted with the newest key. The row is locked meanwhile, so two publications
    of one account never refresh at once (a rotated refresh token works only once).

    Raises:
        AccountUnusable: 409 ``ACCOUNT_NEEDS_RECONNECT`` (the platform refused the
            refresh: the account is marked so) or ``ACCOUNT_REVOKED``.
    """
    ring = keyring(settings)
    with db.session() as s:
        owned(s, ConnectedAccount, account_id, workspace_id, "connected_account")
        row = ConnectedAccountRepo(s).lock(account_id)
        assert row is not None  # owned() just found it
        if row.status is ConnectionStatus.NEEDS_RECONNECT:
            raise AccountUnusable("ACCOUNT_NEEDS_RECONNECT",
                                  f"{row.platform} refused to refresh account {row.id}'s "
                                  "tokens: connect it again")  # fmt: skip
        tokens = _opened(ring, row)
        platform_adapter = adapter(settings, row.platform)
        if not (force_refresh or platform_adapter.needs_refresh(tokens, now)):
            return tokens
        try:
            fresh = platform_adapter.refresh(tokens)
        except TokenExpired as exc:
            row.status = ConnectionStatus.NEEDS_RECONNECT
            row.updated_at = utcnow()
            s.commit()
            raise AccountUnusable("ACCOUNT_NEEDS_RECONNECT",
                                  f"{row.platform} refused to refresh the tokens ({exc.message}): "
                                  "connect the account again") from exc  # fmt: skip
        for name, value in _sealed(ring, fresh).items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        return fresh
