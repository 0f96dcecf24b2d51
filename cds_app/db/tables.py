"""SQLModel tables (storage models; the API has its own models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from cds_app.db.types import UtcDateTime, utcnow


class PatientRow(SQLModel, table=True):
    __tablename__ = "patients"

    patient_key: str = Field(primary_key=True, max_length=300)
    fhir_id: str | None = Field(default=None, index=True, max_length=128)
    age_years: float | None = None
    sex: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class MeasurementRow(SQLModel, table=True):
    __tablename__ = "measurements"
    __table_args__ = (Index("ix_measurements_patient_time", "patient_key", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_key: str = Field(max_length=300)
    variable: str = Field(max_length=32)
    value: float
    unit: str = Field(max_length=32)
    time: datetime = Field(sa_type=UtcDateTime)
    source_id: str | None = Field(default=None, unique=True, max_length=300)
    retracted: bool = False
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class FilmRow(SQLModel, table=True):
    __tablename__ = "films"
    __table_args__ = (Index("ix_films_patient_time", "patient_key", "acquired_at"),)

    id: int | None = Field(default=None, primary_key=True)
    sop_instance_uid: str = Field(unique=True, max_length=64)
    study_instance_uid: str = Field(default="", max_length=64)
    patient_key: str = Field(max_length=300)
    acquired_at: datetime = Field(sa_type=UtcDateTime)
    view: str = Field(default="AP", max_length=16)
    embedding: list[float] | None = Field(default=None, sa_column=Column(JSON))
    embedding_model: str = Field(default="", max_length=128)
    # {"version", "values"}: pixel statistics the applicability guard compares (model.schemas)
    appearance: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # {"name", "version", "sha256", "recipe"}: the film backbone that made the embedding, if any
    backbone: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    thumbnail_png: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    source: str = Field(default="", max_length=128)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RejectedFilmRow(SQLModel, table=True):
    __tablename__ = "rejected_films"

    id: int | None = Field(default=None, primary_key=True)
    sop_instance_uid: str = Field(index=True, max_length=64)
    patient_key: str | None = Field(default=None, max_length=300)
    reason: str = Field(max_length=500)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class PredictionRow(SQLModel, table=True):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_patient_asof", "patient_key", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_key: str = Field(max_length=300)
    as_of: datetime = Field(sa_type=UtcDateTime)
    probability: float
    level: str = Field(max_length=16)
    horizon_h: int = 24
    model_id: str = Field(max_length=128)
    model_version: str = Field(max_length=64)
    image_weight: float
    film_age_h: float | None = None
    film_sop_instance_uid: str | None = Field(default=None, max_length=64)
    probability_without_film: float | None = None
    drivers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    basis_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    trigger: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    reference_probability: float | None = None
    film_not_used: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    ehr_flags: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    bedside: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    backfilled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    dedup_key: str = Field(unique=True, max_length=300)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    result_id: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class JtiRow(SQLModel, table=True):
    __tablename__ = "seen_jtis"
    __table_args__ = (UniqueConstraint("iss", "jti"),)

    id: int | None = Field(default=None, primary_key=True)
    iss: str = Field(max_length=300)
    jti: str = Field(max_length=300)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)


class IssuedCardRow(SQLModel, table=True):
    __tablename__ = "issued_cards"

    uuid: str = Field(primary_key=True, max_length=64)
    service_id: str = Field(max_length=64)
    hook_instance: str = Field(max_length=128)
    patient_key: str | None = Field(default=None, max_length=300)
    prediction_id: int | None = None
    suggestion_uuids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    issuer: str = Field(default="", max_length=300)  # the CDS Client (JWT iss) it went to


class HookResponseRow(SQLModel, table=True):
    """The answer given to one hookInstance of one client, returned again to a repeat."""

    __tablename__ = "hook_responses"
    __table_args__ = (UniqueConstraint("service_id", "issuer", "hook_instance"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(max_length=64)
    issuer: str = Field(max_length=300)
    hook_instance: str = Field(max_length=128)
    patient_id: str = Field(max_length=64)  # context.patientId
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)


class FeedbackRow(SQLModel, table=True):
    __tablename__ = "card_feedback"

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(max_length=64)
    card_uuid: str = Field(index=True, max_length=64)
    outcome: str = Field(max_length=16)
    accepted_suggestions: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    override_reason: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    outcome_timestamp: datetime = Field(sa_type=UtcDateTime)
    issuer: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    actor: str = Field(max_length=300)  # issuer + user id (Practitioner/...) or "demo"
    action: str = Field(max_length=64)  # card-viewed | page-viewed | feedback
    patient_key: str | None = Field(default=None, max_length=300, index=True)
    detail: str = Field(default="", max_length=500)


class FhirSeenRow(SQLModel, table=True):
    """Last version of each EHR resource already ingested (fhir_adapter ``SeenStore``)."""

    __tablename__ = "fhir_seen"

    ref: str = Field(primary_key=True, max_length=300)
    version_id: str = Field(max_length=64)


class FhirCursorRow(SQLModel, table=True):
    """Named high-water marks of the FHIR poller (fhir_adapter ``CursorStore``)."""

    __tablename__ = "fhir_cursors"

    name: str = Field(primary_key=True, max_length=128)
    value: datetime = Field(sa_type=UtcDateTime)


class FhirEventMarkRow(SQLModel, table=True):
    """Highest notification event number per subscription (fhir_adapter ``EventNumberStore``)."""

    __tablename__ = "fhir_event_marks"

    subscription: str = Field(primary_key=True, max_length=300)
    last_event: int = Field(sa_type=BigInteger)
