"""Credentials without I/O: password hashing, JWT access tokens and opaque tokens.

Everything here is a pure function over strings (plus the clock, which callers may
inject), so the auth routes stay thin and these rules are tested without a database or
an HTTP server.

Three kinds of credential, each with the cheapest safe check:

* passwords are low-entropy and chosen by people, so they are hashed with Argon2id, a
  deliberately slow, memory-hard hash;
* access tokens are short-lived HS256 JWTs, verified by signature alone (no lookup);
* refresh tokens (``crr_...``) and API tokens (``crt_...``) are random opaque strings,
  stored only as a SHA-256 digest and checked by looking that digest up.

Usage::

    from clipray.serve.security import TokenConfig, decode_access_token, issue_access_token

    cfg = TokenConfig(secret=settings.jwt_secret)
    token = issue_access_token(cfg, user_id)
    assert decode_access_token(cfg, token) == user_id

    stored = hash_password("correct horse battery staple")
    assert verify_password(stored, "correct horse battery staple")
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clipray.schemas import CodedError

__all__ = [
    "API_TOKEN_PREFIX",
    "REFRESH_TOKEN_PREFIX",
    "TOKEN_EXPIRED",
    "TOKEN_INVALID",
    "InvalidTokenError",
    "TokenConfig",
    "access_token_expiry",
    "check_password_strength",
    "client_address",
    "decode_access_token",
    "hash_password",
    "hash_token",
    "is_api_token",
    "issue_access_token",
    "needs_rehash",
    "new_api_token",
    "new_refresh_token",
    "sliding_window_wait",
    "trusted_networks",
    "verify_password",
]

# --- passwords -------------------------------------------------------------------------

# Library defaults (Argon2id, RFC 9106 "low memory" profile). Parameters are stored in each
# hash, so raising them later only needs `needs_rehash` on the next successful login.
_hasher: Final = PasswordHasher()

MIN_PASSWORD_LENGTH: Final = 8
# Argon2 would hash a megabyte happily; the cap stops a login form from being used to make
# the server hash huge bodies, and is far beyond any passphrase a person types.
MAX_PASSWORD_LENGTH: Final = 256


def hash_password(password: str) -> str:
    """Hash a password into a self-describing Argon2id string (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(hash: str, password: str) -> bool:
    """Whether ``password`` matches ``hash``.

    Returns False, never raises, for a wrong password *and* for a stored value that is not
    an Argon2 hash at all: to the login route both mean "refuse", and an exception there
    would turn a corrupt row into a 500 instead of a 401.
    """
    try:
        return _hasher.verify(hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:
    """Whether ``hash`` was made with weaker parameters than the current defaults.

    Call it after a successful `verify_password`, while the plain password is at hand, and
    store a fresh `hash_password` if True. A value that cannot be parsed also answers True.
    """
    try:
        return _hasher.check_needs_rehash(hash)
    except InvalidHashError:
        return True


def check_password_strength(password: str) -> str | None:
    """Why ``password`` is too weak to accept, or None if it is acceptable.

    Deliberately minimal (length, not composition rules): NIST SP 800-63B advises against
    mandatory character classes, which push people to predictable patterns.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password must be at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) == 1:
        return "password must not repeat a single character"
    return None


# --- JWT access tokens -----------------------------------------------------------------

TOKEN_EXPIRED: Final = "TOKEN_EXPIRED"  # noqa: S105 - a label, not a secret
"""`InvalidTokenError.code` for a well-formed, correctly signed token past its ``exp``:
the client should refresh and retry rather than log in again."""
TOKEN_INVALID: Final = "TOKEN_INVALID"  # noqa: S105 - a label, not a secret
"""`InvalidTokenError.code` for everything else: bad signature, wrong algorithm, audience,
issuer or type, missing claims, or not a JWT at all."""

_ALGORITHM: Final = "HS256"
_ACCESS_TYPE: Final = "access"
_REQUIRED_CLAIMS: Final = ("sub", "iat", "exp", "iss", "aud", "jti", "typ")
# RFC 7518 section 3.2: an HMAC key must be at least as long as the hash output.
_MIN_SECRET_BYTES: Final = 32


class InvalidTokenError(CodedError):
    """An access token was refused; ``code`` tells the client whether refreshing can help."""


@dataclass(frozen=True)
class TokenConfig:
    """How access tokens are signed and checked; one per deployment, from settings."""

    secret: str
    """HMAC key shared by every replica; at least 32 bytes (checked)."""
    access_ttl_s: int = 900
    """Access token lifetime. Short, because an access token cannot be revoked: logout and
    role changes take effect when it expires and the refresh token is checked again."""
    issuer: str = "clipray"
    """``iss`` claim, so tokens from another service sharing the secret are refused."""
    audience: str = "clipray-api"
    """``aud`` claim, so tokens minted for another audience are refused here."""

    def __post_init__(self) -> None:
        if len(self.secret.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(f"token secret must be at least {_MIN_SECRET_BYTES} bytes")
        if self.access_ttl_s <= 0:
            raise ValueError("access_ttl_s must be positive")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def issue_access_token(cfg: TokenConfig, user_id: str, *, now: datetime | None = None) -> str:
    """Sign an access token for ``user_id``, valid from ``now`` for ``cfg.access_ttl_s``.

    ``jti`` is random so two tokens issued in the same second still differ (and can be
    told apart in logs); ``typ`` keeps a future token type signed with the same key from
    being accepted as an access token.
    """
    if not user_id:
        raise ValueError("user_id must not be empty")
    issued = _now(now)
    claims = {
        "sub": user_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=cfg.access_ttl_s)).timestamp()),
        "iss": cfg.issuer,
        "aud": cfg.audience,
        "jti": uuid.uuid4().hex,
        "typ": _ACCESS_TYPE,
    }
    return jwt.encode(claims, cfg.secret, algorithm=_ALGORITHM)


def decode_access_token(cfg: TokenConfig, token: str, *, now: datetime | None = None) -> str:
    """Check an access token and return its user id (``sub``).

    PyJWT checks the signature (HS256 only, so ``alg: none`` and algorithm-confusion
    tokens fail), presence of every claim, ``aud`` and ``iss``. Expiry is checked here
    against ``now`` instead of PyJWT's own clock, so tests and callers with an injected
    clock get deterministic answers; at ``exp`` exactly the token is already expired.

    Raises:
        InvalidTokenError: ``code`` is `TOKEN_EXPIRED` or `TOKEN_INVALID`.
    """
    try:
        claims = jwt.decode(
            token,
            cfg.secret,
            algorithms=[_ALGORITHM],
            audience=cfg.audience,
            issuer=cfg.issuer,
            options={
                "require": list(_REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(TOKEN_INVALID, f"invalid access token: {exc}") from None

    sub, exp, typ = claims["sub"], claims["exp"], claims["typ"]
    if typ != _ACCESS_TYPE:
        raise InvalidTokenError(TOKEN_INVALID, "not an access token")
    if not isinstance(sub, str) or not sub:
        raise InvalidTokenError(TOKEN_INVALID, "access token has no subject")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidTokenError(TOKEN_INVALID, "access token has a malformed expiry")
    if _now(now).timestamp() >= exp:
        raise InvalidTokenError(TOKEN_EXPIRED, "access token has expired")
    return sub


def access_token_expiry(token: str) -> datetime:
    """When an access token lapses (its ``exp``), read without checking it: only for a
    token :func:`decode_access_token` accepted, by a connection that outlives a request (a
    WebSocket) and must end when its credential does.

    Raises:
        InvalidTokenError: ``TOKEN_INVALID``, not a JWT with a numeric ``exp``.
    """
    try:
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    except (jwt.PyJWTError, KeyError):
        raise InvalidTokenError(TOKEN_INVALID, "not an access token") from None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidTokenError(TOKEN_INVALID, "access token has a malformed expiry")
    return datetime.fromtimestamp(exp, tz=UTC)


# --- opaque tokens ---------------------------------------------------------------------

REFRESH_TOKEN_PREFIX: Final = "crr_"  # noqa: S105 - a label, not a secret
API_TOKEN_PREFIX: Final = "crt_"  # noqa: S105 - a label, not a secret
# 32 random bytes = 256 bits: beyond guessing, and as strong as the SHA-256 that stores it.
_TOKEN_BYTES: Final = 32


def new_refresh_token() -> str:
    """A random refresh token; the prefix lets secret scanners and people recognise it."""
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def new_api_token() -> str:
    """A random API (machine) token, shown once to its owner and stored as `hash_token`."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which an opaque token is stored and looked up.

    A fast hash is right here, unlike for passwords: the token carries 256 random bits, so
    there is no dictionary to try and brute force is hopeless however fast each guess is.
    Slow hashing would only add latency to every API request, and a salt would make the
    digest non-deterministic and so impossible to look up by index.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_token(token: str) -> bool:
    """Whether a bearer credential is an API token (looked up) rather than a JWT (verified)."""
    return token.startswith(API_TOKEN_PREFIX)


# --- client addresses and rate windows -----------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(items: tuple[str, ...]) -> tuple[Network, ...]:
    """``CLIPRAY_TRUSTED_PROXIES`` parsed once (Settings already refused malformed items)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: bare, ``v4:port`` or ``[v6]:port``; None if not one."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             networks: Iterable[Network]) -> bool:  # fmt: skip
    return addr is not None and any(addr in net for net in networks)


def client_address(peer: str | None, forwarded_for: Sequence[str],
                   trusted: Sequence[Network]) -> str:  # fmt: skip
    """The address a request is counted against (rate limits, logs).

    ``X-Forwarded-For`` is only believed from a trusted proxy: anyone else can write
    anything in it, so from an untrusted peer the peer itself is the client. From a trusted
    peer the header is read right to left, each proxy having appended the address it was
    called from, and the first address that is not a trusted proxy is the client: entries
    further left were written by that client and prove nothing. A malformed entry ends the
    walk at the last trusted hop (the client wrote it), never at the client's free text.

    Args:
        peer: the direct TCP peer (``request.client.host``), None when unknown.
        forwarded_for: every ``X-Forwarded-For`` header of the request, in order.
        trusted: the networks of trusted proxies (:func:`trusted_networks`).
    """
    if peer is None:
        return "unknown"
    here = _ip(peer)
    if not _trusted(here, trusted):
        return peer
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    nearest = str(here)
    for hop in reversed(hops):
        addr = _ip(hop)
        if addr is None:
            return nearest
        if not _trusted(addr, trusted):
            return str(addr)
        nearest = str(addr)
    return nearest  # every hop is a trusted proxy: the left-most one is as far as we know


def sliding_window_wait(recent: Iterable[datetime], limit: int, window_s: float,
                        now: datetime) -> int | None:  # fmt: skip
    """None when one more request fits ``limit`` in any ``window_s`` seconds, else how many
    whole seconds until it would (for ``Retry-After``; at least 1).

    ``recent`` holds the times of the requests already admitted; those at least
    ``window_s`` old no longer count. A clock-aligned window would let ``limit`` requests
    through on each side of a boundary (twice the limit in a second); this one never lets
    more than ``limit`` through in any interval of ``window_s``.
    """
    window = timedelta(seconds=window_s)
    inside = sorted(t for t in recent if now - t < window)
    if len(inside) < limit:
        return None
    if limit <= 0:
        return math.ceil(window_s)
    frees_a_slot = inside[len(inside) - limit]  # once it leaves, limit - 1 remain
    return max(1, math.ceil((frees_a_slot + window - now).total_seconds()))
