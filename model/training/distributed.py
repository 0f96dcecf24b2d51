"""Data-parallel training with ``torchrun`` (DistributedDataParallel; gloo on CPU, NCCL on GPU).

    torchrun --standalone --nproc_per_node=2 -m model.training.distributed \\
        --cohort var/cohort --out var/models/gated-ddp.pt

Every rank builds the same windows and split, and runs stage 1 (film encoder) identically; stage 2
(the fusion network) shards the training windows with ``DistributedSampler``: each rank takes
``batch_size / world`` windows per step and DDP averages the gradients, so one step sees the same
global batch as a single process. Training loss and validation logits are gathered across ranks,
so every rank computes the same AUROC and takes the same early-stopping decision. Rank 0 writes
the checkpoint (through ``model.training.pipeline.train_from_cohort``).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler

from model.evaluation.metrics import auroc
from model.features.dataset import WindowSet
from model.features.spec import FeatureSpec, Normalisation
from model.nets import FusionNet
from model.training import pipeline
from model.training.batches import Batch, film_embeddings, make_batch
from model.training.loop import (
    EarlyStopping,
    EpochRecord,
    ProgressFn,
    TrainConfig,
    TrainResult,
    fusion_loss,
    make_optimizer,
)

log = logging.getLogger(__name__)


class _Step(nn.Module):
    """The whole forward of one batch (film embedding + fusion) as one module, so DDP sees it."""

    def __init__(self, net: FusionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        emb = film_embeddings(self.net, batch).to(batch.x.device)  # zeros are made on the CPU
        out = self.net(batch.x, emb, batch.film_age, batch.has_film)
        return out.logit, out.logit_ehr, out.gate


class _Indices(Dataset[int]):
    """Positions ``0 .. n-1`` of the training rows (what ``DistributedSampler`` shards)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index


def _to(batch: Batch, device: torch.device) -> Batch:
    return Batch(**{f.name: getattr(batch, f.name).to(device) for f in fields(Batch)})


def _gather(values: np.ndarray, world: int) -> list[np.ndarray]:
    parts: list[object] = [None] * world
    dist.all_gather_object(parts, values)
    return [np.asarray(p) for p in parts]


@torch.no_grad()
def _val_logits(
    step: _Step, windows: WindowSet, val_rows: np.ndarray, norm: Normalisation, device: torch.device
) -> np.ndarray:
    """Logits of all validation windows: rank r scores ``rows[r::world]``, then all gather."""
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = val_rows[rank::world]
    step.eval()
    parts = []
    for start in range(0, len(mine), 1024):
        batch = _to(make_batch(windows, mine[start : start + 1024], norm), device)
        parts.append(step(batch)[0].float().cpu().numpy())
    local = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    merged = np.zeros(len(val_rows), np.float32)
    for r, logits in enumerate(_gather(local, world)):
        merged[r::world] = logits
    return merged


def _loss(model: nn.Module, batch: Batch, cfg: TrainConfig, gated: bool) -> torch.Tensor:
    logit, logit_ehr, gate = model(batch)
    return fusion_loss(logit, logit_ehr, gate, batch, cfg, gated=gated)


