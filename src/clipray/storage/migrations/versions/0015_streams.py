"""streams: live stream monitors and the stream supervisor's lease

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = ("idle", "connecting", "active", "paused", "error", "stopped")
_NOT_STOPPED = "stopped_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "stream_monitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("push_port", sa.Integer(), nullable=True),
        sa.Column("stream_key", sa.Text(), nullable=True),
        sa.Column("stream_key_version", sa.String(length=16), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum(*_STATUS, name="monitor_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("clips_generated", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_stream_monitors_created_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_stream_monitors_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_monitors")),
    )  # fmt: skip
    with op.batch_alter_table("stream_monitors", schema=None) as batch_op:
        for column in ("workspace_id", "status", "claimed_by"):
            batch_op.create_index(batch_op.f(f"ix_stream_monitors_{column}"), [column],
                                  unique=False)  # fmt: skip
        batch_op.create_index("uq_stream_monitors_live_push_port", ["push_port"], unique=True,
                              sqlite_where=sa.text(_NOT_STOPPED),
                              postgresql_where=sa.text(_NOT_STOPPED))  # fmt: skip
    op.create_table(
        "supervisor_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_supervisor_leases")),
    )


def downgrade() -> None:
    op.drop_table("supervisor_leases")
    op.drop_table("stream_monitors")
