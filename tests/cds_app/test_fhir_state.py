"""The database-backed state of the FHIR ingest, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from cds_app.db.fhir_state import DbCursorStore, DbEventNumberStore, DbSeenStore
from cds_app.db.session import make_engine, migrate

SUB = "https://ehr.example.org/fhir/Subscription/vent-obs"


def test_event_marks_only_rise_and_outlive_the_engine(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    marks = DbEventNumberStore(engine)
    assert marks.advance(SUB, 4) is None  # first notification of this subscription
    assert marks.advance(SUB, 5) == 4
    assert marks.advance(SUB, 3) == 5  # a late, out-of-order event does not lower the mark
    assert marks.advance("Subscription/other", 1) is None
    engine.dispose()
    restarted = make_engine(db_url)
    assert DbEventNumberStore(restarted).advance(SUB, 9) == 5
    restarted.dispose()


def test_concurrent_first_marks_keep_the_highest(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    marks = DbEventNumberStore(engine)
    with ThreadPoolExecutor(max_workers=4) as pool:
        befores = list(pool.map(lambda n: marks.advance(SUB, n), range(1, 21)))
    assert befores.count(None) >= 1
    assert marks.advance(SUB, 0) == 20
    engine.dispose()


def test_seen_versions_and_cursors_round_trip(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    seen, cursors = DbSeenStore(engine), DbCursorStore(engine)
    assert seen.versions_of(["Observation/o1"]) == {}
    seen.remember({"Observation/o1": "2", "Observation/o2": "7"})
    seen.remember({"Observation/o1": "3"})  # an update and nothing else in one write
    assert seen.versions_of(["Observation/o1", "Observation/o2", "Observation/o9"]) == {
        "Observation/o1": "3",
        "Observation/o2": "7",
    }
    seen.remember({})
    assert seen.versions_of([]) == {}
    mark = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    cursors.set("poll", mark)
    assert cursors.get("poll") == mark
    assert cursors.get("missing") is None
    engine.dispose()