def ddp_train_net(
    windows: WindowSet,
    norm: Normalisation,
    net: FusionNet,
    cfg: TrainConfig,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    on_epoch: ProgressFn | None = None,
) -> TrainResult:
    """``model.training.loop.train_net`` across the ranks of the initialised process group.

    Same signature and result; every rank returns the same (best-epoch) weights, on the CPU.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    device = _device()
    torch.manual_seed(cfg.seed + 2)
    rng = np.random.default_rng(cfg.seed)
    if cfg.val_max_windows and len(val_rows) > cfg.val_max_windows:
        val_rows = np.sort(rng.choice(val_rows, cfg.val_max_windows, replace=False))
    step = _Step(net).to(device)
    # Batches without films leave the CXR path unused: let DDP mark those gradients ready.
    model = DistributedDataParallel(step, find_unused_parameters=True)
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = make_optimizer(net, cfg)
    sampler: DistributedSampler[int] = DistributedSampler(
        _Indices(len(train_rows)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed
    )
    per_rank_batch = max(1, cfg.batch_size // world)
    stopper = EarlyStopping(net, cfg.patience)
    history: list[EpochRecord] = []
    gated = net.cfg.arch == "gated"
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        model.train()  # type: ignore[no-untyped-call]
        sampler.set_epoch(epoch)
        order = train_rows[np.fromiter(iter(sampler), np.int64)]
        if cfg.windows_per_epoch:
            order = order[: max(1, cfg.windows_per_epoch // world)]
        sums = torch.zeros(2, dtype=torch.float64, device=device)
        for start in range(0, len(order), per_rank_batch):
            rows = np.sort(order[start : start + per_rank_batch])
            batch = _to(make_batch(windows, rows, norm), device)
            loss = _loss(model, batch, cfg, gated)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(trainable, 5.0)
            opt.step()
            sums[0] += float(loss.detach()) * len(rows)
            sums[1] += len(rows)
        dist.all_reduce(sums)  # the epoch's mean loss over every rank's windows
        auc = auroc(windows.label[val_rows], _val_logits(step, windows, val_rows, norm, device))
        mean_loss = float(sums[0] / sums[1].clamp(min=1.0))
        record = EpochRecord(epoch, mean_loss, auc, time.perf_counter() - started)
        history.append(record)
        if rank == 0:
            log.info("epoch %d: loss %.4f, val AUROC %.4f (%d ranks)", epoch, mean_loss, auc, world)
            if on_epoch is not None:
                on_epoch(record)
        if stopper.update(epoch, auc):
            break
    stopper.restore_best()
    net.to("cpu").eval()
    return TrainResult(net, stopper.best_epoch, stopper.best_auc, history)


def _use_cuda() -> bool:
    return torch.cuda.is_available() and os.environ.get("VENTFUSION_DDP_CPU", "") != "1"


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if _use_cuda() else torch.device("cpu")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_process_group() -> tuple[int, int]:
    """Join the torchrun group (NCCL with CUDA, else gloo); without torchrun, a group of one."""
    if "RANK" not in os.environ:
        os.environ.update(
            RANK="0",
            WORLD_SIZE="1",
            LOCAL_RANK="0",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(_free_port()),
        )
    if _use_cuda():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if _use_cuda() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def run_pipeline(
    cohort: Path,
    out: Path,
    *,
    spec: FeatureSpec,
    net_overrides: dict[str, object],
    cfg: TrainConfig,
) -> None:
    """``train_from_cohort`` with stage 2 trained by :func:`ddp_train_net` on every rank."""
    pipeline.train_from_cohort(
        cohort, out, spec=spec, net_overrides=net_overrides, cfg=cfg, trainer=ddp_train_net
    )


def _parser() -> argparse.ArgumentParser:
    train, spec = TrainConfig(), FeatureSpec()
    parser = argparse.ArgumentParser(
        prog="torchrun ... -m model.training.distributed",
        description="Train a VentFusion model on a cohort with DDP (one process per rank).",
    )
    parser.add_argument("--cohort", type=Path, required=True, help="cohort directory")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint written by rank 0")
    parser.add_argument("--arch", default="gated", help="gated | concat | ehr_only | image_only")
    parser.add_argument("--epochs", type=int, default=train.epochs)
    parser.add_argument("--patience", type=int, default=train.patience)
    parser.add_argument("--batch-size", type=int, default=train.batch_size, help="global")
    parser.add_argument("--lr", type=float, default=train.lr)
    parser.add_argument("--seed", type=int, default=train.seed)
    parser.add_argument("--windows-per-epoch", type=int, default=train.windows_per_epoch)
    parser.add_argument("--film-epochs", type=int, default=train.film_epochs)
    parser.add_argument("--film-finding-weight", type=float, default=train.film_finding_weight)
    parser.add_argument("--val-fraction", type=float, default=train.val_fraction)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank (CPU)")
    parser.add_argument("--lookback-h", type=int, default=spec.lookback_h)
    parser.add_argument("--film-size", type=int, default=spec.film_size)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--cxr-dim", type=int, default=64)
    parser.add_argument("--cnn-width", type=int, default=16)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``torchrun -m model.training.distributed``; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    rank, world = init_process_group()
    try:
        cfg = TrainConfig(
            seed=args.seed,
            epochs=args.epochs,
            patience=args.patience,
            batch_size=args.batch_size,
            lr=args.lr,
            windows_per_epoch=args.windows_per_epoch,
            film_epochs=args.film_epochs,
            film_finding_weight=args.film_finding_weight,
            val_fraction=args.val_fraction,
            threads=args.threads,
        )
        spec = replace(FeatureSpec(), lookback_h=args.lookback_h, film_size=args.film_size)
        overrides = {
            "arch": args.arch,
            "hidden": args.hidden,
            "cxr_dim": args.cxr_dim,
            "cnn_width": args.cnn_width,
        }
        # Every rank runs the pipeline (same windows, split, stage 1); rank 0's file is kept.
        out = args.out if rank == 0 else args.out.with_name(f".{args.out.name}.rank{rank}.tmp")
        run_pipeline(args.cohort, out, spec=spec, net_overrides=overrides, cfg=cfg)
        if rank != 0:
            out.unlink(missing_ok=True)
        dist.barrier()
        if rank == 0:
            log.info("trained on %d ranks; checkpoint %s", world, args.out)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
