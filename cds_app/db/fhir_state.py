"""DB-backed ``SeenStore`` and ``CursorStore`` for the FHIR adapter's processor and poller."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from cds_app.db.tables import FhirCursorRow, FhirSeenRow


class DbSeenStore:
    """The last ingested version of each EHR resource."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def version_of(self, ref: str) -> str | None:
        """The version last ingested for ``ref`` (``Observation/<id>``), if any."""
        with Session(self._engine) as session:
            row = session.get(FhirSeenRow, ref)
            return row.version_id if row else None

    def remember(self, ref: str, version_id: str) -> None:
        """Record that ``version_id`` of ``ref`` was ingested."""
        with Session(self._engine) as session:
            row = session.get(FhirSeenRow, ref) or FhirSeenRow(ref=ref, version_id=version_id)
            row.version_id = version_id
            session.add(row)
            session.commit()


class DbCursorStore:
    """Named high-water marks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, name: str) -> datetime | None:
        """The stored mark, if any."""
        with Session(self._engine) as session:
            row = session.get(FhirCursorRow, name)
            return row.value if row else None

    def set(self, name: str, value: datetime) -> None:
        """Store a mark."""
        with Session(self._engine) as session:
            row = session.get(FhirCursorRow, name) or FhirCursorRow(name=name, value=value)
            row.value = value
            session.add(row)
            session.commit()
