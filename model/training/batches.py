"""Turning window rows into tensors, and scoring windows with a net (batched, no grad)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model.features.dataset import WindowSet
from model.features.spec import Normalisation
from model.nets import FusionNet


@dataclass(slots=True)
class Batch:
    x: torch.Tensor  # (B, T, F)
    films: torch.Tensor  # (U, ...) unique films of the batch (pixels or embeddings)
    film_pos: torch.Tensor  # (B,) index into films, -1 none
    film_age: torch.Tensor  # (B,) age / max_age, 0 none
    has_film: torch.Tensor  # (B,) 0/1
    label: torch.Tensor  # (B,)


def make_batch(windows: WindowSet, rows: np.ndarray, norm: Normalisation) -> Batch:
    """Tensors for the windows at ``rows``; each distinct film appears once."""
    film = windows.film[rows]
    has = film >= 0
    uniq, inverse = np.unique(film[has], return_inverse=True)
    pos = np.full(len(rows), -1, np.int64)
    pos[has] = inverse
    age = np.where(has, windows.film_age_h[rows] / windows.spec.film_max_age_h, 0.0)
    return Batch(
        x=torch.from_numpy(windows.ehr_inputs(rows, norm)),
        films=torch.from_numpy(np.ascontiguousarray(windows.films.data[uniq])),
        film_pos=torch.from_numpy(pos),
        film_age=torch.from_numpy(age.astype(np.float32)),
        has_film=torch.from_numpy(has.astype(np.float32)),
        label=torch.from_numpy(windows.label[rows]),
    )


def film_embeddings(net: FusionNet, batch: Batch) -> torch.Tensor:
    """Per-window CXR embedding (zeros where there is no film). A batch built from a store of
    cached embeddings (2-D) skips the CNN."""
    n = batch.x.shape[0]
    if not net.uses_film or batch.films.shape[0] == 0:
        width = int(net.cxr.out_dim)  # type: ignore[arg-type]
        return torch.zeros(n, width)
    precomputed = batch.films.ndim == 2 and net.cfg.cxr_encoder != "embedding"
    emb = batch.films if precomputed else net.embed(batch.films)
    gathered = emb[batch.film_pos.clamp(min=0)]
    return gathered * batch.has_film[:, None]


@dataclass(slots=True)
class Scores:
    logit: np.ndarray
    logit_ehr: np.ndarray
    gate: np.ndarray


@torch.no_grad()
def score_windows(
    net: FusionNet,
    windows: WindowSet,
    rows: np.ndarray,
    norm: Normalisation,
    batch_size: int = 1024,
) -> Scores:
    """Raw logits, EHR-path logits and gate values of the windows at ``rows`` (eval mode)."""
    net.eval()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(rows), batch_size):
        batch = make_batch(windows, rows[start : start + batch_size], norm)
        out = net(batch.x, film_embeddings(net, batch), batch.film_age, batch.has_film)
        parts.append((out.logit.numpy(), out.logit_ehr.numpy(), out.gate.numpy()))
    if not parts:
        empty = np.zeros(0, np.float32)
        return Scores(empty, empty, empty)
    return Scores(*(np.concatenate([p[i] for p in parts]) for i in range(3)))
