"""Repositories of accounts: refresh tokens, API tokens, and the shared rate-limit counters.

Tokens are stored as hashes only (``serve.security.hash_token``): a leaked database holds no
usable credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clipray.storage.orm import ApiToken, RateLimitHit, RefreshToken, new_id, utcnow


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
    """Fixed-window counters in the database, so every replica counts the same hits."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def hit(self, key: str, window_s: int, now: datetime | None = None) -> tuple[int, int]:
        """Count one hit of ``key`` in the current window, atomically (one upsert).

        Returns the hits in the window so far (this one included) and the seconds until
        the window ends.
        """
        ts = int((now or utcnow()).timestamp())
        start = ts - ts % window_s
        dialect = self.s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(RateLimitHit).values(key=key, window_start=start, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateLimitHit.count + 1},
        ).returning(RateLimitHit.count)
        count = int(self.s.execute(stmt).scalar_one())
        # Old windows of this key are worthless: drop them as we go.
        self.s.execute(
            delete(RateLimitHit).where(RateLimitHit.key == key, RateLimitHit.window_start < start)
        )
        return count, start + window_s - ts
