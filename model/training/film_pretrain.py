"""Stage 1: pretrain the CXR encoder on film-level targets, then cache embeddings.

Training the CNN inside every (window) batch is too slow on a CPU: a film is shared by dozens of
hourly windows. Instead the CNN learns, per film, "ventilation within 24 / 48 / 96 h of this
film" (films acquired after ventilation started are skipped) and, where the cohort has film
findings (the simulator's ``film_truth.csv``, or a site's radiology labels in the same format),
auxiliary finding heads for the extent of consolidation, edema and effusion — what a
foundation model's embedding is trained to encode. It is then frozen and every film is
embedded once; stage 2 trains the EHR encoder, gate and head on the cached embeddings. The same
frozen CNN embeds films at serving time (``Predictor.embed_film``), so the cached-embedding fast
path is exactly what was trained.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import replace

import numpy as np
import torch
from sklearn.metrics import r2_score
from torch import nn
from torch.nn import functional as F

from model.cohort import Cohort
from model.evaluation.metrics import auroc
from model.features.dataset import WindowSet
from model.features.films import FilmStore
from model.nets import FusionNet

log = logging.getLogger(__name__)

FILM_HORIZONS_H = (24.0, 48.0, 96.0)
#: Film findings (0..1 extents in ``film_truth.csv``) learned by the auxiliary heads.
FILM_FINDINGS = ("consolidation", "edema", "effusion")


def film_targets(cohort: Cohort, films: FilmStore) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(N, 3)`` (ventilation within each horizon after the film) and a usable mask
    (film acquired before ventilation, or patient never ventilated)."""
    n = len(films.keys)
    targets = np.zeros((n, len(FILM_HORIZONS_H)), np.float32)
    usable = np.ones(n, bool)
    for i, (key, time) in enumerate(zip(films.keys, films.times, strict=True)):
        vent = cohort.ventilation_start.get(key)
        if vent is None:
            continue
        lead_h = (vent - time).total_seconds() / 3600.0
        if lead_h <= 0:
            usable[i] = False
            continue
        targets[i] = [lead_h <= h for h in FILM_HORIZONS_H]
    return targets, usable


def finding_targets(cohort: Cohort, films: FilmStore) -> np.ndarray | None:
    """Finding extents ``(N, len(FILM_FINDINGS))`` in 0..1, NaN where a film has no label;
    None when the cohort labels no film at all."""
    out = np.full((len(films.uids), len(FILM_FINDINGS)), np.nan, np.float32)
    for i, uid in enumerate(films.uids):
        truth = cohort.film_truth.get(uid)
        if truth is None:
            continue
        for k, name in enumerate(FILM_FINDINGS):
            value = truth.get(name, "")
            if value not in ("", None):
                out[i, k] = min(max(float(value), 0.0), 1.0)
    return out if np.isfinite(out).any() else None


def stage1_loss(
    logits: torch.Tensor, outcome: torch.Tensor, findings: torch.Tensor | None, weight: float
) -> torch.Tensor:
    """Outcome BCE plus ``weight`` x soft-target BCE of the labelled finding extents."""
    n_out = outcome.shape[1]
    loss = F.binary_cross_entropy_with_logits(logits[:, :n_out], outcome)
    if findings is not None and weight > 0:
        known = torch.isfinite(findings)
        if bool(known.any()):
            aux = F.binary_cross_entropy_with_logits(
                logits[:, n_out:][known], findings[known], reduction="mean"
            )
            loss = loss + weight * aux
    return loss


def _finding_r2(truth: np.ndarray, read: np.ndarray) -> dict[str, float]:
    """Validation R² of each finding read by the head (labelled films only)."""
    out: dict[str, float] = {}
    for k, name in enumerate(FILM_FINDINGS):
        known = np.isfinite(truth[:, k])
        if known.sum() > 1 and truth[known, k].var() > 0:
            out[f"film_val_r2_{name}"] = float(r2_score(truth[known, k], read[known, k]))
    return out


def pretrain_film_encoder(
    net: FusionNet,
    films: FilmStore,
    targets: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    findings: np.ndarray | None = None,
    finding_weight: float = 1.0,
) -> dict[str, float]:
    """Train ``net.cxr`` with a temporary linear head (outcomes, plus findings when given);
    keeps the best epoch by validation loss. Returns validation AUROC per horizon and, with
    findings, the validation R² of each finding read from the embedding."""
    torch.manual_seed(seed + 1)
    rng = np.random.default_rng(seed + 1)
    encoder = net.cxr
    n_out = targets.shape[1] + (findings.shape[1] if findings is not None else 0)
    head = nn.Linear(int(encoder.out_dim), n_out)  # type: ignore[arg-type]
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    data = torch.from_numpy(films.data)
    y = torch.from_numpy(targets)
    f = torch.from_numpy(findings) if findings is not None else None
    best = (float("inf"), copy.deepcopy(encoder.state_dict()))

    def val_logits() -> torch.Tensor:
        encoder.eval()
        with torch.no_grad():
            parts = [head(encoder(data[val_idx[s : s + 256]])) for s in range(0, len(val_idx), 256)]
        return torch.cat(parts) if parts else torch.zeros(0, n_out)

    for epoch in range(1, epochs + 1):
        encoder.train()
        order = rng.permutation(train_idx)
        for s in range(0, len(order), batch_size):
            idx = np.sort(order[s : s + batch_size])
            batch_f = f[idx] if f is not None else None
            loss = stage1_loss(head(encoder(data[idx])), y[idx], batch_f, finding_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        logits = val_logits()
        val_f = f[val_idx] if f is not None else None
        val_loss = (
            float(stage1_loss(logits, y[val_idx], val_f, finding_weight)) if len(val_idx) else 0.0
        )
        log.info("film encoder epoch %d: val loss %.4f", epoch, val_loss)
        if val_loss < best[0]:
            best = (val_loss, copy.deepcopy(encoder.state_dict()))
    encoder.load_state_dict(best[1])
    val_scores = val_logits()
    result = {
        f"film_val_auroc_{h:.0f}h": auroc(targets[val_idx, k], val_scores[:, k].numpy())
        for k, h in enumerate(FILM_HORIZONS_H)
    }
    if findings is not None and len(val_idx):
        read = torch.sigmoid(val_scores[:, targets.shape[1] :]).numpy()
        result.update(_finding_r2(findings[val_idx], read))
    for p in encoder.parameters():
        p.requires_grad_(False)
    encoder.eval()
    return result


@torch.no_grad()
def embed_store(net: FusionNet, films: FilmStore, batch_size: int = 512) -> FilmStore:
    """Every film through the (frozen) CXR encoder: a store of embeddings ``(N, E)``."""
    net.cxr.eval()
    data = torch.from_numpy(films.data)
    parts = [net.embed(data[s : s + batch_size]) for s in range(0, len(data), batch_size)]
    width = int(net.cxr.out_dim)  # type: ignore[arg-type]
    emb = torch.cat(parts).numpy() if parts else np.zeros((0, width), np.float32)
    return replace(films, data=np.ascontiguousarray(emb, dtype=np.float32))


def with_films(windows: WindowSet, films: FilmStore) -> WindowSet:
    """The same windows reading another film store (e.g. cached embeddings)."""
    out = windows.subset(np.arange(len(windows)))
    out.films = films
    return out
