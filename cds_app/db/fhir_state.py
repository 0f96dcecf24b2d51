"""DB-backed ``SeenStore``, ``CursorStore`` and ``EventNumberStore`` for the FHIR adapter."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cds_app import CdsAppError
from cds_app.db.tables import FhirCursorRow, FhirEventMarkRow, FhirSeenRow


class DbSeenStore:
    """The last ingested version of each EHR resource."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def versions_of(self, refs: Collection[str]) -> dict[str, str]:
        """The version last ingested for each of ``refs`` (``Observation/<id>``) seen, one query."""
        if not refs:
            return {}
        with Session(self._engine) as session:
            rows = session.exec(select(FhirSeenRow).where(col(FhirSeenRow.ref).in_(list(refs))))
            return {row.ref: row.version_id for row in rows}

    def remember(self, versions: Mapping[str, str]) -> None:
        """Record each ``ref -> version`` as ingested, in one transaction."""
        if not versions:
            return
        with Session(self._engine) as session:
            query = select(FhirSeenRow).where(col(FhirSeenRow.ref).in_(list(versions)))
            rows = {row.ref: row for row in session.exec(query)}
            for ref, version_id in versions.items():
                row = rows.get(ref) or FhirSeenRow(ref=ref, version_id=version_id)
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


class DbEventNumberStore:
    """Highest notification event number per subscription, shared by restarts and replicas."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def advance(self, subscription: str, highest: int) -> int | None:
        """Raise the mark to ``highest``; return the mark before (None: first event).

        The raise is one conditional UPDATE, so concurrent writers never lower the mark; the row
        lock (PostgreSQL) also makes the returned "before" exact there.
        """
        raise_mark = (
            update(FhirEventMarkRow)
            .where(col(FhirEventMarkRow.subscription) == subscription)
            .where(col(FhirEventMarkRow.last_event) < highest)
            .values(last_event=highest)
        )
        for _ in range(2):  # a replica may insert the first mark concurrently: update it then
            with Session(self._engine) as session:
                row = session.get(FhirEventMarkRow, subscription, with_for_update=True)
                if row is None:
                    session.add(FhirEventMarkRow(subscription=subscription, last_event=highest))
                    try:
                        session.commit()
                    except IntegrityError:
                        session.rollback()
                        continue
                    return None
                before = row.last_event
                session.execute(raise_mark)
                session.commit()
                return before
        raise CdsAppError(f"could not record the event mark of {subscription!r}")
