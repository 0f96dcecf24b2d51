"""`ventfusion fhir-subscribe` / `fhir-import` / `fhir-poll` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_app.cli.main import main
from model.cohort import read_cohort
from tests.fhir_adapter.conftest import MRN, observation, patient, recent
from tests.support.fhir_server import FhirTestServer


def test_fhir_subscribe_both_styles(
    fhir_server: FhirTestServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fhir_server.deliver_notifications = False
    monkeypatch.setenv("VENTFUSION_FHIR__BASE_URL", fhir_server.base_url)
    monkeypatch.setenv("VENTFUSION_FHIR__NOTIFICATION_SECRET", "abc")
    monkeypatch.setenv("VENTFUSION_PUBLIC_BASE_URL", "https://cds.example.org")
    monkeypatch.setenv("VENTFUSION_SECURITY__PSEUDONYM_KEY", "k" * 32)  # not the embedded default
    assert main(["fhir-subscribe"]) == 0
    assert main(["fhir-subscribe"]) == 0
    assert main(["fhir-subscribe", "--style", "backport", "--payload", "full-resource"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 2)[1] for line in out] == ["created", "already", "created"]
    subs = fhir_server.current("Subscription")
    assert {s["channel"]["endpoint"] for s in subs} == {
        "https://cds.example.org/fhir/notifications"
    }
    assert all(s["channel"]["header"] == ["X-VentFusion-Secret: abc"] for s in subs)
    assert main(["fhir-subscribe", "--style", "carrier-pigeon"]) == 2


def test_fhir_subscribe_needs_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir-subscribe"]) == 2
    assert "VENTFUSION_FHIR__BASE_URL" in capsys.readouterr().err


def test_fhir_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "export"
    src.mkdir()
    (src / "Patient.ndjson").write_text(json.dumps(patient("MRN7", "p7")) + "\n")
    obs = [
        {
            **observation("9279-1", 18 + i, "/min", patient="Patient/p7", when=recent(i)),
            "id": f"rr{i}",
        }
        for i in range(4)
    ]
    (src / "Observation.ndjson").write_text("\n".join(json.dumps(o) for o in obs) + "\n")
    assert (
        main(
            ["fhir-import", str(src), str(tmp_path / "cohort"), "--synthetic", "--mrn-system", MRN]
        )
        == 0
    )
    assert "1 patients, 4 measurements" in capsys.readouterr().out
    cohort = read_cohort(tmp_path / "cohort")
    assert cohort.synthetic
    assert sorted(cohort.m_value) == [18.0, 19.0, 20.0, 21.0]
    assert main(["fhir-import", str(tmp_path / "nothing"), str(tmp_path / "c2")]) == 1


def test_fhir_poll_once_into_the_database(
    fhir_server: FhirTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from cds_app.db.session import make_engine

    fhir_server.deliver_notifications = False
    pref = "Patient/" + fhir_server.put(patient("MRN0042"))["id"]
    for i in range(3):
        fhir_server.put(observation("8867-4", 70 + i, "/min", patient=pref, when=recent(i + 1)))
    url = f"sqlite:///{tmp_path / 'vf.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VENTFUSION_FHIR__BASE_URL", fhir_server.base_url)
    monkeypatch.setenv("VENTFUSION_PATIENT_ID_SYSTEM", MRN)
    assert main(["fhir-poll", "--once"]) == 0
    assert main(["fhir-poll", "--once"]) == 0  # cursor + seen store: nothing new
    with make_engine(url).connect() as conn:
        tables = [r[0] for r in conn.execute(text("select name from sqlite_master"))]
        table = next(t for t in tables if "measurement" in t)
        assert conn.execute(text(f"select count(*) from {table}")).scalar() == 3
