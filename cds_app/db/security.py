"""Replay cache for JWT ``jti``, issued cards, feedback and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from cds_app.db.session import commit_unless_duplicate, new_row
from cds_app.db.tables import AuditRow, FeedbackRow, IssuedCardRow, JtiRow
from cds_app.db.types import utcnow


class DbReplayCache:
    """``jti`` replay protection in the database (shared by all replicas on PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_use(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Remember ``(iss, jti)`` until ``expires_at``; False if it was already seen."""
        return commit_unless_duplicate(
            self._engine, [new_row(JtiRow, iss=iss, jti=jti, expires_at=expires_at)]
        )

    def purge(self, now: datetime | None = None) -> int:
        """Forget expired entries; return how many."""
        with Session(self._engine) as session:
            result = session.exec(delete(JtiRow).where(col(JtiRow.expires_at) < (now or utcnow())))
            session.commit()
            return int(result.rowcount)


class CardLog:
    """Cards handed out, their feedback, and who viewed what."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def card(self, uuid: str) -> IssuedCardRow | None:
        """An issued card by uuid."""
        with Session(self._engine) as session:
            return session.get(IssuedCardRow, uuid)

    def add_feedback(self, rows: list[FeedbackRow]) -> None:
        """Persist feedback entries."""
        with Session(self._engine) as session:
            session.add_all(rows)
            session.commit()

    def feedback(self, card_uuid: str) -> list[FeedbackRow]:
        """Feedback received for one card."""
        with Session(self._engine) as session:
            return list(
                session.exec(select(FeedbackRow).where(FeedbackRow.card_uuid == card_uuid)).all()
            )

    def audit(self, actor: str, action: str, patient_key: str | None, detail: str = "") -> None:
        """Append one audit event."""
        with Session(self._engine) as session:
            session.add(
                AuditRow(actor=actor, action=action, patient_key=patient_key, detail=detail)
            )
            session.commit()

    def audit_events(self, **filters: Any) -> list[AuditRow]:
        """Audit events matching equality filters, oldest first."""
        with Session(self._engine) as session:
            query = select(AuditRow)
            for name, value in filters.items():
                query = query.where(getattr(AuditRow, name) == value)
            return list(session.exec(query.order_by(col(AuditRow.id))).all())
