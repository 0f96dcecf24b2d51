"""fhir_event_marks: highest notification event number per subscription (gap detection).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_event_marks",
        sa.Column("subscription", sa.String(length=300), nullable=False),
        sa.Column("last_event", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subscription"),
    )


def downgrade() -> None:
    op.drop_table("fhir_event_marks")
