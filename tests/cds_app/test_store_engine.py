"""Store (sinks), engine, debounced rescoring and the outbox table, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from cds_app.db.outbox import DbOutbox
from cds_app.db.predictions import PredictionRepository
from cds_app.db.session import make_engine, migrate
from cds_app.db.store import Store
from cds_app.engine.rescoring import Rescorer
from cds_app.engine.scorer import NotScoredError, RiskEngine
from cds_app.engine.sinks import ScoringFilmSink, ScoringMeasurementSink
from model.schemas import ChestFilm, Measurement, PatientKey
from tests.cds_app.fakes import FakeRiskModel

KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="MRN-42")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Engine:
    engine = make_engine(db_url)
    migrate(engine)
    return engine


def _m(variable: str, value: float, hours_ago: float, source: str) -> Measurement:
    units = {"fio2": "%", "resp_rate": "/min", "spo2": "%"}
    return Measurement(
        patient_key=KEY,
        variable=variable,
        value=value,
        unit=units[variable],
        time=NOW - timedelta(hours=hours_ago),
        source_id=source,
    )


def _engine(db: Engine, model: FakeRiskModel, require_vitals_within_h: float = 0.0) -> RiskEngine:
    return RiskEngine(
        store=Store(db),
        predictions=PredictionRepository(db),
        outbox=DbOutbox(db),
        model=model,
        lookback_h=48,
        film_max_age_h=72,
        write_back=True,
        require_vitals_within_h=require_vitals_within_h,
    )


def test_measurements_are_idempotent_and_retractable(db: Engine) -> None:
    store = Store(db)
    batch = [
        _m("fio2", 40, 2, "Observation/o1/_history/1"),
        _m("resp_rate", 24, 2, "Observation/o2/_history/1#resp_rate"),
        _m("spo2", 93, 50, "Observation/o3/_history/1"),  # outside the 48 h window
    ]
    assert store.add_measurements(batch) == 3
    assert store.add_measurements(batch) == 0
    window = store.window(KEY, NOW, lookback_h=48, film_max_age_h=72)
    assert [m.variable for m in window.measurements] == ["fio2", "resp_rate"]
    assert window.measurements[0].time == NOW - timedelta(hours=2)
    assert store.retract(["Observation/o2"]) == 1  # resource ref withdraws every version
    assert store.retract(["Observation/o2"]) == 0
    window = store.window(KEY, NOW, lookback_h=48, film_max_age_h=72)
    assert [m.variable for m in window.measurements] == ["fio2"]


def test_films_are_idempotent_and_never_from_the_future(db: Engine) -> None:
    store = Store(db)
    film = ChestFilm(
        patient_key=KEY,
        acquired_at=NOW - timedelta(hours=5),
        sop_instance_uid="1.2.3.4.5",
        embedding=(0.1, 0.2),
        embedding_model="fake:1",
    )
    later = film.model_copy(
        update={"sop_instance_uid": "1.2.3.4.6", "acquired_at": NOW + timedelta(hours=1)}
    )
    assert store.add_film(film, b"png") is True
    assert store.add_film(film) is False
    assert store.add_film(later) is True
    window = store.window(KEY, NOW, lookback_h=48, film_max_age_h=72)
    assert [f.sop_instance_uid for f in window.films] == ["1.2.3.4.5"]
    assert window.films[0].embedding == (0.1, 0.2)
    store.record_rejected_film("1.2.3.9", "lateral view", KEY)


def test_engine_records_predictions_and_queues_one_risk_assessment_each(db: Engine) -> None:
    model = FakeRiskModel()
    engine = _engine(db, model)
    engine.store.add_measurements([_m("fio2", 60, 1, "Observation/a/_history/1")])
    first = engine.score(KEY, NOW)
    second = engine.score(KEY, NOW + timedelta(hours=1))
    assert first.previous is None
    assert second.previous is not None
    assert second.previous.as_of == NOW
    history = engine.predictions.history(KEY, NOW - timedelta(hours=1))
    assert [p.as_of for p in history] == [NOW, NOW + timedelta(hours=1)]
    rows = engine.outbox.rows("pending")
    assert len(rows) == 2
    assert rows[0].kind == "risk-assessment"


def test_a_window_without_recent_vital_signs_is_not_scored(db: Engine) -> None:
    model = FakeRiskModel()
    engine = _engine(db, model, require_vitals_within_h=6)
    engine.store.add_measurements([_m("fio2", 60, 8, "Observation/old/_history/1")])
    with pytest.raises(NotScoredError, match=r"last 6 h \(latest 8 h ago\)"):
        engine.score(KEY, NOW)
    assert model.calls == 0  # the model never saw the window
    assert engine.predictions.latest(KEY) is None
    assert engine.outbox.rows("pending") == []
    engine.store.add_measurements([_m("resp_rate", 30, 1, "Observation/new/_history/1")])
    assert engine.score(KEY, NOW).prediction.probability > 0  # fresh data: scored again


def test_outbox_claims_are_exclusive_and_settle(db: Engine) -> None:
    outbox = DbOutbox(db, lease_s=60)
    first = outbox.enqueue("risk-assessment", {"n": 1}, "k1", NOW)
    assert outbox.enqueue("risk-assessment", {"n": 1}, "k1", NOW) == first  # dedup
    outbox.enqueue("risk-assessment", {"n": 2}, "k2", NOW)
    claimed = outbox.due(NOW, 10)
    assert [i.payload["n"] for i in claimed] == [1, 2]
    assert outbox.due(NOW, 10) == []  # leased: a second worker gets nothing
    outbox.mark_delivered(claimed[0].id, "RiskAssessment/ra-1")
    outbox.mark_retry(claimed[1].id, "503", NOW + timedelta(seconds=30))
    assert outbox.due(NOW + timedelta(seconds=10), 10) == []
    (retry,) = outbox.due(NOW + timedelta(seconds=31), 10)
    assert retry.attempts == 1
    outbox.mark_failed(retry.id, "422 invalid")
    assert [r.status for r in outbox.rows()] == ["delivered", "dead"]
    assert outbox.rows("delivered")[0].result_id == "RiskAssessment/ra-1"


def test_outbox_lease_expires_for_a_crashed_worker(db: Engine) -> None:
    outbox = DbOutbox(db, lease_s=60)
    outbox.enqueue("risk-assessment", {"n": 1}, "k1", NOW)
    assert len(outbox.due(NOW, 10)) == 1
    assert len(outbox.due(NOW + timedelta(seconds=61), 10)) == 1


def test_sinks_debounce_rescoring(db: Engine) -> None:
    model = FakeRiskModel()
    engine = _engine(db, model)

    async def scenario() -> int:
        rescorer = Rescorer(engine, asyncio.get_running_loop(), debounce_s=0.2)
        sink = ScoringMeasurementSink(engine.store, rescorer)
        films = ScoringFilmSink(engine.store, model, rescorer)
        now = datetime.now(UTC)
        for i in range(5):  # a burst: one prediction
            time = now - timedelta(minutes=10 - i)
            source = f"Observation/b{i}/_history/1"
            sink.add_measurements(
                [Measurement(patient_key=KEY, variable="fio2", value=40 + i, unit="%",
                             time=time, source_id=source)]
            )  # fmt: skip
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.4)
        after_burst = rescorer.scored
        film = ChestFilm(
            patient_key=KEY,
            acquired_at=now - timedelta(hours=1),
            sop_instance_uid="1.2.840.99.1",
            pixels=np.full((1, 32, 32), 0.5, dtype=np.float32),
        )
        assert films.add_film(film)
        await rescorer.drain()
        assert rescorer.scored == after_burst + 1
        return after_burst

    assert asyncio.run(scenario()) == 1
    stored = engine.store.film_by_uid("1.2.840.99.1")
    assert stored is not None
    assert stored.embedding is not None
    assert stored.thumbnail_png is not None
    assert stored.thumbnail_png.startswith(b"\x89PNG")
    latest = engine.predictions.latest(KEY)
    assert latest is not None
    assert latest.film_sop_instance_uid == "1.2.840.99.1"
