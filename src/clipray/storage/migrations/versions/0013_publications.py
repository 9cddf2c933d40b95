"""publications: one clip posted to one connected account

A queued row like the webhook deliveries (status, attempt, not_before), with at most one
open publication per clip and account (a partial unique index) and the request's
Idempotency-Key.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = ("requested", "pending", "scheduled", "publishing", "published", "failed",
           "cancelled", "rejected")  # fmt: skip
_KIND = ("clip", "generated")
_OPEN = "status IN ('pending', 'publishing', 'requested', 'scheduled')"


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("clip_id", sa.String(length=32), nullable=False),
        sa.Column("clip_kind", sa.Enum(*_KIND, name="publication_clip_kind", native_enum=False,
                                       create_constraint=True, length=16), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Enum(*_STATUS, name="publication_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("platform_post_id", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("stats_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["connected_accounts.id"],
                                name=op.f("fk_publications_account_id_connected_accounts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name=op.f("fk_publications_decided_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"],
                                name=op.f("fk_publications_requested_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_publications_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
        sa.UniqueConstraint("workspace_id", "idempotency_key", "clip_id", "account_id",
                            name="uq_publications_idempotency"),
    )  # fmt: skip
    with op.batch_alter_table("publications", schema=None) as batch_op:
        for column in ("workspace_id", "account_id", "status", "scheduled_at", "not_before"):
            batch_op.create_index(batch_op.f(f"ix_publications_{column}"), [column],
                                  unique=False)  # fmt: skip
        batch_op.create_index("uq_publications_open_clip_account", ["clip_id", "account_id"],
                              unique=True, sqlite_where=sa.text(_OPEN),
                              postgresql_where=sa.text(_OPEN))  # fmt: skip


def downgrade() -> None:
    op.drop_table("publications")
