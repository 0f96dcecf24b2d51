from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import Session

from cds_app.db.hook_responses import HookResponses
from cds_app.db.predictions import PredictionRepository
from cds_app.db.session import alembic_config, commit_unless_duplicate, make_engine, migrate
from cds_app.db.tables import FilmRow, IssuedCardRow, PredictionRow

HEAD = "0006"

TABLES = {
    "patients",
    "measurements",
    "films",
    "rejected_films",
    "predictions",
    "outbox",
    "seen_jtis",
    "issued_cards",
    "card_feedback",
    "audit_log",
    "fhir_seen",
    "fhir_cursors",
    "fhir_event_marks",
    "hook_responses",
    "alembic_version",
}


def test_migrations_create_every_table_and_are_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a second start-up finds the schema at head
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_downgrade_to_base_removes_the_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not (TABLES - {"alembic_version"}) & set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_revisions_form_one_line() -> None:
    """One head, each revision revising the one before (no branch left by parallel work)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [HEAD]
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert chain == ["0006", "0005", "0004", "0003", "0002", "0001"]


def test_an_0003_database_is_upgraded_with_its_rows(db_url: str) -> None:
    """A deployment at 0003 (before hook answers, card issuers and the applicability guard):
    its predictions, films and issued cards survive and read through today's tables."""
    engine = make_engine(db_url)
    migrate(engine, "0003")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO predictions (id, patient_key, as_of, probability, level, horizon_h,"
                " model_id, model_version, image_weight, drivers, basis_ids, trigger, created_at)"
                " VALUES (7, :key, :now, 0.31, 'warning', 24, 'ventfusion-gated', '0.1.0', 0.2,"
                " '[]', '[\"Observation/o1\"]', 'poll', :now)"
            ),
            {"key": "urn:mrn|MRN-OLD", "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO films (id, sop_instance_uid, study_instance_uid, patient_key,"
                " acquired_at, view, embedding_model, source, received_at) VALUES (3, '1.2.3',"
                " '1.2', :key, :now, 'AP', '', 'dicom', :now)"
            ),
            {"key": "urn:mrn|MRN-OLD", "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO issued_cards (uuid, service_id, hook_instance, patient_key,"
                " prediction_id, issued_at) VALUES ('card-1', 'svc', 'hook-1', :key, 7, :now)"
            ),
            {"key": "urn:mrn|MRN-OLD", "now": now},
        )
    migrate(engine)
    with Session(engine) as session:
        prediction = session.get(PredictionRow, 7)
        film = session.get(FilmRow, 3)
        card = session.get(IssuedCardRow, "card-1")
    assert prediction is not None
    assert (prediction.probability, prediction.backfilled) == (0.31, False)
    assert (prediction.bedside, prediction.film_not_used, prediction.ehr_flags) == (None,) * 3
    assert film is not None
    assert film.appearance is None  # the guard finds no statistics: film "not checked"
    assert card is not None
    assert card.issuer == ""  # issued before issuers were recorded: no client's feedback fits
    old = PredictionRepository(engine).get(7)  # still an assessment of record
    assert old is not None
    assert (old.basis_ids, old.bedside, old.reference_probability) == (
        ("Observation/o1",),
        None,
        None,
    )
    stored = HookResponses.row("svc", "https://ehr.example.org/", "hook-2", "p1", {"cards": []})
    assert commit_unless_duplicate(engine, [stored])
    assert not commit_unless_duplicate(engine, [HookResponses.row(
        "svc", "https://ehr.example.org/", "hook-2", "p1", {"cards": []})])  # fmt: skip
    engine.dispose()
