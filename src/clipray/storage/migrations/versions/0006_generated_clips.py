"""generated clips on the app-owned bucket (their own table, linked from the rendered clip);
a storage quota per workspace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "generated_clips",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=True),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "heuristic",
                "llm-ranked",
                "highlight-reel",
                name="generated_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "available",
                "kept",
                "published",
                "purged",
                name="generated_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_generated_clips_source_id_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_generated_clips_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_clips")),
        sa.UniqueConstraint("candidate_id", name=op.f("uq_generated_clips_candidate_id")),
    )
    with op.batch_alter_table("generated_clips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_generated_clips_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_generated_clips_source_id"), ["source_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_generated_clips_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generated_clip_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_clips_generated_clip_id_generated_clips"),
            "generated_clips",
            ["generated_clip_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_storage_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("max_storage_bytes")

    with op.batch_alter_table("clips", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_clips_generated_clip_id_generated_clips"), type_="foreignkey"
        )
        batch_op.drop_column("generated_clip_id")

    with op.batch_alter_table("generated_clips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generated_clips_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_generated_clips_source_id"))
        batch_op.drop_index(batch_op.f("ix_generated_clips_expires_at"))

    op.drop_table("generated_clips")
