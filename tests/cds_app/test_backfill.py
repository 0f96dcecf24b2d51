"""A chart opened for the first time already shows a 48 h trend: hourly assessments backfilled
from charted data, marked, never written back, never served as RiskAssessments, and only where
the stale-data rule allows; risk, ROX and SpO2/FiO2 share one labelled time axis."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.db.tables import OutboxRow
from cds_app.engine.backfill import hourly_slots
from cds_app.settings import Settings
from model.schemas import Measurement, PatientKey, StaticInfo
from tests.cds_app.fakes import FakeRiskModel

KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="MRN-BACKFILL")


@pytest.fixture
def demo_client(sqlite_url: str, make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=FakeRiskModel())) as c:
        yield c


def _chart(ctx: AppContext, now: datetime) -> None:
    """Vitals every hour for 40 h, except a 12 h gap from 30 h to 18 h ago."""
    ctx.store.upsert_patient(KEY, fhir_id="pt-bf", static=StaticInfo(age_years=None))
    rows = []
    for h in range(40, 0, -1):
        if 18 < h < 30:
            continue
        t = now - timedelta(hours=h, minutes=-20)
        for variable, value in (("spo2", 95 - 0.1 * (40 - h)), ("fio2", 30 + (40 - h)),
                                ("resp_rate", 18 + 0.3 * (40 - h))):  # fmt: skip
            rows.append(Measurement(patient_key=KEY, variable=variable, value=value, unit="",
                                    time=t, source_id=f"Observation/{variable}-{h}"))  # fmt: skip
    ctx.store.add_measurements(rows)


def test_first_page_view_backfills_hourly_and_marks_it(demo_client: TestClient) -> None:
    ctx: AppContext = demo_client.app.state.ctx  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    _chart(ctx, now)
    html = demo_client.get("/risk", params={"key": str(KEY)}).text
    history = ctx.predictions.history(KEY, now - timedelta(hours=48))
    assert history
    assert all(p.backfilled for p in history)
    hours = [p.as_of for p in history]
    assert all(t.minute == 0 and t.second == 0 for t in hours)
    assert all(b - a >= timedelta(hours=1) for a, b in itertools.pairwise(hours))
    # the stale-data rule: no assessment more than 6 h after the last vital sign before the gap
    gap_start = now - timedelta(hours=30, minutes=-20)
    assert not [t for t in hours if gap_start + timedelta(hours=6) < t < now - timedelta(hours=18)]
    assert len(history) >= 30
    # never written back, never an assessment of record
    with Session(ctx.db) as session:
        assert session.exec(select(OutboxRow)).all() == []
    assert ctx.predictions.latest(KEY) is None
    assert ctx.predictions.ids_for(KEY) == []
    # the page: one labelled axis, named bands, the bedside series, the backfill marked
    assert 'id="backfilled-line"' in html
    assert "backfilled hourly from charted data" in html
    assert "Time (UTC), last 48 h" in html
    assert ">elevated</text>" in html
    assert ">high</text>" in html
    assert 'id="rox-line"' in html
    assert 'id="sf-line"' in html
    assert "&lt; 3.85 high risk" in html
    assert 'id="backfilled-note"' in html  # the latest shown is a backfilled one: said so
    assert 'id="age">age unknown<' in html
    # a second view finds the hours filled
    demo_client.get("/risk", params={"key": str(KEY)})
    assert len(ctx.predictions.history(KEY, now - timedelta(hours=48))) == len(history)


def test_current_assessments_are_kept_and_not_duplicated(demo_client: TestClient) -> None:
    ctx: AppContext = demo_client.app.state.ctx  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    _chart(ctx, now)
    scored = ctx.engine.score(KEY, now - timedelta(minutes=5), trigger="test")
    html = demo_client.get("/risk", params={"key": str(KEY)}).text
    history = ctx.predictions.history(KEY, now - timedelta(hours=48))
    current = [p for p in history if not p.backfilled]
    assert [p.as_of for p in current] == [scored.prediction.as_of]
    assert 'id="risk-line"' not in html or html.count('class="risk-line-point"') == 1
    assert 'id="backfilled-note"' not in html
    assert ctx.predictions.ids_for(KEY) == [scored.prediction_id]


def test_hourly_slots() -> None:
    end = datetime(2026, 1, 2, 10, 20, tzinfo=UTC)
    slots = hourly_slots(end - timedelta(hours=3), end)
    assert slots == [datetime(2026, 1, 2, h, tzinfo=UTC) for h in (8, 9)]
