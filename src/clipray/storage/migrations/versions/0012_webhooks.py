"""webhooks: subscriptions, deliveries, inbound events and nonces

Outbound deliveries are queued rows the job runner claims (status, attempt, not_before);
inbound requests are recorded with their outcome, and the nonces seen are kept until their
timestamps leave the window.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERY = ("pending", "running", "delivered", "failed")
_OUTCOME = ("accepted", "bad_signature", "stale", "replayed")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_webhook_subscriptions_created_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"],
                                name=op.f("fk_webhook_subscriptions_workspace_id_workspaces"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )  # fmt: skip
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_subscriptions_workspace_id"),
                              ["workspace_id"], unique=False)  # fmt: skip
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum(*_DELIVERY, name="delivery_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )  # fmt: skip
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_not_before"), ["not_before"],
                              unique=False)  # fmt: skip
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_status"), ["status"],
                              unique=False)  # fmt: skip
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_subscription_id"),
                              ["subscription_id"], unique=False)  # fmt: skip
    op.create_table(
        "webhook_inbound",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.Enum(*_OUTCOME, name="inbound_outcome", native_enum=False,
                                     create_constraint=True, length=16), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbound")),
    )  # fmt: skip
    with op.batch_alter_table("webhook_inbound", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_inbound_platform"), ["platform"],
                              unique=False)  # fmt: skip
        batch_op.create_index(batch_op.f("ix_webhook_inbound_received_at"), ["received_at"],
                              unique=False)  # fmt: skip
    op.create_table(
        "webhook_nonces",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "nonce", name=op.f("pk_webhook_nonces")),
    )
    with op.batch_alter_table("webhook_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_nonces_expires_at"), ["expires_at"],
                              unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_table("webhook_nonces")
    op.drop_table("webhook_inbound")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
