"""The observable ceiling of a simulator cohort: what a perfect film reader + the EHR reaches.

The oracle knows the latent lung injury every hour; a model sees it only on the films, which are
taken about once a day, so part of the oracle's AUROC is out of reach for every model. The
observable ceiling estimates the reachable part: a gradient-boosted classifier is given the EHR
at four lags (latest value of every variable now, 6, 12 and 24 h ago), the hours since admission
and the latest film's **true** findings (consolidation and edema extents from
``film_truth.csv``, never a model input) with its age, fitted on the training cohort and scored
on the test cohort. Synthetic cohorts only (it needs the simulator's film truth).

``bench/observable_ceiling.py`` prints it with readers of other precisions; the evaluation
reports it beside the oracle (``model.evaluation.sections_ceiling``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from model import ModelError
from model.cohort import read_cohort
from model.features.dataset import WindowSet, build_windows
from model.features.grid import latest_raw
from model.features.spec import FeatureSpec
from model.nets import FusionNet
from model.training.film_pretrain import FILM_FINDINGS, embed_store, finding_targets

EHR_LAGS_H = (0, 6, 12, 24)
FINDINGS = ("consolidation", "edema")


class CeilingError(ModelError):
    """The cohort cannot give an observable ceiling (no labelled films)."""


@dataclass(slots=True)
class CeilingTable:
    windows: WindowSet
    ehr: np.ndarray  # (W, V * lags)
    truth: np.ndarray  # (N films, len(FINDINGS))
    embeddings: np.ndarray | None  # (N films, E)


def ceiling_table(path: Path, spec: FeatureSpec, net: FusionNet | None = None) -> CeilingTable:
    """Windows, lagged EHR values and true film findings of a simulator cohort (and the film
    embeddings of ``net`` when given)."""
    cohort = read_cohort(path)
    windows = build_windows(cohort, spec)
    lagged = []
    for lag in EHR_LAGS_H:
        values = latest_raw(windows.grid, windows.end_bin - lag, spec.lookback_h).astype(float)
        values[windows.hours < lag + 1] = np.nan  # before admission: unknown
        lagged.append(values)
    labelled = finding_targets(cohort, windows.films)
    if labelled is None:
        raise CeilingError(
            f"{path} labels no film: the observable ceiling needs a simulator cohort"
        )
    truth = labelled[:, [FILM_FINDINGS.index(f) for f in FINDINGS]].astype(float)
    embeddings = embed_store(net, windows.films).data if net is not None else None
    return CeilingTable(windows, np.concatenate(lagged, axis=1), truth, embeddings)


def ceiling_features(table: CeilingTable, findings: np.ndarray | None) -> np.ndarray:
    """EHR lags + hours since admission, and the latest film's findings and age unless None."""
    w = table.windows
    parts = [table.ehr, w.hours.astype(float)[:, None]]
    if findings is not None:
        has = w.film >= 0
        parts.append(np.where(has[:, None], findings[np.maximum(w.film, 0)], np.nan))
        parts.append(w.film_age_h.astype(float)[:, None])
    return np.concatenate(parts, axis=1)


def fit_score(
    train: CeilingTable,
    test: CeilingTable,
    f_train: np.ndarray | None,
    f_test: np.ndarray | None,
) -> np.ndarray:
    """Fit the GBM on ``train`` (with film findings ``f_train``, or EHR only) and score ``test``."""
    clf = HistGradientBoostingClassifier(max_iter=400, learning_rate=0.05, random_state=0)
    clf.fit(ceiling_features(train, f_train), train.windows.label)
    scores: np.ndarray = clf.predict_proba(ceiling_features(test, f_test))[:, 1]
    return scores


def observable_ceiling_scores(
    train_dir: Path, test_dir: Path, spec: FeatureSpec
) -> tuple[CeilingTable, np.ndarray]:
    """The test table and the perfect-film-reader + EHR scores of its windows."""
    train = ceiling_table(train_dir, spec)
    test = ceiling_table(test_dir, spec)
    return test, fit_score(train, test, train.truth, test.truth)
