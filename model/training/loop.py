"""The training loop: BCE (+ EHR-path auxiliary loss and gate sparsity for ``gated``), Adam,
early stopping on validation AUROC, deterministic per seed."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.nn import functional as F

from model.features.dataset import WindowSet
from model.features.spec import Normalisation
from model.nets import FusionNet, NetConfig
from model.nets.monotone import MONO_LR_MULT
from model.training.batches import Batch, film_embeddings, make_batch, score_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Optimisation settings (saved in the checkpoint)."""

    seed: int = 0
    epochs: int = 10
    patience: int = 3
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    windows_per_epoch: int = 12000  # sample per epoch (hourly windows are redundant); 0 = all
    val_max_windows: int = 6000  # fixed validation subsample for early stopping; 0 = all
    film_epochs: int = 4  # stage-1 CXR encoder pretraining epochs; 0 = train it end to end
    film_batch_size: int = 64
    # stage 1: weight of the auxiliary finding heads (0 = off; used where films are labelled)
    film_finding_weight: float = 0.0
    ehr_aux_weight: float = 0.5  # gated: BCE of the EHR path alone, so it stands on its own
    gate_l1: float = 0.02  # gated: pushes the gate shut unless the film helps
    # gated: EHR-only checkpoint whose EHR encoder + head are copied in and frozen ("" = none);
    # must come from the same cohort, seed and split fractions (its normalisation is reused).
    ehr_warm_start: str = ""
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    threads: int = 0  # 0 = leave torch's default

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_auroc: float
    seconds: float


@dataclass(slots=True)
class TrainResult:
    net: FusionNet
    best_epoch: int
    best_val_auroc: float
    history: list[EpochRecord] = field(default_factory=list)


ProgressFn = Callable[[EpochRecord], None]


def seed_everything(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (CPU kernels used here all have one)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    if labels.min(initial=1) == labels.max(initial=0):
        return float("nan")
    return float(roc_auc_score(labels, scores))


def new_net(net_cfg: NetConfig, cfg: TrainConfig) -> FusionNet:
    """A freshly initialised network, seeded (set ``cfg.threads`` first)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    return FusionNet(net_cfg)


def make_optimizer(net: FusionNet, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; the monotone bedside head learns ``MONO_LR_MULT``
    times faster (its few slopes see the rare severe windows only, ``model.nets.monotone``)."""
    mono = {id(p) for p in net.mono.parameters()} if net.mono is not None else set()
    trainable = [p for p in net.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if id(p) not in mono], "lr": cfg.lr},
        {"params": [p for p in trainable if id(p) in mono], "lr": cfg.lr * MONO_LR_MULT},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)


#: The stage-2 trainer signature (``train_net`` and its DDP twin in ``model.training.distributed``).
Trainer = Callable[
    [WindowSet, Normalisation, FusionNet, TrainConfig, np.ndarray, np.ndarray, ProgressFn | None],
    "TrainResult",
]


def train_net(
    windows: WindowSet,
    norm: Normalisation,
    net: FusionNet,
    cfg: TrainConfig,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    on_epoch: ProgressFn | None = None,
) -> TrainResult:
    """Train the trainable parameters of ``net``; returns it with the weights of the epoch with
    the best validation AUROC."""
    torch.manual_seed(cfg.seed + 2)
    rng = np.random.default_rng(cfg.seed)
    if cfg.val_max_windows and len(val_rows) > cfg.val_max_windows:
        val_rows = np.sort(rng.choice(val_rows, cfg.val_max_windows, replace=False))
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = make_optimizer(net, cfg)
    stopper = EarlyStopping(net, cfg.patience)
    history: list[EpochRecord] = []
    gated = net.cfg.arch == "gated"
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        net.train()
        order = rng.permutation(train_rows)
        if cfg.windows_per_epoch:
            order = order[: cfg.windows_per_epoch]
        total, count = 0.0, 0
        for start in range(0, len(order), cfg.batch_size):
            batch = make_batch(windows, np.sort(order[start : start + cfg.batch_size]), norm)
            out = net(batch.x, film_embeddings(net, batch), batch.film_age, batch.has_film)
            loss = fusion_loss(out.logit, out.logit_ehr, out.gate, batch, cfg, gated=gated)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(trainable, 5.0)
            opt.step()
            total += float(loss.detach()) * len(batch.label)
            count += len(batch.label)
        val = score_windows(net, windows, val_rows, norm)
        auc = _auroc(windows.label[val_rows], val.logit)
        record = EpochRecord(epoch, total / max(count, 1), auc, time.perf_counter() - started)
        history.append(record)
        log.info(
            "epoch %d: loss %.4f, val AUROC %.4f (%.1f s)",
            epoch,
            record.train_loss,
            auc,
            record.seconds,
        )
        if on_epoch is not None:
            on_epoch(record)
        if stopper.update(epoch, auc):
            break
    stopper.restore_best()
    net.eval()
    return TrainResult(net, stopper.best_epoch, stopper.best_auc, history)


def fusion_loss(
    logit: torch.Tensor,
    logit_ehr: torch.Tensor,
    gate: torch.Tensor,
    batch: Batch,
    cfg: TrainConfig,
    *,
    gated: bool,
) -> torch.Tensor:
    """BCE of the fused logit; for the gated net also the EHR path's own BCE (so it stands on its
    own) and an L1 pressure on the gate per film window (shut unless the film helps)."""
    loss = F.binary_cross_entropy_with_logits(logit, batch.label)
    if gated:
        loss = loss + cfg.ehr_aux_weight * F.binary_cross_entropy_with_logits(
            logit_ehr, batch.label
        )
        has = batch.has_film.sum().clamp(min=1.0)
        loss = loss + cfg.gate_l1 * gate.sum() / has
    return loss


class EarlyStopping:
    """Keeps the weights of the epoch with the best validation AUROC; says when to stop."""

    def __init__(self, net: torch.nn.Module, patience: int) -> None:
        self._net = net
        self._patience = patience
        self._best_state = copy.deepcopy(net.state_dict())
        self._stale = 0
        self.best_auc = -1.0
        self.best_epoch = 0

    def update(self, epoch: int, auc: float) -> bool:
        """Record an epoch's validation AUROC; True when training should stop."""
        if np.isnan(auc) or auc > self.best_auc:
            self.best_auc = auc if not np.isnan(auc) else self.best_auc
            self._best_state = copy.deepcopy(self._net.state_dict())
            self.best_epoch, self._stale = epoch, 0
            return False
        self._stale += 1
        return self._stale >= self._patience

    def restore_best(self) -> None:
        self._net.load_state_dict(self._best_state)
