"""PNG plots for the report (matplotlib ``Figure`` objects: no pyplot state, no display)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from model.evaluation.context import EvaluationContext
from model.evaluation.metrics import auprc, auroc


def _finish(fig: Figure, path: Path, title: str, synthetic: bool) -> None:
    fig.suptitle(f"{title}{' (synthetic data)' if synthetic else ''}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _band(
    y: np.ndarray, s: np.ndarray, weights: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 95% patient-bootstrap band of a ROC (TPR at each FPR of a grid) or PR curve
    (precision at each recall of a grid), over the rows of ``weights``."""
    grid = np.linspace(0.0, 1.0, 101)
    reps = []
    for w in weights:
        keep = w > 0
        yk, sk, wk = y[keep], s[keep], w[keep]
        if yk.min(initial=1) == yk.max(initial=0):
            continue
        if kind == "roc":
            fpr, tpr, _ = roc_curve(yk, sk, sample_weight=wk)
            reps.append(np.interp(grid, fpr, tpr))
        else:
            prec, rec, _ = precision_recall_curve(yk, sk, sample_weight=wk)
            reps.append(np.interp(grid, rec[::-1], prec[::-1]))
    if not reps:
        return grid, np.full_like(grid, np.nan), np.full_like(grid, np.nan)
    low, high = np.percentile(np.asarray(reps), [2.5, 97.5], axis=0)
    return grid, low, high


def roc_pr_plot(
    ctx: EvaluationContext, path: Path, max_band_replicates: int = 200
) -> dict[str, Any]:
    """ROC and precision-recall curves of every model (and the oracle when known), each with
    its 95% patient-bootstrap band (the first ``max_band_replicates`` replicates), and the
    prevalence line on the PR plot (a model without skill). Returns what was drawn."""
    fig = Figure(figsize=(10, 4.5))
    ax_roc, ax_pr = fig.subplots(1, 2)
    y = ctx.labels
    weights = ctx.boot_weights()[:max_band_replicates] if len(y) else np.zeros((0, 0))
    drawn: dict[str, Any] = {"bands": {}, "replicates": len(weights)}
    known = np.isfinite(ctx.oracle)
    for name, s in ctx.scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        (line,) = ax_roc.plot(fpr, tpr, label=f"{name} ({auroc(y, s):.3f})")
        grid, low, high = _band(y, s, weights, "roc")
        ax_roc.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, lw=0)
        prec, rec, _ = precision_recall_curve(y, s)
        ax_pr.plot(rec, prec, color=line.get_color(), label=f"{name} ({auprc(y, s):.3f})")
        grid, p_low, p_high = _band(y, s, weights, "pr")
        ax_pr.fill_between(grid, p_low, p_high, color=line.get_color(), alpha=0.2, lw=0)
        drawn["bands"][name] = {"roc": (low, high), "pr": (p_low, p_high)}
    if known.all() and len(y):
        fpr, tpr, _ = roc_curve(y, ctx.oracle)
        ax_roc.plot(fpr, tpr, "k--", label=f"oracle ({auroc(y, ctx.oracle):.3f})")
    prevalence = float(y.mean()) if len(y) else float("nan")
    drawn["prevalence"] = prevalence
    ax_pr.axhline(prevalence, color="0.5", ls=":", lw=1, label=f"prevalence ({prevalence:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax_roc.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    ax_pr.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)", title="Precision-recall")
    ax_roc.legend(fontsize=8, loc="lower right")
    ax_pr.legend(fontsize=8, loc="upper right")
    fig.text(0.5, 0.005, f"bands: 95% patient-level bootstrap ({len(weights)} replicates)",
             ha="center", fontsize=7)  # fmt: skip
    _finish(fig, path, "Ventilation within 24 h", ctx.synthetic)
    return drawn


def reliability_bins(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width probability bin: its range, window count, mean prediction, observed rate."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        out.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "n": n,
                "mean_predicted": float(p[sel].mean()) if n else float("nan"),
                "observed": float(y[sel].mean()) if n else float("nan"),
            }
        )
    return out


def reliability_plot(
    ctx: EvaluationContext, path: Path, bins: int = 10, min_count: int = 20
) -> dict[str, list[int]]:
    """Observed vs predicted risk per probability bin, for every model, each point labelled
    with its window count (bins under ``min_count`` windows are not drawn). Returns the counts
    written beside the points, per model."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    drawn: dict[str, list[int]] = {}
    for name, p in ctx.scores.items():
        cells = [c for c in reliability_bins(p, ctx.labels, bins) if c["n"] >= min_count]
        xs = [c["mean_predicted"] for c in cells]
        ys = [c["observed"] for c in cells]
        (line,) = ax.plot(xs, ys, marker="o", label=name)
        for c in cells:
            at = (c["mean_predicted"], c["observed"])
            ax.annotate(f"{int(c['n'])}", at, fontsize=6, xytext=(3, -8),
                        textcoords="offset points", color=line.get_color())  # fmt: skip
        drawn[name] = [int(c["n"]) for c in cells]
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration")
    ax.legend(fontsize=8)
    fig.text(0.5, 0.005, f"numbers: windows per bin (bins under {min_count} not drawn)",
             ha="center", fontsize=7)  # fmt: skip
    _finish(fig, path, "Reliability", ctx.synthetic)
    return drawn


def gate_plot(ctx: EvaluationContext, name: str, path: Path) -> None:
    """Gate distribution in EHR-ambiguous vs clear windows, and gate vs film age."""
    gate = ctx.gates[name]
    has = ctx.film_present
    fig = Figure(figsize=(10, 4))
    ax_h, ax_a = fig.subplots(1, 2)
    for flag, label in ((1.0, "EHR-ambiguous"), (0.0, "EHR-clear")):
        sel = has & (ctx.ehr_ambiguous == flag)
        if sel.any():
            ax_h.hist(gate[sel], bins=30, range=(0, 1), alpha=0.6, density=True, label=label)
    if not ax_h.get_legend_handles_labels()[0]:  # EHR ambiguity unknown (not a simulated cohort)
        ax_h.hist(gate[has], bins=30, range=(0, 1), alpha=0.6, density=True,
                  label="all windows with a film")  # fmt: skip
    ax_h.set(xlabel="gate g (image weight)", ylabel="density", title="Gate by EHR ambiguity")
    if ax_h.get_legend_handles_labels()[0]:
        ax_h.legend(fontsize=8)
    edges = np.arange(0, 84, 12)
    centres, means = [], []
    for lo, hi in itertools.pairwise(edges):
        sel = has & (ctx.film_age_h >= lo) & (ctx.film_age_h < hi)
        if sel.any():
            centres.append((lo + hi) / 2)
            means.append(float(gate[sel].mean()))
    ax_a.plot(centres, means, marker="o")
    ax_a.set(xlabel="film age (h)", ylabel="mean gate", title="Gate vs film age")
    _finish(fig, path, f"Context gate of {name}", ctx.synthetic)
