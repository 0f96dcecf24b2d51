"""Report outputs: the ROC plot with the bedside rules as points, Markdown and model-card text.

The plot draws on a private Agg canvas (no pyplot, no global backend state).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray
from sklearn.metrics import roc_curve

from model.comparators.markdown import model_card_summary, table_markdown
from model.comparators.table import ComparisonTable
from model.comparators.windows import EvaluationWindows

__all__ = ["model_card_summary", "plot_roc_with_comparators", "table_markdown"]

logger = logging.getLogger(__name__)

_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h")


def plot_roc_with_comparators(
    windows: EvaluationWindows,
    model_scores: Mapping[str, NDArray[np.generic]],
    table: ComparisonTable,
    path: Path,
    *,
    show_matched_for: str | None = None,
) -> Path:
    """Write a PNG of each model's ROC curve with every rule as a point (1 − spec, sens).

    Left: the whole curve; right: the low false-positive region where bedside rules sit.
    ``show_matched_for`` (a model name) also marks that model's matched operating points with
    crosses on its curve. Returns ``path``.
    """
    fig = Figure(figsize=(12.0, 5.6), dpi=110)
    FigureCanvasAgg(fig)
    full, zoom = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    curves = {
        name: roc_curve(windows.y, np.asarray(scores, dtype=np.float64))[:2]
        for name, scores in model_scores.items()
    }
    rule_fpr = [
        1.0 - r.metrics["specificity"].value
        for r in table.rules
        if np.isfinite(r.metrics["specificity"].value)
    ]
    zoom_x = min(1.0, max(0.1, 1.3 * max(rule_fpr, default=0.0)))
    for ax, xmax in ((full, 1.0), (zoom, zoom_x)):
        _draw(ax, curves, table, show_matched_for)
        ax.set_xlim(0, xmax)
        ax.set_ylim(0, 1.02)
    zoom.set_title(f"low false-positive region (1 − specificity ≤ {zoom_x:.2f})", fontsize=10)
    tag = " — synthetic cohort" if table.synthetic else ""
    full.set_title(f"ROC: models vs bedside rules{tag}", fontsize=11)
    full.legend(loc="lower right", fontsize=7.5, framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    logger.info("wrote comparator ROC plot %s", path)
    return path


def _draw(
    ax: Axes,
    curves: Mapping[str, tuple[NDArray[np.float64], NDArray[np.float64]]],
    table: ComparisonTable,
    show_matched_for: str | None,
) -> None:
    for name, (fpr, tpr) in curves.items():
        auroc = table.model_auroc.get(name, float("nan"))
        ax.plot(fpr, tpr, linewidth=1.6, label=f"{name} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1)
    colours = matplotlib.colormaps["Dark2"]
    for k, rule in enumerate(table.rules):
        sens = rule.metrics["sensitivity"]
        spec = rule.metrics["specificity"]
        if not (np.isfinite(sens.value) and np.isfinite(spec.value)):
            continue
        has_ci = np.isfinite(sens.lo) and np.isfinite(sens.hi)
        ax.errorbar(
            1.0 - spec.value,
            sens.value,
            yerr=[[sens.value - sens.lo], [sens.hi - sens.value]] if has_ci else None,
            marker=_MARKERS[k % len(_MARKERS)],
            markersize=7,
            color=colours(k % 8),
            markeredgecolor="black",
            elinewidth=0.8,
            linestyle="none",
            capsize=2,
            label=f"rule: {rule.label}",
            zorder=4,
        )
    if show_matched_for is not None:
        pts = [m for m in table.matched if m.model == show_matched_for]
        ax.scatter(
            [1.0 - m.metrics["specificity"].value for m in pts],
            [m.metrics["sensitivity"].value for m in pts],
            marker="x",
            s=30,
            color="crimson",
            label=f"{show_matched_for} at rules' specificity",
            zorder=5,
        )
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.grid(alpha=0.3)
