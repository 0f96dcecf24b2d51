"""The clinical store: measurements, films and patients; implements the model's sinks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    bindparam,
    func,
    or_,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cds_app.db.session import reading, table_of
from cds_app.db.tables import FilmRow, MeasurementRow, PatientRow, RejectedFilmRow
from model.ports import Pseudonymiser, redacted_patient
from model.schemas import (
    BackboneIdentity,
    ChestFilm,
    FilmAppearance,
    FilmView,
    Measurement,
    PatientKey,
    PatientWindow,
    StaticInfo,
)

log = logging.getLogger(__name__)


class Store:
    """Synchronous, thread-safe repository over one SQLAlchemy engine.

    Implements ``model.ports.MeasurementSink`` and ``model.ports.FilmSink``.
    """

    def __init__(self, engine: Engine, *, pseudonymise: Pseudonymiser = redacted_patient) -> None:
        self._engine = engine
        self._pseudonymise = pseudonymise

    # -- measurements ---------------------------------------------------------------------------
    def add_measurements(self, measurements: Sequence[Measurement]) -> int:
        """Store new measurements (idempotent on ``source_id``); return how many were new."""
        if not measurements:
            return 0
        new = 0
        with Session(self._engine) as session:
            ids = [m.source_id for m in measurements if m.source_id]
            seen: set[str] = set()
            if ids:
                found = session.exec(
                    select(MeasurementRow.source_id).where(col(MeasurementRow.source_id).in_(ids))
                ).all()
                seen = {s for s in found if s}
            for m in measurements:
                if m.source_id and m.source_id in seen:
                    continue
                if m.source_id:
                    seen.add(m.source_id)
                session.add(_measurement_row(m))
                new += 1
            try:
                session.commit()
            except IntegrityError:  # a concurrent writer stored some of them: go one by one
                session.rollback()
                return self._add_one_by_one(measurements)
        return new

    def _add_one_by_one(self, measurements: Sequence[Measurement]) -> int:
        new = 0
        for m in measurements:
            with Session(self._engine) as session:
                session.add(_measurement_row(m))
                try:
                    session.commit()
                    new += 1
                except IntegrityError:
                    session.rollback()
        return new

    def retract(self, source_ids: Sequence[str]) -> int:
        """Withdraw measurements whose source was entered in error; return how many.

        ``Observation/<id>`` withdraws every version and component of that Observation
        (``Observation/<id>/_history/<v>[#<variable>]``).
        """
        if not source_ids:
            return 0
        with Session(self._engine) as session:
            result = session.exec(
                update(MeasurementRow)
                .where(_source_matches(source_ids))
                .where(col(MeasurementRow.retracted).is_(False))
                .values(retracted=True)
            )
            session.commit()
            return int(result.rowcount)

    def patients_of_sources(self, source_ids: Sequence[str]) -> list[PatientKey]:
        """Patients whose measurements carry these source ids (to rescore after a retraction)."""
        with Session(self._engine) as session:
            keys = session.exec(
                select(MeasurementRow.patient_key).where(_source_matches(source_ids)).distinct()
            ).all()
        return [PatientKey.parse(k) for k in keys]

    # -- films ----------------------------------------------------------------------------------
    def add_film(self, film: ChestFilm, thumbnail_png: bytes | None = None) -> bool:
        """Store a processed chest film (idempotent on SOP Instance UID); True if new."""
        with Session(self._engine) as session:
            exists = session.exec(
                select(FilmRow.id).where(FilmRow.sop_instance_uid == film.sop_instance_uid)
            ).first()
            if exists is not None:
                return False
            session.add(
                FilmRow(
                    sop_instance_uid=film.sop_instance_uid,
                    study_instance_uid=film.study_instance_uid,
                    patient_key=str(film.patient_key),
                    acquired_at=film.acquired_at,
                    view=film.view.value,
                    embedding=list(film.embedding) if film.embedding is not None else None,
                    embedding_model=film.embedding_model,
                    appearance=film.appearance.model_dump() if film.appearance else None,
                    backbone=film.backbone.model_dump() if film.backbone else None,
                    thumbnail_png=thumbnail_png,
                    source=film.source,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        log.info(
            "film %s stored for %s", film.sop_instance_uid, self._pseudonymise(film.patient_key)
        )
        return True

    def record_rejected_film(
        self, sop_instance_uid: str, reason: str, patient_key: PatientKey | None
    ) -> None:
        """Record an instance that is not scored (not a chest film, unreadable, ...)."""
        with Session(self._engine) as session:
            session.add(
                RejectedFilmRow(
                    sop_instance_uid=sop_instance_uid,
                    reason=reason[:500],
                    patient_key=str(patient_key) if patient_key else None,
                )
            )
            session.commit()

    def latest_film_row(self, patient_key: PatientKey, as_of: datetime) -> FilmRow | None:
        """The most recent film acquired at or before ``as_of``."""
        with Session(self._engine) as session:
            return session.exec(
                select(FilmRow)
                .where(FilmRow.patient_key == str(patient_key))
                .where(FilmRow.acquired_at <= as_of)
                .order_by(col(FilmRow.acquired_at).desc())
                .limit(1)
            ).first()

    def film_by_uid(self, sop_instance_uid: str) -> FilmRow | None:
        """One film by SOP Instance UID."""
        with Session(self._engine) as session:
            return session.exec(
                select(FilmRow).where(FilmRow.sop_instance_uid == sop_instance_uid)
            ).first()

    def films(self, key: PatientKey, as_of: datetime, max_age_h: float) -> tuple[ChestFilm, ...]:
        """Films of ``key`` acquired in ``[as_of - max_age_h, as_of]``, oldest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(FilmRow)
                .where(FilmRow.patient_key == str(key))
                .where(FilmRow.acquired_at >= as_of - timedelta(hours=max_age_h))
                .where(FilmRow.acquired_at <= as_of)
                .order_by(col(FilmRow.acquired_at))
            ).all()
        return tuple(film_from_row(f) for f in rows)

    def recent_films(
        self,
        key: PatientKey,
        as_of: datetime,
        max_age_h: float,
        *,
        connection: Connection | None = None,
    ) -> tuple[tuple[ChestFilm, ...], datetime | None]:
        """:meth:`films` and the acquisition time of the latest film at or before ``as_of``
        (however old), in one query; thumbnails are not read (on the caller's ``connection``
        when given)."""
        since = as_of - timedelta(hours=max_age_h)
        with reading(self._engine, connection) as db:
            rows = db.execute(
                _RECENT_FILMS, {"key": str(key), "as_of": as_of, "since": since}
            ).all()
        films = tuple(film_from_row(f) for f in rows if f.acquired_at >= since)
        return films, (rows[-1].acquired_at if rows else None)

    # -- patients -------------------------------------------------------------------------------
    def upsert_patient(
        self, key: PatientKey, *, fhir_id: str | None = None, static: StaticInfo | None = None
    ) -> None:
        """Remember a patient's FHIR id and static data (values given replace stored ones)."""
        with Session(self._engine) as session:
            row = session.get(PatientRow, str(key)) or PatientRow(patient_key=str(key))
            if fhir_id:
                row.fhir_id = fhir_id
            if static is not None:
                row.age_years = static.age_years if static.age_years is not None else row.age_years
                row.sex = static.sex or row.sex
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # created concurrently; good enough
                session.rollback()

    def patient(self, key: PatientKey) -> PatientRow | None:
        """The stored patient row, if any."""
        with Session(self._engine) as session:
            return session.get(PatientRow, str(key))

    def patient_by_fhir_id(self, fhir_id: str) -> PatientRow | None:
        """The patient known under this FHIR Patient id."""
        with Session(self._engine) as session:
            return session.exec(
                select(PatientRow).where(PatientRow.fhir_id == fhir_id).limit(1)
            ).first()

    # -- windows --------------------------------------------------------------------------------
    def window(
        self, key: PatientKey, as_of: datetime, *, lookback_h: float, film_max_age_h: float
    ) -> PatientWindow:
        """Everything stored for ``key`` in ``[as_of - lookback, as_of]`` (films: max age)."""
        start = as_of - timedelta(hours=lookback_h)
        film_start = as_of - timedelta(hours=film_max_age_h)
        with Session(self._engine) as session:
            rows = session.exec(
                select(MeasurementRow)
                .where(MeasurementRow.patient_key == str(key))
                .where(MeasurementRow.time >= start)
                .where(MeasurementRow.time <= as_of)
                .where(col(MeasurementRow.retracted).is_(False))
                .order_by(col(MeasurementRow.time))
            ).all()
            films = session.exec(
                select(FilmRow)
                .where(FilmRow.patient_key == str(key))
                .where(FilmRow.acquired_at >= film_start)
                .where(FilmRow.acquired_at <= as_of)
                .order_by(col(FilmRow.acquired_at))
            ).all()
            patient = session.get(PatientRow, str(key))
        return PatientWindow(
            patient_key=key,
            as_of=as_of,
            measurements=tuple(
                Measurement(
                    patient_key=key,
                    variable=r.variable,
                    value=r.value,
                    unit=r.unit,
                    time=r.time,
                    source_id=r.source_id or "",
                )
                for r in rows
            ),
            films=tuple(film_from_row(f) for f in films),
            static=StaticInfo(age_years=patient.age_years, sex=patient.sex)
            if patient
            else StaticInfo(),
        )


def _source_matches(source_ids: Sequence[str]) -> ColumnElement[bool]:
    column = col(MeasurementRow.source_id)
    return or_(
        column.in_(list(source_ids)),
        *(column.startswith(f"{ref}/", autoescape=True) for ref in source_ids),
    )


def _recent_films_query() -> Select[Any]:
    """The query of :meth:`Store.recent_films`, built once (bound per call: ``key``, ``as_of``,
    ``since``); every column but the thumbnail."""
    films = table_of(FilmRow)
    latest = (
        select_columns(func.max(films.c.acquired_at))
        .where(films.c.patient_key == bindparam("key"))
        .where(films.c.acquired_at <= bindparam("as_of"))
        .scalar_subquery()
    )
    return (
        select_columns(*(c for c in films.c if c.key != "thumbnail_png"))
        .where(films.c.patient_key == bindparam("key"))
        .where(films.c.acquired_at <= bindparam("as_of"))
        .where(or_(films.c.acquired_at >= bindparam("since"), films.c.acquired_at == latest))
        .order_by(films.c.acquired_at)
    )


_RECENT_FILMS = _recent_films_query()


def film_from_row(row: FilmRow | Row[Any]) -> ChestFilm:
    """The domain film of a stored row (embedding only; pixels are not kept)."""
    return ChestFilm(
        patient_key=PatientKey.parse(row.patient_key),
        acquired_at=row.acquired_at,
        sop_instance_uid=row.sop_instance_uid,
        study_instance_uid=row.study_instance_uid,
        view=FilmView(row.view) if row.view in FilmView.__members__.values() else FilmView.UNKNOWN,
        embedding=tuple(row.embedding) if row.embedding is not None else None,
        embedding_model=row.embedding_model,
        appearance=FilmAppearance.model_validate(row.appearance) if row.appearance else None,
        backbone=BackboneIdentity.model_validate(row.backbone) if row.backbone else None,
        source=row.source,
    )


def _measurement_row(m: Measurement) -> MeasurementRow:
    return MeasurementRow(
        patient_key=str(m.patient_key),
        variable=m.variable,
        value=m.value,
        unit=m.unit,
        time=m.time,
        source_id=m.source_id or None,
    )
