"""virtual clips: cut points, their audit trail, review groups, exports; the source's
frame grid, cut version (optimistic lock) and proxy

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clip_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_clip_groups_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_clip_groups_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip_groups")),
    )
    with op.batch_alter_table("clip_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clip_groups_source_id"), ["source_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_clip_groups_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "cut_edits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("to_frame", sa.Integer(), nullable=True),
        sa.Column("cuts_before", sa.JSON(), nullable=False),
        sa.Column("cuts_after", sa.JSON(), nullable=False),
        sa.Column("created_ids", sa.JSON(), nullable=False),
        sa.Column("archived_ids", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("undo_of", sa.String(length=32), nullable=True),
        sa.Column("undone", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_cut_edits_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cut_edits_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_cut_edits_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cut_edits")),
    )
    with op.batch_alter_table("cut_edits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cut_edits_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cut_edits_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cut_edits_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "virtual_clips",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column(
            "review",
            sa.Enum(
                "pending_review",
                "approved",
                "skipped",
                "archived",
                name="review_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("group_id", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["clip_groups.id"],
            name=op.f("fk_virtual_clips_group_id_clip_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_virtual_clips_reviewed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_virtual_clips_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_virtual_clips_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_virtual_clips")),
    )
    with op.batch_alter_table("virtual_clips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_virtual_clips_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_virtual_clips_source_id"), ["source_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_virtual_clips_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "clip_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("clip_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                name="export_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("key", sa.String(length=1024), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clip_id"],
            ["virtual_clips.id"],
            name=op.f("fk_clip_exports_clip_id_virtual_clips"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_clip_exports_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_clip_exports_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip_exports")),
        sa.UniqueConstraint("clip_id", name=op.f("uq_clip_exports_clip_id")),
    )
    with op.batch_alter_table("clip_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clip_exports_source_id"), ["source_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_clip_exports_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frame_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("frame_rate", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("cut_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "proxy_status",
                sa.Enum(
                    "none",
                    "pending",
                    "building",
                    "ready",
                    "failed",
                    name="proxy_status",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=False,
                server_default="none",
            )
        )
        batch_op.add_column(sa.Column("proxy_key", sa.String(length=1024), nullable=True))
        batch_op.add_column(
            sa.Column("proxy_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("proxy_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("proxy_error")
        batch_op.drop_column("proxy_claimed_at")
        batch_op.drop_column("proxy_key")
        # SQLite keeps the enum's CHECK on a rebuilt table unless it is dropped with it.
        batch_op.drop_constraint(batch_op.f("ck_sources_proxy_status"), type_="check")
        batch_op.drop_column("proxy_status")
        batch_op.drop_column("cut_version")
        batch_op.drop_column("frame_rate")
        batch_op.drop_column("frame_count")

    with op.batch_alter_table("clip_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clip_exports_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_clip_exports_source_id"))

    op.drop_table("clip_exports")
    with op.batch_alter_table("virtual_clips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_virtual_clips_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_virtual_clips_source_id"))
        batch_op.drop_index(batch_op.f("ix_virtual_clips_group_id"))

    op.drop_table("virtual_clips")
    with op.batch_alter_table("cut_edits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cut_edits_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_cut_edits_user_id"))
        batch_op.drop_index(batch_op.f("ix_cut_edits_source_id"))

    op.drop_table("cut_edits")
    with op.batch_alter_table("clip_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clip_groups_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_clip_groups_source_id"))

    op.drop_table("clip_groups")
