"""The observable-ceiling and bedside-index sections of the evaluation, on simulator cohorts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.evaluation.ceiling import CeilingError, ceiling_table
from model.evaluation.metrics import auroc
from model.evaluation.run import EvaluationRequest, evaluate
from model.evaluation.sections_ceiling import bedside_index_scores
from model.synth import SynthConfig, simulate
from tests.model.conftest import TINY_SPEC


@pytest.fixture(scope="module")
def sim_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ceiling")
    for name, seed in (("train", 11), ("test", 12)):
        simulate(SynthConfig(patients=60, seed=seed, film_size=32, workers=1), root / name)
    return root / "train", root / "test"


def test_report_has_the_ceiling_beside_the_oracle_and_rox_as_a_score(
    tiny_checkpoint: Path, sim_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = sim_pair
    out = tmp_path / "report"
    report = evaluate(EvaluationRequest((tiny_checkpoint,), test, out, n_boot=10,
                                        ceiling_train=train))  # fmt: skip
    sections = report["sections"]
    ceiling = sections["observable_ceiling"]
    assert 0.5 < ceiling["ceiling_auroc"]["estimate"] <= 1.0
    assert ceiling["oracle_auroc"]["estimate"] >= ceiling["ceiling_auroc"]["estimate"] - 0.05
    gap = ceiling["gaps"]["gated"]["estimate"]
    model_auc = sections["discrimination"]["models"]["gated"]["auroc"]["estimate"]
    assert gap == pytest.approx(ceiling["ceiling_auroc"]["estimate"] - model_auc)
    targets = sections["targets"]
    assert targets["within_0.025_of_observable_ceiling"] is (gap <= 0.025)
    assert not any("oracle" in name for name in targets)  # the oracle target is retired
    bedside = sections["bedside_indices"]
    assert 0 < bedside["windows"] <= report["data"]["windows"]
    rox = bedside["indices"]["ROX index"]["estimate"]
    minus = bedside["models"]["gated"]["minus_rox"]["estimate"]
    assert minus == pytest.approx(bedside["models"]["gated"]["auroc"]["estimate"] - rox)
    assert targets["auroc_above_rox_index"] is (minus > 0)
    md = (out / "report.md").read_text()
    assert "## Observable ceiling (synthetic)" in md
    assert "perfect film reader" in md
    assert "## Bedside indices as scores" in md
    assert json.loads((out / "report.json").read_text())["sections"]["observable_ceiling"]


def test_rox_score_is_risk_oriented() -> None:
    latest = {
        "spo2": np.asarray([98.0, 90.0, np.nan]),
        "fio2": np.asarray([21.0, 80.0, 40.0]),
        "resp_rate": np.asarray([14.0, 36.0, 20.0]),
    }
    scores = bedside_index_scores(latest)
    assert scores["ROX index"][1] > scores["ROX index"][0]  # lower ROX = higher risk
    assert np.isnan(scores["ROX index"][2])
    assert auroc(np.asarray([0, 1]), scores["SpO2/FiO2"][:2]) == 1.0


def test_a_cohort_without_film_truth_has_no_ceiling(tiny_cohort: Path) -> None:
    if (tiny_cohort / "film_truth.csv").exists():
        pytest.skip("the tiny cohort labels its films")
    with pytest.raises(CeilingError, match="simulator cohort"):
        ceiling_table(tiny_cohort, TINY_SPEC)
