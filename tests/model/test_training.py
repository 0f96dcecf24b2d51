"""Training: one step moves the weights; the same seed gives the same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from model.checkpoint import load_checkpoint
from model.cohort import read_cohort
from model.features.dataset import build_windows, fit_on_split
from model.nets import NetConfig
from model.training.batches import film_embeddings, make_batch
from model.training.loop import TrainConfig, new_net
from model.training.pipeline import train_from_cohort
from tests.model.conftest import TINY_SPEC

SMALL = {"hidden": 16, "cxr_dim": 16, "cnn_width": 8}


def test_one_training_step_reduces_loss_on_the_batch(tiny_cohort: Path) -> None:
    torch.set_num_threads(1)
    cohort = read_cohort(tiny_cohort)
    w = build_windows(cohort, TINY_SPEC)
    norm = fit_on_split(cohort, w, set(w.patient_keys))
    net = new_net(NetConfig(n_inputs=TINY_SPEC.n_inputs, lookback_h=24, **SMALL), TrainConfig())
    rows = np.arange(0, len(w), 3)
    batch = make_batch(w, rows, norm)
    assert batch.x.shape == (len(rows), 24, TINY_SPEC.n_inputs)
    assert batch.films.shape[1:] == (1, 32, 32)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def loss() -> torch.Tensor:
        out = net(batch.x, film_embeddings(net, batch), batch.film_age, batch.has_film)
        return F.binary_cross_entropy_with_logits(out.logit, batch.label)

    first = loss()
    opt.zero_grad()
    first.backward()
    opt.step()
    with torch.no_grad():
        assert float(loss()) < float(first.detach())
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("ehr.") for k in changed)
    assert any(k.startswith("cxr.") for k in changed)


def test_training_is_deterministic_per_seed(tiny_cohort: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=1, film_epochs=1, val_fraction=0.34, batch_size=128, seed=7)
    a = train_from_cohort(
        tiny_cohort, tmp_path / "a.pt", spec=TINY_SPEC, net_overrides=SMALL, cfg=cfg
    )
    b = train_from_cohort(
        tiny_cohort, tmp_path / "b.pt", spec=TINY_SPEC, net_overrides=SMALL, cfg=cfg
    )
    assert a.model_version == b.model_version
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k]), k
    assert load_checkpoint(tmp_path / "a.pt").calibration == b.calibration
    c = train_from_cohort(
        tiny_cohort,
        tmp_path / "c.pt",
        spec=TINY_SPEC,
        net_overrides=SMALL,
        cfg=TrainConfig(epochs=1, film_epochs=1, val_fraction=0.34, batch_size=128, seed=8),
    )
    assert c.model_version != a.model_version


def test_baselines_train_in_the_same_harness(tiny_cohort: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=1, film_epochs=1, val_fraction=0.34, batch_size=256)
    for arch in ("ehr_only", "concat", "image_only"):
        ckpt = train_from_cohort(
            tiny_cohort,
            tmp_path / f"{arch}.pt",
            spec=TINY_SPEC,
            net_overrides={**SMALL, "arch": arch},
            cfg=cfg,
        )
        assert ckpt.model_id == f"ventfusion-{arch.replace('_', '-')}"
        assert 0.0 <= ckpt.thresholds.info <= ckpt.thresholds.warning <= ckpt.thresholds.critical
