"""Initial schema: patients, measurements, films, predictions, outbox, FHIR cursors, security.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:08:24.190975
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_patient_key"), ["patient_key"], unique=False)

    op.create_table(
        "card_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("card_uuid", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=True),
        sa.Column("override_reason", sa.JSON(), nullable=True),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("card_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_feedback_card_uuid"), ["card_uuid"], unique=False)

    op.create_table(
        "fhir_cursors",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "fhir_seen",
        sa.Column("ref", sa.String(length=300), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_table(
        "films",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("view", sa.String(length=16), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("embedding_model", sa.String(length=128), nullable=False),
        sa.Column("thumbnail_png", sa.LargeBinary(), nullable=True),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sop_instance_uid"),
    )
    with op.batch_alter_table("films", schema=None) as batch_op:
        batch_op.create_index("ix_films_patient_time", ["patient_key", "acquired_at"], unique=False)

    op.create_table(
        "issued_cards",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("hook_instance", sa.String(length=128), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=True),
        sa.Column("prediction_id", sa.Integer(), nullable=True),
        sa.Column("suggestion_uuids", sa.JSON(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=False),
        sa.Column("variable", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_id", sa.String(length=300), nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id"),
    )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_index("ix_measurements_patient_time", ["patient_key", "time"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("result_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "patients",
        sa.Column("patient_key", sa.String(length=300), nullable=False),
        sa.Column("fhir_id", sa.String(length=128), nullable=True),
        sa.Column("age_years", sa.Float(), nullable=True),
        sa.Column("sex", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("patient_key"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_fhir_id"), ["fhir_id"], unique=False)

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("horizon_h", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("image_weight", sa.Float(), nullable=False),
        sa.Column("film_age_h", sa.Float(), nullable=True),
        sa.Column("film_sop_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("probability_without_film", sa.Float(), nullable=True),
        sa.Column("drivers", sa.JSON(), nullable=True),
        sa.Column("basis_ids", sa.JSON(), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index("ix_predictions_patient_asof", ["patient_key", "as_of"], unique=False)

    op.create_table(
        "rejected_films",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("patient_key", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rejected_films", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_films_sop_instance_uid"), ["sop_instance_uid"], unique=False
        )

    op.create_table(
        "seen_jtis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("iss", sa.String(length=300), nullable=False),
        sa.Column("jti", sa.String(length=300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("iss", "jti"),
    )
    with op.batch_alter_table("seen_jtis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seen_jtis_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("seen_jtis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_jtis_expires_at"))

    op.drop_table("seen_jtis")
    with op.batch_alter_table("rejected_films", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_films_sop_instance_uid"))

    op.drop_table("rejected_films")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_patient_asof")

    op.drop_table("predictions")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_fhir_id"))

    op.drop_table("patients")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_index("ix_measurements_patient_time")

    op.drop_table("measurements")
    op.drop_table("issued_cards")
    with op.batch_alter_table("films", schema=None) as batch_op:
        batch_op.drop_index("ix_films_patient_time")

    op.drop_table("films")
    op.drop_table("fhir_seen")
    op.drop_table("fhir_cursors")
    with op.batch_alter_table("card_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_feedback_card_uuid"))

    op.drop_table("card_feedback")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_patient_key"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
