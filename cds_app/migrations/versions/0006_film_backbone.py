"""Films record the film backbone (a site's foundation model) that made their embedding.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("backbone", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.drop_column("backbone")
