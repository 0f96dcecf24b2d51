"""torchrun with 2 CPU processes (DDP, gloo) trains to the same metrics as one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.features.spec import FeatureSpec
from model.synth import SynthConfig, simulate
from model.training.loop import TrainConfig
from model.training.pipeline import train_from_cohort

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC = FeatureSpec(lookback_h=24, film_size=32)
OVERRIDES: dict[str, object] = {"hidden": 16, "cxr_dim": 16, "cnn_width": 8}
CFG = TrainConfig(
    epochs=3, patience=3, batch_size=128, film_epochs=1, windows_per_epoch=0, threads=1
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 synthetic patients with 32-px films (seeded)."""
    out = tmp_path_factory.mktemp("ddp") / "cohort"
    simulate(SynthConfig(patients=60, seed=11, film_size=32), out)
    return out


def _torchrun(cohort: Path, out: Path) -> None:
    args = [
        "--cohort", str(cohort), "--out", str(out), "--epochs", str(CFG.epochs),
        "--patience", str(CFG.patience), "--batch-size", str(CFG.batch_size),
        "--film-epochs", str(CFG.film_epochs), "--windows-per-epoch", "0",
        "--threads", "1", "--lookback-h", str(SPEC.lookback_h),
        "--film-size", str(SPEC.film_size), "--hidden", "16", "--cxr-dim", "16",
        "--cnn-width", "8",
    ]  # fmt: skip
    env = {**os.environ, "VENTFUSION_DDP_CPU": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "model.training.distributed",
            *args,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "trained on 2 ranks" in result.stderr


def test_two_cpu_ranks_match_one_process(cohort: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    single = train_from_cohort(
        cohort, tmp_path / "one.pt", spec=SPEC, net_overrides=OVERRIDES, cfg=CFG
    )
    _torchrun(cohort, tmp_path / "two.pt")
    ddp = load_checkpoint(tmp_path / "two.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.pt", "two.pt"]  # rank 1 tidied up
    one, two = single.card.metrics, ddp.card.metrics
    assert one["val_windows"] == two["val_windows"]  # same patient-level split
    assert one["val_auroc"] > 0.7
    assert two["val_auroc"] > 0.7
    assert abs(one["val_auroc"] - two["val_auroc"]) < 0.03
    assert abs(one["val_brier"] - two["val_brier"]) < 0.02
    assert len(ddp.history) == CFG.epochs
    assert ddp.state_dict.keys() == single.state_dict.keys()
