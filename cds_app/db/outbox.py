"""Durable outbox of writes to the EHR, on the ``outbox`` table.

Implements ``fhir_adapter.outbox.Outbox`` (enqueue / due / mark_delivered / mark_retry /
mark_failed); the retry policy itself lives once, in ``fhir_adapter.writer.drain_outbox``.

``due`` CLAIMS what it returns: it leases each row (``lease_until``) with a conditional UPDATE
that succeeds only when nobody else leased it meanwhile, so several workers can share the table.
On PostgreSQL the candidate query takes ``FOR UPDATE SKIP LOCKED`` so concurrent workers do not
even contend for the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cds_app.db.session import NewRow, new_row
from cds_app.db.tables import OutboxRow
from cds_app.db.types import utcnow
from fhir_adapter.outbox import OutboxItem

DEFAULT_LEASE_S = 120.0


class DbOutbox:
    """The outbox table behind the ``Outbox`` protocol."""

    def __init__(self, engine: Engine, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        self._engine = engine
        self._lease_s = lease_s
        self._skip_locked = engine.dialect.name == "postgresql"

    @staticmethod
    def row(kind: str, payload: dict[str, Any], dedup_key: str) -> NewRow:
        """An outbox row to add inside a caller's transaction (dedup key must be new)."""
        return new_row(OutboxRow, kind=kind, dedup_key=dedup_key, payload=payload)

    def enqueue(
        self, kind: str, payload: dict[str, Any], dedup_key: str, now: datetime | None = None
    ) -> str:
        """Queue one write; an existing row with the same ``dedup_key`` is reused (its id)."""
        stamp = now or utcnow()
        with Session(self._engine) as session:
            row = OutboxRow(
                kind=kind,
                dedup_key=dedup_key,
                payload=payload,
                created_at=stamp,
                next_attempt_at=stamp,
            )
            session.add(row)
            try:
                session.commit()
                session.refresh(row)
                return str(row.id)
            except IntegrityError:
                session.rollback()
            existing = session.exec(select(OutboxRow).where(OutboxRow.dedup_key == dedup_key)).one()
            return str(existing.id)

    def candidates(self, now: datetime, limit: int) -> Select[Any]:
        """Due, unleased rows, oldest first (locked and skipped-if-locked on PostgreSQL)."""
        query: Select[Any] = (
            select(OutboxRow.id)
            .where(col(OutboxRow.status) == "pending")
            .where(col(OutboxRow.next_attempt_at) <= now)
            .where(or_(col(OutboxRow.lease_until).is_(None), col(OutboxRow.lease_until) < now))
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        return query

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """Claim (lease) and return up to ``limit`` rows due at ``now``."""
        lease_until = now + timedelta(seconds=self._lease_s)
        claimed: list[OutboxItem] = []
        with Session(self._engine) as session:
            ids = list(session.execute(self.candidates(now, limit)).scalars())
            for row_id in ids:
                result = session.exec(
                    update(OutboxRow)
                    .where(col(OutboxRow.id) == row_id)
                    .where(
                        or_(col(OutboxRow.lease_until).is_(None), col(OutboxRow.lease_until) < now)
                    )
                    .values(lease_until=lease_until)
                )
                if result.rowcount != 1:
                    continue
                row = session.get(OutboxRow, row_id)
                assert row is not None
                claimed.append(
                    OutboxItem(
                        id=str(row_id),
                        kind=row.kind,
                        payload=dict(row.payload),
                        dedup_key=row.dedup_key,
                        created_at=row.created_at,
                        next_attempt_at=row.next_attempt_at,
                        attempts=row.attempts,
                        last_error=row.last_error or "",
                    )
                )
            session.commit()
        return claimed

    def _settle(self, item_id: str, **values: Any) -> None:
        with Session(self._engine) as session:
            row = session.get(OutboxRow, int(item_id))
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.attempts += 1
            row.lease_until = None
            session.add(row)
            session.commit()

    def mark_delivered(self, item_id: str, location: str) -> None:
        """The write succeeded; ``location`` is the server's resource reference."""
        self._settle(item_id, status="delivered", result_id=location, delivered_at=utcnow())

    def mark_retry(self, item_id: str, error: str, next_attempt_at: datetime) -> None:
        """A transient failure: try again at ``next_attempt_at``."""
        self._settle(item_id, last_error=error[:1000], next_attempt_at=next_attempt_at)

    def mark_failed(self, item_id: str, error: str) -> None:
        """A permanent failure: the row is kept as dead for inspection."""
        self._settle(item_id, status="dead", last_error=error[:1000])

    def rows(self, status: str | None = None) -> list[OutboxRow]:
        """Rows (optionally in one status), oldest first."""
        with Session(self._engine) as session:
            query = select(OutboxRow)
            if status is not None:
                query = query.where(OutboxRow.status == status)
            return list(session.exec(query.order_by(col(OutboxRow.id))).all())
