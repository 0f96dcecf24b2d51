"""Report outputs: the ROC plot with the bedside rules as points, Markdown and model-card text.

The plot draws on a private Agg canvas (no pyplot, no global backend state).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
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

    ``show_matched_for`` (a model name) also marks that model's matched operating points with
    small crosses on its curve. Returns ``path``.
    """
    fig = Figure(figsize=(7.0, 6.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = windows.y
    for name, scores in model_scores.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(scores, dtype=np.float64))
        auroc = table.model_auroc.get(name, float("nan"))
        ax.plot(fpr, tpr, linewidth=1.6, label=f"{name} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1)
    colours = matplotlib.colormaps["Dark2"]
    for k, rule in enumerate(table.rules):
        sens = rule.metrics["sensitivity"]
        spec = rule.metrics["specificity"]
        if not (np.isfinite(sens.value) and np.isfinite(spec.value)):
            continue
        ax.errorbar(
            1.0 - spec.value,
            sens.value,
            yerr=[[sens.value - sens.lo], [sens.hi - sens.value]] if np.isfinite(sens.lo) else None,
            marker=_MARKERS[k % len(_MARKERS)],
            markersize=7,
            color=colours(k % 8),
            markeredgecolor="black",
            elinewidth=0.8,
            linestyle="none",
            capsize=2,
            label=f"rule: {rule.label}",
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
            zorder=3,
        )
    tag = " — synthetic cohort" if table.synthetic else ""
    ax.set_title(f"ROC: models vs bedside rules{tag}", fontsize=11)
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7.5, framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    logger.info("wrote comparator ROC plot %s", path)
    return path
