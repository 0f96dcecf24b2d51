"""Fit the applicability guard on a training run's data, or attach it to an existing checkpoint.

``ventfusion train`` calls :func:`fit_applicability` after training, so every new checkpoint
carries its guard. A checkpoint trained before the guard existed gets one with
:func:`attach_applicability` (CLI: ``ventfusion attach-applicability --checkpoint CKPT --cohort
TRAINING_COHORT``), run over the same training cohort: it rebuilds the windows and the
patient-level split from the checkpoint's own feature spec and training seed, so the statistics
are those of the data the model was trained and validated on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model import ModelError
from model.applicability.ehr import EhrGuard, training_coverage
from model.applicability.film import FilmGuard, appearance_features
from model.applicability.stats import ApplicabilityStats
from model.cohort import Cohort
from model.features.films import FilmStore
from model.features.spec import plausible
from model.nets import FusionNet

log = logging.getLogger(__name__)


def _usable_films(cohort: Cohort, films: FilmStore) -> np.ndarray:
    """Films acquired before ventilation started (the ones a prediction window can use)."""
    usable = np.ones(len(films.keys), bool)
    for i, (key, time) in enumerate(zip(films.keys, films.times, strict=True)):
        vent = cohort.ventilation_start.get(key)
        usable[i] = vent is None or time < vent
    return usable


@torch.no_grad()
def _embed(net: FusionNet, films: FilmStore, rows: np.ndarray) -> np.ndarray:
    if films.is_embedding:
        return np.asarray(films.data[rows], np.float64)
    net.eval()
    data = torch.from_numpy(np.ascontiguousarray(films.data[rows]))
    parts = [net.embed(data[s : s + 512]) for s in range(0, len(data), 512)]
    return torch.cat(parts).numpy().astype(np.float64) if parts else np.zeros((0, 0))


def fit_film_guard(
    cohort: Cohort,
    films: FilmStore,
    net: FusionNet,
    train_keys: set[str],
    val_keys: set[str],
) -> FilmGuard | None:
    """The film guard from the training (fit) and validation (calibration) patients' films.

    ``films`` are the cohort's films as loaded for training (pixels, or embeddings for an
    embedding cohort). None when the model reads no film or there are too few films."""
    if not net.uses_film:
        return None
    usable = _usable_films(cohort, films)
    keys = np.asarray(films.keys)
    train = np.flatnonzero(usable & np.isin(keys, list(train_keys)))
    val = np.flatnonzero(usable & np.isin(keys, list(val_keys)))
    if len(train) < 2 or len(train) + len(val) < 3:
        log.warning("applicability: %d training films, too few for a film guard", len(train))
        return None
    appearance = None if films.is_embedding else appearance_features(films.data)
    guard = FilmGuard.fit(
        _embed(net, films, train),
        _embed(net, films, val),
        appearance[train] if appearance is not None else None,
        appearance[val] if appearance is not None else None,
    )
    log.info(
        "applicability: film guard on %d training films, threshold %.3f on %s",
        len(train),
        guard.threshold,
        guard.calibrated_on,
    )
    return guard


def fit_ehr_guard(
    cohort: Cohort,
    variables: tuple[str, ...],
    train_keys: set[str],
    coverage: tuple[np.ndarray, np.ndarray],
) -> EhrGuard:
    """The EHR guard from the training patients' charted values and windows' coverage."""
    keys = np.asarray(cohort.m_key)
    names = np.asarray(cohort.m_variable)
    values = np.asarray(cohort.m_value, np.float64)
    mine = np.isin(keys, list(train_keys))
    per_var = {}
    for name in variables:
        v = values[mine & (names == name)]
        per_var[name] = v[plausible(name, v)]
    return EhrGuard.fit(per_var, *coverage)


def fit_applicability(
    cohort: Cohort,
    windows: Any,
    films: FilmStore,
    net: FusionNet,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
) -> ApplicabilityStats:
    """Both guards from a training run (``windows`` a ``WindowSet``; ``films`` its film store
    before any stage-1 embedding replaced the pixels)."""
    keys_of = windows.patient_keys
    train_keys = {keys_of[p] for p in np.unique(windows.patient[train_rows])}
    val_keys = {keys_of[p] for p in np.unique(windows.patient[val_rows])}
    coverage = training_coverage(windows.grid, windows.end_bin[train_rows], windows.spec.lookback_h)
    ehr = fit_ehr_guard(cohort, windows.spec.variables, train_keys, coverage)
    film = fit_film_guard(cohort, films, net, train_keys, val_keys)
    return ApplicabilityStats(ehr=ehr, film=film)


def attach_applicability(checkpoint: Path, cohort_dir: Path, out: Path | None = None) -> Path:
    """Fit the guard over the checkpoint's training cohort and write the checkpoint with it."""
    from model.checkpoint import load_checkpoint, save_checkpoint
    from model.cohort import read_cohort
    from model.features.dataset import build_windows
    from model.training.loop import TrainConfig
    from model.training.pipeline import split_rows

    ckpt = load_checkpoint(checkpoint)
    cohort = read_cohort(cohort_dir)
    windows = build_windows(cohort, ckpt.feature_spec)
    saved = ckpt.train_config
    cfg = TrainConfig(
        seed=int(saved.get("seed", 0)),
        val_fraction=float(saved.get("val_fraction", 0.2)),
        test_fraction=float(saved.get("test_fraction", 0.0)),
    )
    rows = split_rows(windows, cfg)
    n_train = len(np.unique(windows.patient[rows.train]))
    expected = ckpt.normalisation.fitted_on.get("patients")
    if expected is not None and expected != n_train:
        raise ModelError(
            f"{cohort_dir} gives {n_train} training patients, the checkpoint was trained on "
            f"{expected}: not its training cohort"
        )
    ckpt.applicability = fit_applicability(
        cohort, windows, windows.films, ckpt.build_net(), rows.train, rows.val
    )
    target = out or checkpoint
    save_checkpoint(ckpt, target)
    return target
