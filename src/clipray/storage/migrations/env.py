"""Alembic environment: runs clipray's migrations against ``sqlalchemy.url``."""

from alembic import context

from clipray.storage.db import make_engine
from clipray.storage.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    # Foreign keys off on SQLite while tables are rebuilt (see make_engine), checked after.
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", sqlite_foreign_keys=False)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if connection.dialect.name == "sqlite":
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left dangling references: {broken[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("clipray runs migrations online only: use `clipray up` or storage.migrate")
run_migrations_online()
