"""`ventfusion train` and `ventfusion evaluate` through the CLI's main(argv)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cds_app.cli.main import main


def test_train_then_evaluate(tiny_cohort: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    ckpt = tmp_path / "ehr.pt"
    code = main(
        [
            "train",
            "--cohort",
            str(tiny_cohort),
            "--out",
            str(ckpt),
            "--arch",
            "ehr_only",
            "--epochs",
            "1",
            "--film-size",
            "32",
            "--lookback-h",
            "12",
            "--hidden",
            "16",
            "--val-fraction",
            "0.34",
        ]
    )
    assert code == 0
    assert "val AUROC" in capsys.readouterr().out
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--cohort",
            str(tiny_cohort),
            "--checkpoint",
            str(ckpt),
            "--out",
            str(out),
            "--n-boot",
            "10",
            "--no-comparators",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["sections"]["discrimination"]["models"]) == ["ehr_only"]


def test_train_reports_a_bad_cohort(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["train", "--cohort", str(tmp_path), "--out", str(tmp_path / "x.pt")])
    assert code == 1
    assert "training failed" in capsys.readouterr().err
