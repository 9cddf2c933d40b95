"""brand kits: a workspace's look (logo, caption colours and font, intro, outro, audiogram
background), applied to the clips a job or a re-render makes.

Assets are object keys on the workspace's media bucket; the intro and outro are sources of
the workspace (a deleted source leaves the kit without it).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brand_kits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("logo_key", sa.String(length=1024), nullable=True),
        sa.Column("logo_position", sa.String(length=16), nullable=False),
        sa.Column("logo_size", sa.Float(), nullable=False),
        sa.Column("logo_opacity", sa.Float(), nullable=False),
        sa.Column("primary_color", sa.String(length=7), nullable=False),
        sa.Column("accent_color", sa.String(length=7), nullable=False),
        sa.Column("background_color", sa.String(length=7), nullable=False),
        sa.Column("font_family", sa.String(length=80), nullable=True),
        sa.Column("font_key", sa.String(length=1024), nullable=True),
        sa.Column("font_name", sa.String(length=255), nullable=True),
        sa.Column("background_key", sa.String(length=1024), nullable=True),
        sa.Column("intro_source_id", sa.String(length=32), nullable=True),
        sa.Column("outro_source_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_brand_kits_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["intro_source_id"], ["sources.id"],
                                name=op.f("fk_brand_kits_intro_source_id_sources"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["outro_source_id"], ["sources.id"],
                                name=op.f("fk_brand_kits_outro_source_id_sources"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_kits")),
    )  # fmt: skip
    with op.batch_alter_table("brand_kits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_brand_kits_workspace_id"), ["workspace_id"],
                              unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_table("brand_kits")
