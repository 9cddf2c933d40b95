"""Alembic environment: runs clipray's migrations against ``sqlalchemy.url``."""

from alembic import context

from clipray.storage.db import make_engine
from clipray.storage.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
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
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("clipray runs migrations online only: use `clipray up` or storage.migrate")
run_migrations_online()
