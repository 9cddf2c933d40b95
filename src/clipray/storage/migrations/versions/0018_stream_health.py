"""stream health: the worker's last health report on its monitor

``stream_monitors.health`` (JSON: buffer, ingest and transcript lag, as
``domain.streams.StreamHealth``) and ``health_at``, both nullable: a monitor whose worker
has not reported has none.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stream_monitors") as b:
        b.add_column(sa.Column("health", sa.JSON(), nullable=True))
        b.add_column(sa.Column("health_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stream_monitors") as b:
        b.drop_column("health_at")
        b.drop_column("health")
