"""Feature flags' rows: read per scope, set by one upsert (two owners flipping the same
flag at once both succeed, the later write wins; neither fails on the unique key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clipray.domain.flags import GLOBAL
from clipray.storage.orm import FeatureFlag, new_id


class FlagRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def in_scopes(self, name: str, workspace_id: str | None) -> list[FeatureFlag]:
        """The rows of flag ``name`` that bear on ``workspace_id``: the global one and the
        workspace's own (either may be missing)."""
        scopes = [GLOBAL] if workspace_id is None else [GLOBAL, workspace_id]
        q = select(FeatureFlag).where(FeatureFlag.name == name, FeatureFlag.scope.in_(scopes))
        return list(self.s.scalars(q))

    def listed(self, workspace_id: str | None = None, every_workspace: bool = False
               ) -> Sequence[FeatureFlag]:  # fmt: skip
        """The global rows, plus one workspace's (``workspace_id``) or every workspace's
        (``every_workspace``); global first, then by workspace and name."""
        q = select(FeatureFlag)
        if not every_workspace:
            scopes = [GLOBAL] if workspace_id is None else [GLOBAL, workspace_id]
            q = q.where(FeatureFlag.scope.in_(scopes))
        q = q.order_by(FeatureFlag.workspace_id.is_not(None), FeatureFlag.workspace_id,
                       FeatureFlag.name)  # fmt: skip
        return list(self.s.scalars(q))

    def set(self, name: str, enabled: bool, workspace_id: str | None, user_id: str | None,
            at: datetime) -> FeatureFlag:  # fmt: skip
        """Insert or update the flag in its scope, in one statement."""
        scope = workspace_id or GLOBAL
        dialect = self.s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(FeatureFlag).values(id=new_id(), scope=scope, workspace_id=workspace_id,
                                          name=name, enabled=enabled, updated_by=user_id,
                                          updated_at=at)  # fmt: skip
        stmt = stmt.on_conflict_do_update(
            index_elements=["scope", "name"],
            set_={"enabled": enabled, "updated_by": user_id, "updated_at": at},
        )
        self.s.execute(stmt)
        row = self.s.scalar(select(FeatureFlag).where(FeatureFlag.scope == scope,
                                                      FeatureFlag.name == name)
                            .execution_options(populate_existing=True))  # fmt: skip
        assert row is not None  # just written in this transaction
        return row

    def clear(self, name: str, workspace_id: str | None) -> bool:
        """Remove the flag's row in its scope (back to the global value, or to on); whether
        there was one."""
        done = self.s.execute(delete(FeatureFlag).where(
            FeatureFlag.scope == (workspace_id or GLOBAL), FeatureFlag.name == name,
        ).execution_options(synchronize_session=False))  # fmt: skip
        return bool(getattr(done, "rowcount", 0))

    def off_globally(self) -> list[FeatureFlag]:
        """The flags switched off for every workspace (``clipray doctor`` reports them)."""
        q = select(FeatureFlag).where(FeatureFlag.scope == GLOBAL, FeatureFlag.enabled.is_(False))
        return list(self.s.scalars(q.order_by(FeatureFlag.name)))
