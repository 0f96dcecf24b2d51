"""Tables of the scale-out components (SQLAlchemy Core, on their own metadata).

They are created by migration ``0002_scaleout``; keeping them off ``SQLModel.metadata`` leaves the
application's autogenerate baseline untouched.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from cds_app.db.types import UtcDateTime

metadata = MetaData()

#: Who processes which spooled DICOM instance (listener replicas sharing one spool).
spool_claims = Table(
    "spool_claims",
    metadata,
    Column("uid", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # claimed | released | done
    Column("holder", String(128), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime(), nullable=False),
)

#: When each patient's debounced rescoring is due (shared by API replicas).
debounce_due = Table(
    "debounce_due",
    metadata,
    Column("patient_key", String(300), primary_key=True),
    Column("due_at", UtcDateTime(), nullable=False),
)
