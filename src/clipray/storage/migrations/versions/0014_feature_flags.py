"""feature flags; installation-level audit rows

``feature_flags``: one row per flag and scope (``'global'`` or a workspace id), unique per
scope and name. ``audit_events.workspace_id`` becomes nullable: a row without a workspace
belongs to the installation (a global flag changed, an inbound webhook refused).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPE_RULE = ("(scope = 'global' AND workspace_id IS NULL) OR "
               "(workspace_id IS NOT NULL AND scope = workspace_id)")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "feature_flags",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_SCOPE_RULE,
                           name=op.f("ck_feature_flags_scope_matches_workspace")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"],
                                name=op.f("fk_feature_flags_updated_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_feature_flags_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_flags")),
        sa.UniqueConstraint("scope", "name", name="uq_feature_flags_scope_name"),
    )  # fmt: skip
    with op.batch_alter_table("feature_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feature_flags_workspace_id"), ["workspace_id"],
                              unique=False)  # fmt: skip
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=sa.String(length=32),
                              nullable=True)  # fmt: skip


def downgrade() -> None:
    # Installation-level rows have no workspace to go back to.
    op.execute("DELETE FROM audit_events WHERE workspace_id IS NULL")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=sa.String(length=32),
                              nullable=False)  # fmt: skip
    op.drop_table("feature_flags")
