"""Checkpoint round trip and the model card."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.cohort import read_cohort
from model.features.dataset import build_windows
from model.training.batches import score_windows


def test_round_trip_keeps_everything(
    tiny_checkpoint: Path, tiny_cohort: Path, tmp_path: Path
) -> None:
    a = load_checkpoint(tiny_checkpoint)
    save_checkpoint(a, tmp_path / "copy.pt")
    b = load_checkpoint(tmp_path / "copy.pt")
    assert (a.model_id, a.model_version) == (b.model_id, b.model_version)
    assert a.net_config == b.net_config
    assert a.feature_spec == b.feature_spec
    assert a.normalisation == b.normalisation
    assert a.calibration == b.calibration
    assert a.thresholds == b.thresholds
    assert a.card == b.card
    w = build_windows(read_cohort(tiny_cohort), a.feature_spec)
    rows = torch.arange(len(w)).numpy()
    sa = score_windows(a.build_net(), w, rows, a.normalisation)
    sb = score_windows(b.build_net(), w, rows, b.normalisation)
    assert (sa.logit == sb.logit).all()
    assert (sa.gate == sb.gate).all()


def test_card_says_synthetic_and_renders_markdown(loaded) -> None:  # type: ignore[no-untyped-def]
    card = loaded.card
    assert card.synthetic
    assert "synthetic" in card.training_data
    text = card.to_markdown()
    assert text.startswith(f"# Model card: {loaded.model_id}")
    assert "Intended use" in text
    assert "Limitations" in text
    assert "val_auroc" in text
    assert loaded.thresholds.basis.startswith("validation")


def test_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(junk)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a ventfusion-checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
