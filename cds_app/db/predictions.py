"""Every prediction the engine makes, and the history the cards and the page read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Select, bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from cds_app.db.session import (
    Insert,
    NewRow,
    insert_into,
    insert_rows,
    new_row,
    reading,
    table_of,
    writing,
)
from cds_app.db.tables import PredictionRow
from model.schemas import (
    BedsideReading,
    Driver,
    EhrFlag,
    FilmNotUsed,
    PatientKey,
    RiskLevel,
    RiskPrediction,
)


@dataclass(frozen=True, slots=True)
class PriorAssessment:
    """A previous current prediction as a card compares with it: when, and what risk."""

    as_of: datetime
    probability: float


class PredictionRepository:
    """Records predictions and reads them back as domain objects."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        prediction: RiskPrediction,
        *,
        trigger: str = "",
        also: Callable[[int], Sequence[Insert]] | None = None,
        connection: Connection | None = None,
    ) -> int:
        """Persist one prediction, plus the rows ``also(prediction_id)`` returns, atomically:
        Core inserts in one transaction, committed here or, on the caller's ``connection``, by
        the caller."""
        values = _row(prediction, trigger).values
        with writing(self._engine, connection) as db:
            key = db.execute(insert_into(table_of(PredictionRow)), values).inserted_primary_key
            assert key is not None
            prediction_id = int(key[0])
            if also is not None:
                insert_rows(db, also(prediction_id))
        return prediction_id

    def record_backfill(self, predictions: Sequence[RiskPrediction]) -> int:
        """Persist backfilled predictions (trend only: no outbox, no cards) in one transaction."""
        rows = [_row(p, "backfill") for p in predictions if p.backfilled]
        if rows:
            with self._engine.begin() as connection:
                insert_rows(connection, rows)
        return len(rows)

    def latest(self, key: PatientKey, *, before: datetime | None = None) -> RiskPrediction | None:
        """The most recent current (not backfilled) prediction for ``key`` (strictly before
        ``before`` when given)."""
        with Session(self._engine) as session:
            query = select(PredictionRow).where(PredictionRow.patient_key == str(key))
            query = query.where(col(PredictionRow.backfilled).is_(False))
            if before is not None:
                query = query.where(PredictionRow.as_of < before)
            row = session.exec(
                query.order_by(col(PredictionRow.as_of).desc(), col(PredictionRow.id).desc()).limit(
                    1
                )
            ).first()
        return to_prediction(row) if row else None

    def prior(
        self, key: PatientKey, *, before: datetime, connection: Connection | None = None
    ) -> PriorAssessment | None:
        """``as_of`` and probability of the most recent current prediction for ``key`` strictly
        before ``before`` (what :meth:`latest` would return, two columns read)."""
        with reading(self._engine, connection) as db:
            row = db.execute(_PRIOR, {"key": str(key), "before": before}).first()
        return PriorAssessment(row.as_of, row.probability) if row is not None else None

    def get(self, prediction_id: int) -> RiskPrediction | None:
        """One current prediction by row id (backfilled ones are not assessments of record)."""
        with Session(self._engine) as session:
            row = session.get(PredictionRow, prediction_id)
        return to_prediction(row) if row and not row.backfilled else None

    def ids_for(self, key: PatientKey, limit: int = 100) -> list[int]:
        """Row ids of the most recent current predictions of ``key``, newest first."""
        with Session(self._engine) as session:
            ids = session.exec(
                select(PredictionRow.id)
                .where(PredictionRow.patient_key == str(key))
                .where(col(PredictionRow.backfilled).is_(False))
                .order_by(col(PredictionRow.as_of).desc(), col(PredictionRow.id).desc())
                .limit(limit)
            ).all()
        return [i for i in ids if i is not None]

    def history(self, key: PatientKey, since: datetime) -> list[RiskPrediction]:
        """Predictions for ``key`` from ``since`` on, backfilled ones included (marked), oldest
        first (one per as_of: the last)."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(PredictionRow)
                .where(PredictionRow.patient_key == str(key))
                .where(PredictionRow.as_of >= since)
                .order_by(col(PredictionRow.as_of), col(PredictionRow.id))
            ).all()
        by_time: dict[datetime, RiskPrediction] = {}
        for row in rows:
            by_time[row.as_of] = to_prediction(row)
        return list(by_time.values())


def _prior_query() -> Select[Any]:
    """The query of :meth:`PredictionRepository.prior`, built once (bound: ``key``, ``before``)."""
    table = table_of(PredictionRow)
    return (
        select_columns(table.c.as_of, table.c.probability)
        .where(table.c.patient_key == bindparam("key"))
        .where(table.c.backfilled.is_(False))
        .where(table.c.as_of < bindparam("before"))
        .order_by(table.c.as_of.desc(), table.c.id.desc())
        .limit(1)
    )


_PRIOR = _prior_query()


def to_prediction(row: PredictionRow) -> RiskPrediction:
    """The domain prediction of a stored row."""
    return RiskPrediction(
        patient_key=PatientKey.parse(row.patient_key),
        as_of=row.as_of,
        probability=row.probability,
        horizon_h=row.horizon_h,
        level=RiskLevel(row.level),
        model_id=row.model_id,
        model_version=row.model_version,
        image_weight=row.image_weight,
        film_age_h=row.film_age_h,
        film_sop_instance_uid=row.film_sop_instance_uid,
        probability_without_film=row.probability_without_film,
        drivers=tuple(Driver.model_validate(d) for d in row.drivers),
        basis_ids=tuple(row.basis_ids),
        reference_probability=row.reference_probability,
        film_not_used=FilmNotUsed.model_validate(row.film_not_used) if row.film_not_used else None,
        ehr_flags=tuple(EhrFlag.model_validate(f) for f in row.ehr_flags or ()),
        bedside=BedsideReading.model_validate(row.bedside) if row.bedside else None,
        backfilled=bool(row.backfilled),
    )


def _row(prediction: RiskPrediction, trigger: str) -> NewRow:
    return new_row(
        PredictionRow,
        patient_key=str(prediction.patient_key),
        as_of=prediction.as_of,
        probability=prediction.probability,
        level=prediction.level.value,
        horizon_h=prediction.horizon_h,
        model_id=prediction.model_id,
        model_version=prediction.model_version,
        image_weight=prediction.image_weight,
        film_age_h=prediction.film_age_h,
        film_sop_instance_uid=prediction.film_sop_instance_uid,
        probability_without_film=prediction.probability_without_film,
        drivers=[d.model_dump() for d in prediction.drivers],
        basis_ids=list(prediction.basis_ids),
        trigger=trigger,
        reference_probability=prediction.reference_probability,
        film_not_used=_dump(prediction.film_not_used),
        ehr_flags=[f.model_dump(mode="json") for f in prediction.ehr_flags],
        bedside=_dump(prediction.bedside),
        backfilled=prediction.backfilled,
    )


def _dump(value: BaseModel | None) -> dict[str, Any] | None:
    return value.model_dump(mode="json") if value is not None else None
