"""Repositories of connected platform accounts and of OAuth consent states.

Rows hold ciphertext only; encrypting and decrypting is the connections service's job
(``storage/vault.py``). A state is consumed by one conditional UPDATE, so two callbacks
racing with the same ``state`` cannot both pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from clipray.storage.orm import ConnectedAccount, ConnectionStatus, OAuthState, utcnow


class OAuthStateRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, **fields: Any) -> OAuthState:
        row = OAuthState(**fields)
        self.s.add(row)
        self.s.flush()
        return row

    def by_hash(self, state_hash: str) -> OAuthState | None:
        return self.s.scalar(select(OAuthState).where(OAuthState.state_hash == state_hash))

    def consume(self, state_id: str, now: datetime) -> bool:
        """Mark the state used; False when another request used it first."""
        done = self.s.execute(
            update(OAuthState)
            .where(OAuthState.id == state_id, OAuthState.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(done, "rowcount", 0))

    def purge(self, before: datetime) -> None:
        """Drop states that expired before ``before`` (used or not): they can never pass."""
        self.s.execute(delete(OAuthState).where(OAuthState.expires_at < before))


class ConnectedAccountRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def find(self, workspace_id: str, platform: str, platform_account_id: str
             ) -> ConnectedAccount | None:  # fmt: skip
        return self.s.scalar(
            select(ConnectedAccount).where(
                ConnectedAccount.workspace_id == workspace_id,
                ConnectedAccount.platform == platform,
                ConnectedAccount.platform_account_id == platform_account_id,
            )
        )

    def upsert(self, workspace_id: str, platform: str, platform_account_id: str,
               **fields: Any) -> ConnectedAccount:  # fmt: skip
        """The workspace's row for this platform account, created or updated with ``fields``
        (connecting an account again refreshes its tokens and makes it active)."""
        row = self.find(workspace_id, platform, platform_account_id)
        if row is None:
            row = ConnectedAccount(workspace_id=workspace_id, platform=platform,
                                   platform_account_id=platform_account_id)  # fmt: skip
            self.s.add(row)
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        self.s.flush()
        return row

    def list(self, workspace_id: str, include_revoked: bool = False
             ) -> Sequence[ConnectedAccount]:  # fmt: skip
        q = select(ConnectedAccount).where(ConnectedAccount.workspace_id == workspace_id)
        if not include_revoked:
            q = q.where(ConnectedAccount.status != ConnectionStatus.REVOKED)
        return self.s.scalars(q.order_by(ConnectedAccount.created_at, ConnectedAccount.id)).all()

    def get(self, account_id: str) -> ConnectedAccount | None:
        return self.s.get(ConnectedAccount, account_id)

    def lock(self, account_id: str) -> ConnectedAccount | None:
        """The row, locked until the transaction ends (PostgreSQL; SQLite's transactions
        already hold the write lock): one refresh at a time per account, since a platform
        that rotates refresh tokens invalidates the one a second refresher would use."""
        return self.s.scalar(
            select(ConnectedAccount).where(ConnectedAccount.id == account_id).with_for_update()
        )
