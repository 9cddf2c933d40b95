"""clip review: a rendered clip's place in review (pending_review, approved, skipped,
archived), the same states a virtual clip has, so the studio reviews a job's clips.

Existing clips start as ``pending_review``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVIEW = ("pending_review", "approved", "skipped", "archived")


def upgrade() -> None:
    with op.batch_alter_table("clips") as b:
        b.add_column(sa.Column(
            "review",
            sa.Enum(*REVIEW, name="review_status", native_enum=False, create_constraint=True,
                    length=16),
            nullable=False,
            server_default="pending_review",
        ))  # fmt: skip
        b.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as b:
        b.drop_constraint(op.f("ck_clips_review_status"), type_="check")
        b.drop_column("reviewed_at")
        b.drop_column("review")
