from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from cds_app.db.session import alembic_config, make_engine, migrate

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
