"""Fixtures of the model tests: a tiny seeded cohort and a checkpoint trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.checkpoint import Checkpoint
from model.features.spec import FeatureSpec
from model.training.loop import TrainConfig
from model.training.pipeline import train_from_cohort
from tests.model.cohort_factory import write_tiny_cohort

TINY_SPEC = FeatureSpec(lookback_h=24, film_max_age_h=72.0, film_size=32)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-patient cohort with films (shared, read-only by convention)."""
    return write_tiny_cohort(tmp_path_factory.mktemp("cohort") / "tiny", n_patients=12, seed=3)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gated model trained for one epoch on the tiny cohort."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ckpt") / "gated.pt"
    train_from_cohort(
        tiny_cohort,
        out,
        spec=TINY_SPEC,
        net_overrides={"hidden": 16, "cxr_dim": 16, "cnn_width": 8},
        cfg=TrainConfig(epochs=1, val_fraction=0.34, batch_size=128),
    )
    return out


@pytest.fixture
def loaded(tiny_checkpoint: Path) -> Checkpoint:
    from model.checkpoint import load_checkpoint

    return load_checkpoint(tiny_checkpoint)
