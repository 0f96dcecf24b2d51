"""PNG plots for the report (matplotlib ``Figure`` objects: no pyplot state, no display)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from model.evaluation.context import EvaluationContext
from model.evaluation.metrics import auprc, auroc


def _finish(fig: Figure, path: Path, title: str, synthetic: bool) -> None:
    fig.suptitle(f"{title}{' (synthetic data)' if synthetic else ''}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def roc_pr_plot(ctx: EvaluationContext, path: Path) -> None:
    """ROC and precision-recall curves of every model (and the oracle when known)."""
    fig = Figure(figsize=(10, 4.5))
    ax_roc, ax_pr = fig.subplots(1, 2)
    y = ctx.labels
    curves = dict(ctx.scores)
    known = np.isfinite(ctx.oracle)
    for name, s in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax_roc.plot(fpr, tpr, label=f"{name} ({auroc(y, s):.3f})")
        prec, rec, _ = precision_recall_curve(y, s)
        ax_pr.plot(rec, prec, label=f"{name} ({auprc(y, s):.3f})")
    if known.all() and len(y):
        fpr, tpr, _ = roc_curve(y, ctx.oracle)
        ax_roc.plot(fpr, tpr, "k--", label=f"oracle ({auroc(y, ctx.oracle):.3f})")
    ax_roc.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax_roc.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    ax_pr.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)", title="Precision-recall")
    ax_roc.legend(fontsize=8, loc="lower right")
    ax_pr.legend(fontsize=8, loc="upper right")
    _finish(fig, path, "Ventilation within 24 h", ctx.synthetic)


def reliability_plot(ctx: EvaluationContext, path: Path, bins: int = 10) -> None:
    """Observed vs predicted risk per probability bin, for every model."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, p in ctx.scores.items():
        which = np.minimum((p * bins).astype(int), bins - 1)
        xs, ys = [], []
        for b in range(bins):
            sel = which == b
            if sel.sum() >= 20:
                xs.append(float(p[sel].mean()))
                ys.append(float(ctx.labels[sel].mean()))
        ax.plot(xs, ys, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title="Calibration")
    ax.legend(fontsize=8)
    _finish(fig, path, "Reliability", ctx.synthetic)


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
    ax_h.set(xlabel="gate g (image weight)", ylabel="density", title="Gate by EHR ambiguity")
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
