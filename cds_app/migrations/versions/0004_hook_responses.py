"""hook_responses (one answer per client and hookInstance) and issued_cards.issuer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hook_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("hook_instance", sa.String(length=128), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "issuer", "hook_instance"),
    )
    op.create_index("ix_hook_responses_created_at", "hook_responses", ["created_at"])
    with op.batch_alter_table("issued_cards") as batch:
        batch.add_column(
            sa.Column("issuer", sa.String(length=300), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("issued_cards") as batch:
        batch.drop_column("issuer")
    op.drop_index("ix_hook_responses_created_at", table_name="hook_responses")
    op.drop_table("hook_responses")
