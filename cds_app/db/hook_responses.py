"""One answer per client and hookInstance: a repeated call gets the first answer again.

The answer is stored in the same transaction as the prediction, its RiskAssessment outbox row,
the issued cards and the audit event, under a unique ``(service, issuer, hookInstance)``. So when
duplicates race (on one replica or several sharing PostgreSQL) exactly one transaction commits;
the others roll back whole and return the committed answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, bindparam, delete
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from cds_app.db.session import NewRow, new_row, table_of
from cds_app.db.tables import HookResponseRow
from cds_app.db.types import utcnow

RETENTION = timedelta(hours=24)


def _answer_query() -> Select[Any]:
    """The query of :meth:`HookResponses.get`, built once (bound: ``service_id``, ``issuer``,
    ``hook_instance``)."""
    table = table_of(HookResponseRow)
    return select_columns(table).where(
        table.c.service_id == bindparam("service_id"),
        table.c.issuer == bindparam("issuer"),
        table.c.hook_instance == bindparam("hook_instance"),
    )


_ANSWER = _answer_query()


class HookResponses:
    """The ``hook_responses`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, service_id: str, issuer: str, hook_instance: str) -> HookResponseRow | None:
        """The stored answer of one call, if any."""
        key = {"service_id": service_id, "issuer": issuer, "hook_instance": hook_instance}
        with self._engine.connect() as connection:
            row = connection.execute(_ANSWER, key).first()
        return HookResponseRow(**row._mapping) if row is not None else None

    @staticmethod
    def row(
        service_id: str, issuer: str, hook_instance: str, patient_id: str, response: dict[str, Any]
    ) -> NewRow:
        """A row to commit together with the call's other rows."""
        return new_row(
            HookResponseRow,
            service_id=service_id,
            issuer=issuer,
            hook_instance=hook_instance,
            patient_id=patient_id,
            response=response,
        )

    def purge(self, now: datetime | None = None, keep: timedelta = RETENTION) -> int:
        """Forget answers older than ``keep``; return how many."""
        cutoff = (now or utcnow()) - keep
        with Session(self._engine) as session:
            result = session.exec(
                delete(HookResponseRow).where(col(HookResponseRow.created_at) < cutoff)
            )
            session.commit()
            return int(result.rowcount)
