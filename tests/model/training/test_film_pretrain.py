"""Stage 1: film findings as auxiliary targets of the CXR encoder (simulator ``film_truth.csv``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from model.cohort import Cohort, read_cohort
from model.features.dataset import build_windows
from model.features.films import FilmStore
from model.features.spec import FeatureSpec
from model.synth import SynthConfig, simulate
from model.training.film_pretrain import FILM_FINDINGS, finding_targets, stage1_loss
from model.training.loop import TrainConfig
from model.training.pipeline import train_from_cohort

SPEC = replace(FeatureSpec(), lookback_h=24, film_size=32)
SMALL = {"hidden": 16, "cxr_dim": 16, "cnn_width": 8}


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 simulated patients with 32-px films and their latent findings."""
    out = tmp_path_factory.mktemp("film-pretrain") / "cohort"
    simulate(SynthConfig(patients=60, seed=11, film_size=32), out)
    return out


def _films(cohort: Cohort) -> FilmStore:
    return build_windows(cohort, SPEC).films


def test_finding_targets_are_the_film_truth_and_nan_where_unlabelled(sim_root: Path) -> None:
    cohort = read_cohort(sim_root)
    films = _films(cohort)
    targets = finding_targets(cohort, films)
    assert targets is not None
    assert targets.shape == (len(films.uids), len(FILM_FINDINGS))
    first = cohort.film_truth[films.uids[0]]
    np.testing.assert_allclose(targets[0], [float(first[f]) for f in FILM_FINDINGS], rtol=1e-6)
    assert np.nanmin(targets) >= 0.0
    assert np.nanmax(targets) <= 1.0

    del cohort.film_truth[films.uids[0]]
    partial = finding_targets(cohort, films)
    assert partial is not None
    assert np.isnan(partial[0]).all()
    assert np.isfinite(partial[1:]).all()

    cohort.film_truth.clear()
    assert finding_targets(cohort, films) is None


def test_unlabelled_findings_add_nothing_to_the_loss() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 6)
    outcome = torch.tensor([[0.0, 1.0, 1.0]] * 4)
    findings = torch.rand(4, 3)
    with_gap = findings.clone()
    with_gap[2] = float("nan")
    full = stage1_loss(logits, outcome, findings, 1.0)
    assert torch.isfinite(stage1_loss(logits, outcome, with_gap, 1.0))
    keep = torch.tensor([0, 1, 3])
    expected = stage1_loss(logits[:, :3], outcome, None, 1.0) + F.binary_cross_entropy_with_logits(
        logits[keep, 3:], findings[keep]
    )
    torch.testing.assert_close(stage1_loss(logits, outcome, with_gap, 1.0), expected)
    assert not torch.equal(full, expected)
    assert torch.equal(
        stage1_loss(logits, outcome, findings, 0.0), stage1_loss(logits[:, :3], outcome, None, 0)
    )


def test_pipeline_reports_how_well_the_encoder_reads_findings(
    sim_root: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(
        epochs=1, film_epochs=3, val_fraction=0.3, batch_size=128, seed=2, film_finding_weight=1.0
    )
    ckpt = train_from_cohort(sim_root, tmp_path / "g.pt", spec=SPEC, net_overrides=SMALL, cfg=cfg)
    for name in FILM_FINDINGS:
        assert np.isfinite(ckpt.card.metrics[f"film_val_r2_{name}"])
    assert ckpt.train_config["film_finding_weight"] == 1.0

    plain = train_from_cohort(
        sim_root,
        tmp_path / "p.pt",
        spec=SPEC,
        net_overrides=SMALL,
        cfg=replace(cfg, film_finding_weight=0.0),
    )
    assert not any(k.startswith("film_val_r2_") for k in plain.card.metrics)
    assert "film_val_auroc_24h" in plain.card.metrics
    assert plain.model_version != ckpt.model_version
