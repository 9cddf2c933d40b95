"""connected accounts and OAuth states

Platform accounts connected to a workspace for publishing (tokens as Fernet ciphertext with
the id of the key that encrypted them) and the single-use, short-lived states of consent
flows in progress.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = ("active", "needs_reconnect", "revoked")


def upgrade() -> None:
    op.create_table(
        "connected_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("connected_by", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_account_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum(*_STATUS, name="connection_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_version", sa.String(length=16), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connected_by"], ["users.id"],
            name=op.f("fk_connected_accounts_connected_by_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name=op.f("fk_connected_accounts_workspace_id_workspaces"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connected_accounts")),
        sa.UniqueConstraint("workspace_id", "platform", "platform_account_id",
                            name="uq_connected_accounts_workspace_platform_account"),
    )  # fmt: skip
    with op.batch_alter_table("connected_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connected_accounts_connected_by"), ["connected_by"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_connected_accounts_workspace_id"), ["workspace_id"], unique=False
        )
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("verifier_enc", sa.Text(), nullable=True),
        sa.Column("key_version", sa.String(length=16), nullable=True),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_oauth_states_user_id_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"],
            name=op.f("fk_oauth_states_workspace_id_workspaces"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )  # fmt: skip
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_oauth_states_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_oauth_states_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_expires_at"))
    op.drop_table("oauth_states")
    with op.batch_alter_table("connected_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connected_accounts_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_connected_accounts_connected_by"))
    op.drop_table("connected_accounts")
