"""stream clips: generated clips of kind ``stream`` and the stream window each one is

``generated_clips.kind`` accepts ``stream``; ``stream_clips`` holds one row per stream clip,
unique per monitor and window key (a recreated worker never records a moment twice).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KIND = ("heuristic", "llm-ranked", "highlight-reel")
NEW_KIND = (*OLD_KIND, "stream")


def _enum(values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name="generated_kind", native_enum=False, create_constraint=True,
                   length=16)  # fmt: skip


def _swap_kind(old: Sequence[str], new: Sequence[str]) -> None:
    """Replace the VARCHAR+CHECK enum: drop the check, then add the new one."""
    with op.batch_alter_table("generated_clips") as b:
        b.alter_column("kind", type_=sa.String(16), existing_type=_enum(old),
                       existing_nullable=False)  # fmt: skip
    with op.batch_alter_table("generated_clips") as b:
        b.alter_column("kind", type_=_enum(new), existing_type=sa.String(16),
                       existing_nullable=False)  # fmt: skip


def upgrade() -> None:
    _swap_kind(OLD_KIND, NEW_KIND)
    op.create_table(
        "stream_clips",
        sa.Column("generated_clip_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("window_key", sa.String(length=128), nullable=False),
        sa.Column("stream_start", sa.Float(), nullable=False),
        sa.Column("stream_end", sa.Float(), nullable=False),
        sa.Column("received_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["generated_clip_id"], ["generated_clips.id"],
                                name=op.f("fk_stream_clips_generated_clip_id_generated_clips"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["monitor_id"], ["stream_monitors.id"],
                                name=op.f("fk_stream_clips_monitor_id_stream_monitors"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_stream_clips_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("generated_clip_id", name=op.f("pk_stream_clips")),
        sa.UniqueConstraint("monitor_id", "window_key", name="uq_stream_clips_monitor_window"),
    )  # fmt: skip
    with op.batch_alter_table("stream_clips") as b:
        b.create_index(b.f("ix_stream_clips_monitor_id"), ["monitor_id"], unique=False)
        b.create_index(b.f("ix_stream_clips_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stream_clips") as b:
        b.drop_index(b.f("ix_stream_clips_workspace_id"))
        b.drop_index(b.f("ix_stream_clips_monitor_id"))
    op.drop_table("stream_clips")
    # Stream clips have no kind to go back to: their generated rows go with them.
    generated = sa.table("generated_clips", sa.column("kind", sa.String))
    op.execute(generated.delete().where(generated.c.kind == "stream"))
    _swap_kind(NEW_KIND, OLD_KIND)
