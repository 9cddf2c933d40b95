"""workspace library: sources marked as B-roll or sound effects for clips

``library_items``: one row per source and kind in a workspace (unique), with its tags (a
JSON list of lower-case words). Deleting the source or the workspace deletes its items.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("broll", "sfx")


def upgrade() -> None:
    op.create_table(
        "library_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.Enum(*_KINDS, name="library_kind", native_enum=False,
                                  create_constraint=True, length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"],
                                name=op.f("fk_library_items_source_id_sources"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_library_items_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_items")),
        sa.UniqueConstraint("workspace_id", "source_id", "kind",
                            name="uq_library_items_workspace_source_kind"),
    )  # fmt: skip
    with op.batch_alter_table("library_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_items_workspace_id"), ["workspace_id"],
                              unique=False)  # fmt: skip
        batch_op.create_index(batch_op.f("ix_library_items_source_id"), ["source_id"],
                              unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_table("library_items")
