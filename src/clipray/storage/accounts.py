"""Repositories of accounts: refresh tokens, API tokens, and the shared rate-limit counters.

Tokens are stored as hashes only (``serve.security.hash_token``): a leaked database holds no
usable credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from clipray.storage.orm import ApiToken, RateLimitHit, RefreshToken, as_utc, new_id, utcnow


class RefreshTokenRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def issue(self, user_id: str, token_hash: str, ttl: timedelta, family_id: str | None = None
              ) -> RefreshToken:  # fmt: skip
        row = RefreshToken(
            user_id=user_id,
            token_hash=token_hash,
            family_id=family_id or new_id(),
            expires_at=utcnow() + ttl,
        )
        self.s.add(row)
        self.s.flush()
        return row

    def by_hash(self, token_hash: str) -> RefreshToken | None:
        return self.s.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))

    def revoke_family(self, family_id: str) -> None:
        self.s.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


class ApiTokenRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def create(self, user_id: str, workspace_id: str, name: str, token_hash: str,
               scopes: Sequence[str]) -> ApiToken:  # fmt: skip
        row = ApiToken(user_id=user_id, workspace_id=workspace_id, name=name,
                       token_hash=token_hash, scopes=sorted(scopes))  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return row

    def by_hash(self, token_hash: str) -> ApiToken | None:
        return self.s.scalar(
            select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
        )

    def list(self, user_id: str, workspace_id: str) -> Sequence[ApiToken]:
        return self.s.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.workspace_id == workspace_id,
                   ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at)
        ).all()  # fmt: skip

    def get(self, token_id: str) -> ApiToken | None:
        return self.s.get(ApiToken, token_id)


class RateLimitRepo:
    """Admitted requests per key in the database, so every replica counts the same hits.

    The caller decides (``serve.security.sliding_window_wait``) between :meth:`recent` and
    :meth:`admit`, in one transaction: the key is locked for that transaction, so two
    replicas cannot both see room for the last request.
    """

    def __init__(self, session: Session) -> None:
        self.s = session

    def recent(self, key: str, window_s: float, now: datetime | None = None) -> list[datetime]:
        """Lock ``key``, drop its hits older than the window, return the rest's times."""
        self._lock_and_expire(key, window_s, now or utcnow())
        found = self.s.scalars(select(RateLimitHit.at).where(RateLimitHit.key == key))
        return [as_utc(t) for t in found]

    def take(self, key: str, limit: int, window_s: float, now: datetime | None = None
             ) -> datetime | None:  # fmt: skip
        """Admit one request of ``key`` if fewer than ``limit`` were admitted in the last
        ``window_s`` seconds (None), else answer when one more would fit: the moment the
        ``limit``-th newest hit leaves the window. The same sliding window as :meth:`recent`
        with ``serve.security.sliding_window_wait``, decided by the database in one query
        that reads one row, whatever the limit: for a limit on every request of a user,
        where fetching each hit of the window would cost more the busier the user is.
        """
        at = now or utcnow()
        self._lock_and_expire(key, window_s, at)
        window = timedelta(seconds=window_s)
        if limit <= 0:
            return at + window
        nth = self.s.scalar(
            select(RateLimitHit.at).where(RateLimitHit.key == key)
            .order_by(RateLimitHit.at.desc()).offset(limit - 1).limit(1)
        )  # fmt: skip
        if nth is not None:
            return as_utc(nth) + window
        self.admit(key, at)
        return None

    def _lock_and_expire(self, key: str, window_s: float, at: datetime) -> None:
        """Lock ``key`` for this transaction and drop its hits older than the window.

        PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: clipray's
        transactions begin IMMEDIATE, so this one already holds the database's write lock.
        """
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
        cutoff = at - timedelta(seconds=window_s)
        self.s.execute(
            delete(RateLimitHit).where(RateLimitHit.key == key, RateLimitHit.at <= cutoff)
        )

    def admit(self, key: str, now: datetime | None = None) -> None:
        """Record one admitted request of ``key``."""
        self.s.add(RateLimitHit(key=key, at=now or utcnow()))
        self.s.flush()
