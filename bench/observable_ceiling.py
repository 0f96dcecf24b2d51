"""How close to the simulator's oracle can any model get? (synthetic data only)

The oracle knows the latent lung injury every hour; a model sees it only on the films, which are
taken about once a day, so part of the oracle's AUROC is out of reach for every model. This
script estimates the reachable part: a gradient-boosted classifier is given the EHR at four lags
(latest value of every variable now, 6, 12 and 24 h ago), the hours since admission and the
latest film's **true** findings (consolidation and edema extents from ``film_truth.csv``, never
a model input) with its age — a perfect film reader. With ``--checkpoint`` it also gives the
same classifier the findings read back from that model's frozen film embeddings (a ridge probe
fitted on the training films), which shows what imperfect reading costs. ``--reader-r2`` adds
rows for simulated readers: the true findings plus Gaussian noise sized so that each finding is
read at that R², which shows how precise a film reader must be to approach the perfect one.

    .venv/bin/python bench/observable_ceiling.py --train COHORT --test COHORT [--checkpoint PT] \
        [--reader-r2 0.99 0.97]

Prints a Markdown table (overall and by film age) for docs/model.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeCV

from model.checkpoint import load_checkpoint
from model.evaluation.ceiling import CeilingTable, ceiling_table, fit_score
from model.evaluation.metrics import auroc
from model.features.spec import FeatureSpec

AGE_BANDS = ((0.0, 12.0), (12.0, 24.0), (24.0, 72.0))


def _aurocs(table: CeilingTable, scores: np.ndarray) -> list[float]:
    w = table.windows
    labels = w.label.astype(np.int64)
    out = [auroc(labels, scores)]
    for low, high in AGE_BANDS:
        band = (w.film_age_h >= low) & (w.film_age_h < high)
        out.append(auroc(labels[band], scores[band]))
    no_film = w.film < 0
    out.append(auroc(labels[no_film], scores[no_film]))
    return out


def _noisy_reader(truth: np.ndarray, r2: float, rng: np.random.Generator) -> np.ndarray:
    """The true findings read with independent Gaussian errors at ``r2`` per finding."""
    sd = truth.std(axis=0) * np.sqrt(1.0 - r2)  # R² = 1 - var(error) / var(truth), as r2_score
    read: np.ndarray = truth + rng.normal(size=truth.shape) * sd
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="simulator cohort to fit on")
    parser.add_argument("--test", type=Path, required=True, help="held-out simulator cohort")
    parser.add_argument("--checkpoint", type=Path, help="also read findings from its embeddings")
    parser.add_argument(
        "--reader-r2", type=float, nargs="*", default=[], help="simulated reader precisions"
    )
    args = parser.parse_args()
    if any(not 0.0 < r2 < 1.0 for r2 in args.reader_r2):
        parser.error("--reader-r2 values must lie strictly between 0 and 1")
    spec = load_checkpoint(args.checkpoint).feature_spec if args.checkpoint else FeatureSpec()
    net = load_checkpoint(args.checkpoint).build_net() if args.checkpoint else None
    train = ceiling_table(args.train, spec, net)
    test = ceiling_table(args.test, spec, net)
    rows = {"oracle (latent state)": _aurocs(test, test.windows.oracle.astype(float))}
    rows["perfect film reader + EHR (GBM)"] = _aurocs(
        test, fit_score(train, test, train.truth, test.truth)
    )
    rng = np.random.default_rng(0)
    for r2 in args.reader_r2:
        noisy_train = _noisy_reader(train.truth, r2, rng)
        noisy_test = _noisy_reader(test.truth, r2, rng)
        rows[f"findings read at R² {r2:g} + EHR (GBM)"] = _aurocs(
            test, fit_score(train, test, noisy_train, noisy_test)
        )
    if train.embeddings is not None and test.embeddings is not None:
        probe = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(train.embeddings, train.truth)
        read_train = probe.predict(train.embeddings).reshape(train.truth.shape)
        read_test = probe.predict(test.embeddings).reshape(test.truth.shape)
        rows["findings read from the embedding + EHR (GBM)"] = _aurocs(
            test, fit_score(train, test, read_train, read_test)
        )
    rows["EHR only (GBM)"] = _aurocs(test, fit_score(train, test, None, None))
    bands = [f"film {lo:.0f}-{hi:.0f} h" for lo, hi in AGE_BANDS]
    print("| AUROC (synthetic) | all | " + " | ".join(bands) + " | no film |")
    print("|---|" + "---|" * (len(bands) + 2))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    n = len(test.windows)
    print(f"\n{n} windows of {len(test.windows.patient_keys)} patients in {args.test.name}")


if __name__ == "__main__":
    main()
