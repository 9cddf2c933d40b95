"""Brand kit rows of one workspace: the only code that queries ``brand_kits``.

    >>> repo = BrandKitRepo(session, workspace_id)                      # doctest: +SKIP
    >>> kit = repo.add({"name": "Main"})
    >>> [k.id for k in repo.newest_first()]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clipray.storage.keys import is_id
from clipray.storage.orm import BrandKitRow, Source, utcnow


class BrandKitRepo:
    """A workspace's kits; another workspace's kit is not found here."""

    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def add(self, fields: Mapping[str, Any]) -> BrandKitRow:
        row = BrandKitRow(workspace_id=self.workspace_id, **fields)
        self.s.add(row)
        self.s.flush()
        return row

    def get(self, kit_id: str, *, for_update: bool = False) -> BrandKitRow | None:
        """The kit, or None when it does not exist or is another workspace's. ``for_update``
        locks the row (PostgreSQL) so that two asset uploads do not both keep an old key."""
        if not is_id(kit_id):
            return None
        q = select(BrandKitRow).where(BrandKitRow.id == kit_id,
                                      BrandKitRow.workspace_id == self.workspace_id)  # fmt: skip
        return self.s.scalar(q.with_for_update() if for_update else q)

    def newest_first(self) -> list[BrandKitRow]:
        return list(self.s.scalars(
            select(BrandKitRow).where(BrandKitRow.workspace_id == self.workspace_id)
            .order_by(BrandKitRow.created_at.desc(), BrandKitRow.id)
        ))  # fmt: skip

    def count(self) -> int:
        return self.s.scalar(select(func.count()).select_from(BrandKitRow).where(
            BrandKitRow.workspace_id == self.workspace_id)) or 0  # fmt: skip

    def change(self, row: BrandKitRow, fields: Mapping[str, Any]) -> BrandKitRow:
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        self.s.flush()
        return row

    def delete(self, row: BrandKitRow) -> None:
        self.s.delete(row)
        self.s.flush()

    def source(self, source_id: str) -> Source | None:
        """A source of this workspace (an intro or outro), or None."""
        if not is_id(source_id):
            return None
        q = select(Source).where(Source.id == source_id, Source.workspace_id == self.workspace_id)
        return self.s.scalar(q)
