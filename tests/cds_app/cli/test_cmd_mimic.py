"""`ventfusion import-mimic` end to end: fixture MIMIC-IV + MIMIC-CXR-JPG -> cohort -> `train` and
`evaluate` with their default options; and the CLI's answers to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cds_app.cli.main import main
from tests.model.cohorts.mimic_fixture import write_mimic_fixture
from tests.model.cohorts.mimic_layout import write_table


@pytest.mark.slow
def test_import_then_train_and_evaluate_with_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fx = write_mimic_fixture(tmp_path / "physionet")
    cohort, model, report = tmp_path / "cohort", tmp_path / "model.pt", tmp_path / "report"
    args = ["import-mimic", "--mimic", str(fx.mimic), "--cxr", str(fx.cxr), "--out", str(cohort)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "16 ICU stays of 17" in out
    assert "7 ventilation starts" in out
    assert "present, not used: icu/inputevents" in out
    assert f"cohort written to {cohort}" in out
    torch.set_num_threads(1)
    assert main(["train", "--cohort", str(cohort), "--out", str(model)]) == 0
    assert "val AUROC" in capsys.readouterr().out
    assert (
        main(
            ["evaluate", "--cohort", str(cohort), "--checkpoint", str(model), "--out", str(report)]
        )
        == 0
    )
    result = json.loads((report / "report.json").read_text())
    gated = result["sections"]["discrimination"]["models"]["gated"]
    assert 0.0 <= gated["auroc"]["estimate"] <= 1.0


def _empty_tree(root: Path) -> Path:
    """The three required tables, with a header and no rows."""
    mimic = root / "mimiciv" / "3.1"
    for table in ("hosp/patients", "icu/icustays", "icu/chartevents"):
        write_table(mimic / table, table, [])
    return mimic


def test_an_empty_cohort_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mimic = _empty_tree(tmp_path)
    assert main(["import-mimic", "--mimic", str(mimic), "--out", str(tmp_path / "c")]) == 1
    captured = capsys.readouterr()
    assert "0 ICU stays of 0" in captured.out
    assert "is empty (0 stays, 0 measurements)" in captured.err


def test_a_wrong_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "physionet" / "mimiciv" / "3.1" / "hosp").mkdir(parents=True)
    (tmp_path / "physionet" / "mimiciv" / "3.1" / "icu").mkdir()
    code = main(
        ["import-mimic", "--mimic", str(tmp_path / "physionet"), "--out", str(tmp_path / "c")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "import failed" in err
    assert "did you mean --mimic" in err
    assert str(tmp_path / "physionet" / "mimiciv" / "3.1") in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--pre-stay-h", "-5"], "--pre-stay-h must be 0-720 hours"),
        (["--memory-limit", "lots"], "cannot start the import engine"),
    ],
)
def test_bad_options_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    mimic = _empty_tree(tmp_path)
    args = ["import-mimic", "--mimic", str(mimic), "--out", str(tmp_path / "c"), *option]
    assert main(args) == 2
    assert message in capsys.readouterr().err
