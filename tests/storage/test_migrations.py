"""Migrations up and down on SQLite and PostgreSQL, and in step with the ORM."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clipray.storage import migrate
from clipray.storage.db import make_engine
from clipray.storage.orm import Base

TABLES = {
    "users",
    "audit_events",
    "workspaces",
    "workspace_members",
    "sources",
    "jobs",
    "job_steps",
    "analyses",
    "clips",
    "refresh_tokens",
    "api_tokens",
    "rate_limit_hits",
    "clip_groups",
    "virtual_clips",
    "cut_edits",
    "clip_exports",
    "generated_clips",
    "highlight_reels",
    "upload_reservations",
    "keeper_sweeps",
    "connected_accounts",
    "oauth_states",
    "webhook_subscriptions",
    "webhook_deliveries",
    "webhook_inbound",
    "webhook_nonces",
    "publications",
    "feature_flags",
    "stream_clips",
    "stream_events",
    "stream_monitors",
    "supervisor_leases",
    "library_items",
    "brand_kits",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_then_downgrade_then_upgrade(empty_db_url):
    assert migrate.current_revision(empty_db_url) is None
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    assert _tables(empty_db_url) == TABLES

    migrate.downgrade(empty_db_url, "base")
    assert migrate.current_revision(empty_db_url) is None
    assert _tables(empty_db_url) == set()

    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) == TABLES


def test_upgrade_twice_is_a_no_op(empty_db_url):
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()


def test_migrations_match_the_orm(empty_db_url):
    """Autogenerate finds nothing to add: the models and the migrations describe one schema."""
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _check_refuses(url: str, table: str, sql: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
        return False
    except sa.exc.IntegrityError:
        return True
    finally:
        engine.dispose()


def test_0004_remaps_old_job_states_and_checks_the_new_ones(empty_db_url):
    """Jobs written before the state machine keep a meaning; the new CHECK holds."""
    migrate.upgrade(empty_db_url, "0003")
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w', 'w', 'w', "
            "CURRENT_TIMESTAMP)"
        ))
        for n, status in enumerate(["queued", "running", "succeeded", "failed"]):
            conn.execute(
                sa.text(
                    "INSERT INTO jobs (id, workspace_id, kind, status, params, progress, "
                    "created_at, updated_at) VALUES (:id, 'w', 'batch', :status, '{}', 0, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": f"j{n}", "status": status},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO job_steps (id, job_id, name, status, attempt, detail, "
                    "created_at) VALUES (:id, :job, 'analyze', 'succeeded', 1, '{}', "
                    "CURRENT_TIMESTAMP)"
                ),
                {"id": f"s{n}", "job": f"j{n}"},
            )
    engine.dispose()
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT id, status FROM jobs")).all())
    assert got == {"j0": "created", "j1": "analyzing", "j2": "completed", "j3": "failed"}
    with engine.connect() as conn:  # rebuilding jobs must not cascade into its steps
        assert conn.execute(sa.text("SELECT count(*) FROM job_steps")).scalar() == 4
    engine.dispose()
    assert _check_refuses(empty_db_url, "jobs", "UPDATE jobs SET status = 'queued'")
    assert not _check_refuses(empty_db_url, "jobs", "UPDATE jobs SET status = 'review' "
                              "WHERE id = 'j2'")
    migrate.downgrade(empty_db_url, "0003")
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT id, status FROM jobs")).all())
    engine.dispose()
    assert got == {"j0": "queued", "j1": "running", "j2": "succeeded", "j3": "failed"}
