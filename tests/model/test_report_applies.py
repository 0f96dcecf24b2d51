"""Issue 17 surprises 7 and 8, and item 4's plots: a report that says what applies.

An EHR-only model on a cohort without films: gate/film sections and targets say "not
applicable" (never "NOT met"), no gate.png is drawn and matplotlib warns about nothing (warnings
are errors here); the comparisons of a single model say why they are missing. Every report
states its prediction hours, window counts and the censoring rule. ROC/PR curves carry bootstrap
bands and the PR plot the prevalence line; the reliability plot labels bins with their counts.
"""

from __future__ import annotations

import csv
import json
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from cds_app.cli.main import main
from model.checkpoint import load_checkpoint
from model.evaluation.plots import reliability_plot, roc_pr_plot
from model.evaluation.run import EvaluationRequest, build_context, evaluate
from tests.model.training.cohorts_for_cli import FAST, without_films

HORIZON_H = 24


@pytest.fixture(scope="module")
def filmless(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("filmless")
    cohort = without_films(tiny_cohort, root / "cohort")
    torch.set_num_threads(1)
    ckpt = root / "ehr_only.pt"
    args = ["train", "--cohort", str(cohort), "--out", str(ckpt), "--arch", "ehr_only", *FAST]
    assert main(args) == 0
    return cohort, ckpt


def test_an_ehr_only_model_without_films_gets_not_applicable_sections(
    filmless: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort, ckpt = filmless
    out = tmp_path / "report"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "No artists with labels found to put in legend"
        code = main(["evaluate", "--cohort", str(cohort), "--checkpoint", str(ckpt),
                     "--out", str(out), "--n-boot", "20"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "target gate_higher_when_ehr_ambiguous: not applicable" in printed
    not_applicable = (
        "gate_higher_when_ehr_ambiguous",
        "no_film_equals_ehr_path",
        "fusion_beats_ehr_by_0.05",
        "delong_p_below_0.01",
        "gated_at_least_concat",
    )
    for line in printed.splitlines():
        if line.startswith(tuple(f"target {t}:" for t in not_applicable)):
            assert "NOT met" not in line, line
    report = json.loads((out / "report.json").read_text())
    targets = report["sections"]["targets"]
    for name in not_applicable:
        assert str(targets[name]).startswith("not applicable"), (name, targets[name])
    assert report["sections"]["gate"]["applicable"] is False
    assert not (out / "gate.png").exists()
    assert "gate.png" not in report["plots"]["gate"]
    md = (out / "report.md").read_text()
    assert "## Context gate\n\nnot applicable: the primary model ehr_only has no gate" in md
    assert "## Comparisons\n\nnot applicable: one model evaluated" in md
    assert "| comparison |" not in md  # no table with headers only
    assert "Film subgroups (film present, film age): not applicable" in md
    assert "film present" not in report["sections"]["subgroups"]
    assert "![Gate]" not in md
    for line in md.splitlines():
        if line.startswith(tuple(f"| {t} |" for t in not_applicable)):
            assert "| NO |" not in line, line
            assert "not applicable" in line, line


def _expected_windows(cohort: Path) -> tuple[int, int, float, float]:
    """Windows and censored windows by the documented rule, from the cohort's CSVs."""
    rows = csv.DictReader((cohort / "events.csv").open())
    vent = {
        r["patient_key"]: datetime.fromisoformat(r["ventilation_start"])
        for r in rows
        if r["ventilation_start"]
    }
    windows = censored = 0
    first, last = np.inf, -np.inf
    for r in csv.DictReader((cohort / "patients.csv").open()):
        start = datetime.fromisoformat(r["stay_start"])
        record_h = (datetime.fromisoformat(r["stay_end"]) - start).total_seconds() / 3600
        end_h = record_h
        if r["patient_key"] in vent:
            end_h = min(end_h, (vent[r["patient_key"]] - start).total_seconds() / 3600 - 1e-6)
        hours = np.arange(1, int(np.floor(end_h)) + 1)
        windows += len(hours)
        censored += int((hours + HORIZON_H > record_h).sum())
        if len(hours):
            first, last = min(first, hours.min()), max(last, hours.max())
    return windows, censored, float(first), float(last)


def test_the_report_states_prediction_hours_windows_and_censoring(
    filmless: tuple[Path, Path], tmp_path: Path
) -> None:
    cohort, ckpt = filmless
    out = tmp_path / "report"
    report = evaluate(EvaluationRequest((ckpt,), cohort, out, n_boot=10, comparators=False))
    detail = report["data"]["windows_detail"]
    windows, censored, first, last = _expected_windows(cohort)
    assert detail["windows"] == windows
    assert detail["censored"] == censored > 0
    assert detail["censored_positive"] + detail["censored_negative"] == censored
    assert detail["prediction_hours"] == {"first": first, "last": last}
    md = (out / "report.md").read_text()
    assert "prediction times: every hour from hour 1 after the stay start" in md
    assert f"hours {first:.0f}-{last:.0f} after the stay start" in md
    assert f"here {censored} of {windows} windows" in md
    assert "horizon runs past the end of the record are censored: kept" in md
    assert "AUROC without them: ehr_only" in md


def test_roc_pr_bands_prevalence_and_reliability_counts(
    filmless: tuple[Path, Path], tmp_path: Path
) -> None:
    cohort, ckpt = filmless
    ctx = build_context([load_checkpoint(ckpt)], cohort, "all", n_boot=30, seed=0)
    drawn = roc_pr_plot(ctx, tmp_path / "roc_pr.png")
    assert drawn["prevalence"] == pytest.approx(float(ctx.labels.mean()))
    assert drawn["replicates"] == 30
    low, high = drawn["bands"]["ehr_only"]["roc"]
    assert np.all(low <= high + 1e-12)
    assert np.any(high - low > 0)  # a band, not a line
    p_low, p_high = drawn["bands"]["ehr_only"]["pr"]
    assert np.all(p_low <= p_high + 1e-12)
    counts = reliability_plot(ctx, tmp_path / "rel.png", min_count=1)["ehr_only"]
    assert sum(counts) == len(ctx)  # every window in a labelled bin
    report = evaluate(EvaluationRequest((ckpt,), cohort, tmp_path / "r", n_boot=10,
                                        comparators=False))  # fmt: skip
    bins = report["sections"]["calibration"]["ehr_only"]["bins"]
    assert sum(b["n"] for b in bins) == len(ctx)
    assert [b["n"] for b in bins if b["n"]] == counts
