"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.backbones import BackboneFiles

#: ``../shared`` beside the checkout; present on developer machines and CI, never on a user's.
#: ``VENTFUSION_SHARED_DIR`` points elsewhere (a git worktree that is not beside it).
SHARED_DIR = Path(
    os.environ.get("VENTFUSION_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
REFERENCE_DIR = SHARED_DIR / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """The shared reference files; tests that need them skip cleanly when absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip("../shared/reference is not beside this checkout")
    return REFERENCE_DIR


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's VENTFUSION_* / DATABASE_URL environment out of the tests."""
    for name in list(os.environ):
        if name.startswith("VENTFUSION_") and name != "VENTFUSION_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def test_backbones(tmp_path_factory: pytest.TempPathFactory) -> BackboneFiles:
    """Seeded MONAI DenseNet121 film backbones exported to ONNX and TorchScript, with manifests."""
    from tests.support.backbones import build_test_backbones

    return build_test_backbones(tmp_path_factory.mktemp("backbones"))


@pytest.fixture(scope="session")
def backbone_cohort(
    test_backbones: BackboneFiles, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A tiny synthetic cohort whose films were embedded by the ONNX test backbone (read-only)."""
    from model.backbone.cohort import embed_cohort
    from model.backbone.runtime import Backbone
    from tests.model.cohort_factory import write_tiny_cohort

    root = tmp_path_factory.mktemp("backbone-cohort")
    source = write_tiny_cohort(root / "tiny", n_patients=12, seed=3)
    out = root / "tiny-embedded"
    embed_cohort(source, Backbone.load(test_backbones.onnx), out, batch_size=8)
    return out


@pytest.fixture(scope="session")
def backbone_checkpoint(backbone_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gated model on the ONNX test backbone's embeddings (one epoch on the tiny cohort)."""
    import torch

    from model.features.spec import FeatureSpec
    from model.training.loop import TrainConfig
    from model.training.pipeline import train_from_cohort

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("backbone-ckpt") / "gated-embedding.pt"
    train_from_cohort(
        backbone_cohort,
        out,
        spec=FeatureSpec(lookback_h=24, film_max_age_h=72.0, film_size=32),
        net_overrides={"hidden": 16},
        cfg=TrainConfig(epochs=1, val_fraction=0.34, batch_size=128),
    )
    return out
