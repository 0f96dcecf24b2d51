"""Predictions carry the applicability guard, bedside reading, driver reference and a backfill
mark; films keep the appearance statistics the guard compares.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("reference_probability", sa.Float(), nullable=True))
        batch.add_column(sa.Column("film_not_used", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ehr_flags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("bedside", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("backfilled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("appearance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.drop_column("appearance")
    with op.batch_alter_table("predictions") as batch:
        for name in (
            "backfilled",
            "bedside",
            "ehr_flags",
            "film_not_used",
            "reference_probability",
        ):
            batch.drop_column(name)
