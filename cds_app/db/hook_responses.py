"""One answer per client and hookInstance: a repeated call gets the first answer again.

The answer is stored in the same transaction as the prediction, its RiskAssessment outbox row,
the issued cards and the audit event, under a unique ``(service, issuer, hookInstance)``. So when
duplicates race (on one replica or several sharing PostgreSQL) exactly one transaction commits;
the others roll back whole and return the committed answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete
from sqlmodel import Session, SQLModel, col, select

from cds_app.db.session import commit_unless_duplicate
from cds_app.db.tables import HookResponseRow
from cds_app.db.types import utcnow

RETENTION = timedelta(hours=24)


class HookResponses:
    """The ``hook_responses`` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, service_id: str, issuer: str, hook_instance: str) -> HookResponseRow | None:
        """The stored answer of one call, if any."""
        with Session(self._engine) as session:
            return session.exec(
                select(HookResponseRow)
                .where(HookResponseRow.service_id == service_id)
                .where(HookResponseRow.issuer == issuer)
                .where(HookResponseRow.hook_instance == hook_instance)
            ).first()

    @staticmethod
    def row(
        service_id: str, issuer: str, hook_instance: str, patient_id: str, response: dict[str, Any]
    ) -> HookResponseRow:
        """A row to commit together with the call's other rows."""
        return HookResponseRow(
            service_id=service_id,
            issuer=issuer,
            hook_instance=hook_instance,
            patient_id=patient_id,
            response=response,
        )

    def add(self, rows: list[SQLModel]) -> bool:
        """Commit ``rows`` (one HookResponseRow among them); False if the call was answered."""
        return commit_unless_duplicate(self._engine, rows)

    def purge(self, now: datetime | None = None, keep: timedelta = RETENTION) -> int:
        """Forget answers older than ``keep``; return how many."""
        cutoff = (now or utcnow()) - keep
        with Session(self._engine) as session:
            result = session.exec(
                delete(HookResponseRow).where(col(HookResponseRow.created_at) < cutoff)
            )
            session.commit()
            return int(result.rowcount)
