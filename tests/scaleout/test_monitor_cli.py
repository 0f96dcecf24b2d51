"""`ventfusion monitor`: predictions in the database, ventilation Procedures in the EHR."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from cds_app.cli import cmd_monitor
from cds_app.db.session import make_engine, migrate
from cds_app.db.tables import PatientRow, PredictionRow
from tests.support.fhir_server import FhirTestServer

MRN = "urn:oid:2.16.840.1.113883.4.1.999.1"
SNOMED = "http://snomed.info/sct"


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    server = FhirTestServer().start()
    yield server
    server.stop()


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """ventfusion (test)"""

    cmd_monitor.register(app)
    return app


def _ward(db_url: str, server: FhirTestServer, now: datetime) -> None:
    """30 patients over 10 days; every third is ventilated on day 6 (Procedure in the EHR).

    One more patient has predictions but is unknown to the EHR (outcome unknown).
    """
    rng = np.random.default_rng(3)
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        for n in range(30):
            key = f"{MRN}|MRN{n:04d}"
            patient = server.put(
                {
                    "resourceType": "Patient",
                    "identifier": [{"system": MRN, "value": f"MRN{n:04d}"}],
                    "gender": "female" if n % 2 else "male",
                }
            )
            if n % 2:  # half already linked to their FHIR id, half found by MRN search
                session.add(PatientRow(patient_key=key, fhir_id=patient["id"]))
            vent = now - timedelta(days=4) if n % 3 == 0 else None
            if vent is not None:
                server.put(
                    {
                        "resourceType": "Procedure",
                        "status": "completed",
                        "code": {"coding": [{"system": SNOMED, "code": "40617009"}]},
                        "subject": {"reference": f"Patient/{patient['id']}"},
                        "performedDateTime": vent.isoformat(),
                    }
                )
            for hour in range(0, 10 * 24, 4):
                as_of = now - timedelta(days=10) + timedelta(hours=hour)
                if vent is not None and as_of >= vent:
                    break
                near = vent is not None and vent - as_of <= timedelta(hours=24)
                p = float(np.clip((0.6 if near else 0.2) + 0.15 * rng.normal(), 0.01, 0.99))
                session.add(
                    PredictionRow(
                        patient_key=key,
                        as_of=as_of,
                        probability=p,
                        level="low",
                        model_id="ventfusion-gated",
                        model_version="0.1.0+test",
                        image_weight=0.0,
                    )
                )
        for hour in range(0, 48, 4):  # high scores, no outcome: must not count as negatives
            session.add(
                PredictionRow(
                    patient_key=f"{MRN}|MRN9999",
                    as_of=now - timedelta(days=9) + timedelta(hours=hour),
                    probability=0.95,
                    level="critical",
                    model_id="ventfusion-gated",
                    model_version="0.1.0+test",
                    image_weight=0.0,
                )
            )
        session.commit()
    engine.dispose()


def test_monitor_reports_windows_and_alerts_under_the_floor(
    fhir_server: FhirTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'vf.sqlite3'}"
    _ward(db_url, fhir_server, datetime.now(UTC))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("VENTFUSION_FHIR__BASE_URL", fhir_server.base_url)
    args = ["monitor", "--days", "12", "--window-days", "8", "--min-positives", "20"]
    out, prom = tmp_path / "report.json", tmp_path / "vf.prom"
    result = CliRunner().invoke(_cli(), [*args, "--floor", "0.6", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 patients not found in the EHR: left out" in result.output
    report = json.loads(out.read_text())
    assert report["alert"] is False
    assert report["latest"]["status"] == "ok"
    assert 0.8 < report["latest"]["auroc"] < 1.0
    assert report["latest"]["positives"] == 10 * 6  # 10 ventilated patients, 6 windows in 24 h
    assert {w["status"] for w in report["windows"]} == {"ok", "insufficient"}
    assert report["pending"] > 0  # the last day's negatives have no outcome yet

    strict = CliRunner().invoke(_cli(), [*args, "--floor", "0.995", "--prometheus", str(prom)])
    assert strict.exit_code == 1
    assert "ALERT" in strict.output
    gauges = prom.read_text()
    assert "ventfusion_monitor_alert 1.0" in gauges
    assert "ventfusion_monitor_auroc_floor 0.995" in gauges


def test_monitor_needs_the_ehr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'vf.sqlite3'}")
    result = CliRunner().invoke(_cli(), ["monitor"])
    assert result.exit_code == 2
