"""stream events: what a live stream told its watchers (events, clips, status changes)

One row per message, numbered per monitor (``seq``), so that any Serve replica can serve a
stream's event feed and a client resumes after the last one it saw; pruned to the newest
``CLIPRAY_STREAM_EVENTS_KEEP`` per monitor by the worker that writes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stream_events",
        sa.Column("monitor_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.Enum("event", "clip", "status", name="stream_event_type",
                                  native_enum=False, create_constraint=True, length=16),
                  nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["stream_monitors.id"],
                                name=op.f("fk_stream_events_monitor_id_stream_monitors"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "seq", name=op.f("pk_stream_events")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("stream_events")
