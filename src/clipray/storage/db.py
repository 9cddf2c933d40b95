"""Engines and sessions. Only ``storage/`` opens sessions; the rest goes through repositories.

>>> db = Database(settings.resolved_database_url)   # doctest: +SKIP
>>> with db.session() as s:                          # doctest: +SKIP
...     WorkspaceRepo(s).ensure("local")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """An engine with the per-backend settings clipray relies on.

    SQLite: foreign keys enforced, WAL, a busy timeout so concurrent Ray workers, replicas
    and the job runner wait instead of failing with "database is locked", and transactions
    begun by SQLAlchemy (``BEGIN IMMEDIATE``) rather than the sqlite3 module, which otherwise
    breaks SAVEPOINTs (SQLAlchemy's documented recipe for pysqlite). SQLite is the embedded
    single-box default; a deployment with several writers at scale uses PostgreSQL.

    ``sqlite_foreign_keys=False`` is for migrations only: SQLite alters a table by rebuilding
    it, and dropping the old copy with foreign keys on would cascade into the rows that
    reference it (SQLite's documented ALTER TABLE procedure turns them off).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA foreign_keys={'ON' if sqlite_foreign_keys else 'OFF'}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE: take the write lock up front. A deferred transaction that reads and
            # then writes fails at once with "database is locked" when another connection
            # wrote in between (SQLite cannot upgrade a stale snapshot, and its busy timeout
            # does not apply); taken up front, the lock is waited for instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
