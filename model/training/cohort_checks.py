"""Whether a cohort can be trained on, checked before any training: one clear ``ModelError`` (the
CLI prints it on one line) instead of a traceback deep in the loop or the calibration."""

from __future__ import annotations

import logging

import numpy as np

from model import ModelError
from model.cohort import Cohort
from model.features.dataset import WindowSet

log = logging.getLogger(__name__)


def check_trainable(cohort: Cohort, windows: WindowSet, train: np.ndarray, val: np.ndarray) -> None:
    """Raise ``ModelError`` for a cohort without patients, windows, labels or positives in the
    training split, or without validation windows; warn when validation has no positive."""
    where = str(cohort.root)
    if not cohort.patients:
        raise ModelError(
            f"the cohort {where} has no patients: nothing to train on (an empty import? its "
            "import-summary.json says what was not used)"
        )
    if len(windows) == 0:
        raise ModelError(
            f"the cohort {where} has {len(cohort.patients)} patients but no prediction window "
            "(a window needs at least one hour of stay before ventilation)"
        )
    if not cohort.ventilation_start:
        raise ModelError(
            f"the cohort {where} has no labels: no ventilation start in events.csv, so every "
            "window would be negative"
        )
    if len(train) == 0 or len(val) == 0:
        raise ModelError(
            f"the cohort {where} is too small to split: {len(train)} training and {len(val)} "
            "validation windows (more patients, or another --val-fraction)"
        )
    positives = int(windows.label[train].sum())
    if positives == 0:
        raise ModelError(
            f"the training split of {where} has no positive window (ventilation within 24 h) "
            f"among {len(train)}: more patients, or another --seed for the split"
        )
    if int(windows.label[val].sum()) == 0:
        log.warning(
            "the validation split of %s has no positive window: validation AUROC is undefined "
            "and the calibration is fitted on negatives only",
            where,
        )
