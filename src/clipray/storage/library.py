"""Library rows of a workspace, each read with its source (``domain/library.py``).

    >>> repo = LibraryRepo(session, workspace_id)                         # doctest: +SKIP
    >>> item = repo.add(source_id, LibraryKind.BROLL, ("ocean",))         # doctest: +SKIP
    >>> [e.title for e in repo.entries(LibraryKind.BROLL)]                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clipray.domain.library import LibraryEntry, LibraryKind
from clipray.storage.orm import LibraryItem, Source


class LibraryItemExistsError(Exception):
    """The source is already in the library as this kind."""


def source_title(source: Source) -> str:
    """What a library shows for a source: its file name without the extension (the id when
    the origin names no file)."""
    name = PurePosixPath(urlsplit(source.origin_uri or "").path.replace("\\", "/")).stem
    return name or source.id


def entry(item: LibraryItem, source: Source) -> LibraryEntry:
    return LibraryEntry(item.id, item.source_id, LibraryKind(item.kind), tuple(item.tags or ()),
                        source_title(source), source.duration_s, item.created_at,
                        source.storage_key)  # fmt: skip


class LibraryRepo:
    def __init__(self, session: Session, workspace_id: str) -> None:
        self.s = session
        self.workspace_id = workspace_id

    def add(self, source_id: str, kind: LibraryKind, tags: Sequence[str]) -> LibraryItem:
        """A new item; raises :class:`LibraryItemExistsError` (nothing written) when the
        source already is one of this kind."""
        row = LibraryItem(workspace_id=self.workspace_id, source_id=source_id, kind=kind,
                          tags=list(tags))  # fmt: skip
        try:
            with self.s.begin_nested():
                self.s.add(row)
                self.s.flush()
        except IntegrityError as exc:
            raise LibraryItemExistsError(source_id) from exc
        return row

    def get(self, item_id: str) -> tuple[LibraryItem, Source] | None:
        """The item of any workspace with its source (the caller checks whose it is)."""
        row = self.s.execute(
            select(LibraryItem, Source).join(Source, Source.id == LibraryItem.source_id)
            .where(LibraryItem.id == item_id)
        ).first()  # fmt: skip
        return (row[0], row[1]) if row is not None else None

    def entries(self, kind: LibraryKind | None = None) -> list[LibraryEntry]:
        """The workspace's items (of ``kind``), newest first."""
        q = (select(LibraryItem, Source).join(Source, Source.id == LibraryItem.source_id)
             .where(LibraryItem.workspace_id == self.workspace_id))  # fmt: skip
        if kind is not None:
            q = q.where(LibraryItem.kind == kind)
        q = q.order_by(LibraryItem.created_at.desc(), LibraryItem.id)
        return [entry(i, s) for i, s in self.s.execute(q).all()]
