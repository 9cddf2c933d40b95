"""upload reservations, keeper sweeps, sliding-window rate limits

Presigned uploads reserve their declared size against the storage quota until confirmed or
expired; the retention keeper records when it last swept; rate-limit counters become one
row per admitted request (a sliding window instead of a clock-aligned one). The old
counters are dropped: they only ever held the current window of each key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_upload_reservations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_reservations")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_upload_reservations_storage_key")),
    )
    with op.batch_alter_table("upload_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_upload_reservations_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_upload_reservations_workspace_id"), ["workspace_id"], unique=False
        )
    op.create_table(
        "keeper_sweeps",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_keeper_sweeps")),
    )
    op.drop_table("rate_limit_hits")
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_hits_key"), ["key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_hits_key"))
    op.drop_table("rate_limit_hits")
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_hits")),
    )
    op.drop_table("keeper_sweeps")
    with op.batch_alter_table("upload_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_reservations_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_upload_reservations_expires_at"))
    op.drop_table("upload_reservations")
