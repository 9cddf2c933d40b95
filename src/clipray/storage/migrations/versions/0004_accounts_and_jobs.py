"""accounts, tokens, rate limits; jobs as a state machine; clips planned per job

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_JOB = ("queued", "running", "succeeded", "failed", "cancelled")
NEW_JOB = ("created", "ingesting", "analyzing", "clips_generated", "rendering", "review",
           "completed", "failed", "cancelled")  # fmt: skip
# Old job states map onto the new machine; only batch jobs existed before.
JOB_UP = {"queued": "created", "running": "analyzing", "succeeded": "completed"}
JOB_DOWN = {"created": "queued", "ingesting": "running", "analyzing": "running",
            "clips_generated": "running", "rendering": "running", "review": "succeeded",
            "completed": "succeeded"}  # fmt: skip
OLD_CLIP = ("rendered", "failed")
NEW_CLIP = ("pending", "rendered", "failed")


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _swap_enum(table: str, column: str, name: str, old: Sequence[str], new: Sequence[str],
               mapping: dict[str, str]) -> None:  # fmt: skip
    """Replace a VARCHAR+CHECK enum: drop the check, remap the values, add the new check."""
    with op.batch_alter_table(table) as b:
        b.alter_column(column, type_=sa.String(16), existing_type=_enum(old, name),
                       existing_nullable=False)  # fmt: skip
    t = sa.table(table, sa.column(column, sa.String))
    for before, after in mapping.items():
        op.execute(t.update().where(t.c[column] == before).values({column: after}))
    with op.batch_alter_table(table) as b:
        b.alter_column(column, type_=_enum(new, name), existing_type=sa.String(16),
                       existing_nullable=False)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_hits")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_api_tokens_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )  # fmt: skip
    with op.batch_alter_table("api_tokens") as b:
        b.create_index(b.f("ix_api_tokens_user_id"), ["user_id"], unique=False)
        b.create_index(b.f("ix_api_tokens_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )  # fmt: skip
    with op.batch_alter_table("refresh_tokens") as b:
        b.create_index(b.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False)
        b.create_index(b.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("clips") as b:
        b.add_column(sa.Column("job_id", sa.String(length=32), nullable=True))
        b.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("plan", sa.JSON(), nullable=True))
        b.create_index(b.f("ix_clips_job_id"), ["job_id"], unique=False)
        b.create_foreign_key(b.f("fk_clips_job_id_jobs"), "jobs", ["job_id"], ["id"],
                             ondelete="SET NULL")  # fmt: skip
    with op.batch_alter_table("clips") as b:
        b.alter_column("description", server_default=None, existing_type=sa.Text(),
                       existing_nullable=False)  # fmt: skip
    _swap_enum("clips", "status", "clip_status", OLD_CLIP, NEW_CLIP, {})

    with op.batch_alter_table("jobs") as b:
        b.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        b.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        b.create_unique_constraint("uq_jobs_workspace_idempotency",
                                   ["workspace_id", "idempotency_key"])  # fmt: skip
    with op.batch_alter_table("jobs") as b:
        b.alter_column("paused", server_default=None, existing_type=sa.Boolean(),
                       existing_nullable=False)  # fmt: skip
    _swap_enum("jobs", "status", "job_status", OLD_JOB, NEW_JOB, JOB_UP)

    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("password_hash", sa.String(length=256), nullable=True))
        b.add_column(sa.Column("personal_workspace_id", sa.String(length=32), nullable=True))

    with op.batch_alter_table("workspaces") as b:
        b.add_column(sa.Column("max_concurrent_jobs", sa.Integer(), nullable=True))
        b.add_column(sa.Column("max_minutes_per_month", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as b:
        b.drop_column("max_minutes_per_month")
        b.drop_column("max_concurrent_jobs")

    with op.batch_alter_table("users") as b:
        b.drop_column("personal_workspace_id")
        b.drop_column("password_hash")

    _swap_enum("jobs", "status", "job_status", NEW_JOB, OLD_JOB, JOB_DOWN)
    with op.batch_alter_table("jobs") as b:
        b.drop_constraint("uq_jobs_workspace_idempotency", type_="unique")
        b.drop_column("not_before")
        b.drop_column("request_hash")
        b.drop_column("idempotency_key")
        b.drop_column("paused")

    # Pending clips have no rendered version to go back to.
    clips = sa.table("clips", sa.column("status", sa.String))
    op.execute(clips.delete().where(clips.c.status == "pending"))
    _swap_enum("clips", "status", "clip_status", NEW_CLIP, OLD_CLIP, {})
    with op.batch_alter_table("clips") as b:
        b.drop_constraint(b.f("fk_clips_job_id_jobs"), type_="foreignkey")
        b.drop_index(b.f("ix_clips_job_id"))
        b.drop_column("plan")
        b.drop_column("description")
        b.drop_column("job_id")

    with op.batch_alter_table("refresh_tokens") as b:
        b.drop_index(b.f("ix_refresh_tokens_user_id"))
        b.drop_index(b.f("ix_refresh_tokens_family_id"))
    op.drop_table("refresh_tokens")
    with op.batch_alter_table("api_tokens") as b:
        b.drop_index(b.f("ix_api_tokens_workspace_id"))
        b.drop_index(b.f("ix_api_tokens_user_id"))
    op.drop_table("api_tokens")
    op.drop_table("rate_limit_hits")
