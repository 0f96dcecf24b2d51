from __future__ import annotations

from pathlib import Path

import pytest

from cds_app.cli.main import main


def test_synth_writes_the_cohort_and_both_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cohort"
    args = ["synth", "--patients", "4", "--seed", "3", "--out", str(out), "--film-size", "48"]
    assert main([*args, "--formats", "cohort,fhir,dicom", "--workers", "1"]) == 0
    assert (out / "cohort.json").exists()
    assert (out / "fhir" / "Observation.ndjson").stat().st_size > 0
    assert any((out / "dicom").rglob("*.dcm"))
    captured = capsys.readouterr()
    assert "synthetic cohort: 4 patients" in captured.out
    assert "simulating patients" in captured.err  # the progress bar


def test_synth_refuses_an_existing_cohort(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "synth",
        "--patients",
        "2",
        "--out",
        str(tmp_path),
        "--film-size",
        "48",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    assert main(args) == 1
    assert "already holds a cohort" in capsys.readouterr().err


def test_synth_rejects_unknown_formats(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path), "--formats", "cohort,hl7v2"]) == 2


def test_synth_refuses_impossible_knobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synth", "--out", str(tmp_path), "--patients", "2", "--ehr-lag-h", "30", "20"])
    assert code == 1
    assert "ehr_lag_h" in capsys.readouterr().err
