"""Report section: the clinical bedside comparators of ``model.comparators`` (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.comparators import (
    ComparatorError,
    ComparisonTable,
    EvaluationWindows,
    comparison_table,
    compute_comparators,
    model_card_summary,
    plot_roc_with_comparators,
)
from model.evaluation.context import EvaluationContext


class ComparatorSection:
    """ROX index and the other bedside rules beside the models, on the same windows."""

    name = "clinical_comparators"

    def __init__(self) -> None:
        self._table: ComparisonTable | None = None
        self._windows: EvaluationWindows | None = None

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        try:
            self._windows = EvaluationWindows(
                ctx.patient_ids, ctx.hours, ctx.labels, ctx.vent_hours
            )
            flags = compute_comparators(ctx.latest)
            self._table = comparison_table(
                self._windows,
                flags,
                ctx.scores,
                n_boot=ctx.n_boot,
                seed=ctx.seed,
                synthetic=ctx.synthetic,
            )
        except ComparatorError as exc:
            return {"error": str(exc)}
        summary = model_card_summary(self._table, primary=ctx.primary)
        return {**self._table.to_dict(), "model_card_summary": summary}

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        if self._table is None:
            return f"## Clinical comparators\n\nnot computed: {result.get('error', '')}\n"
        return self._table.to_markdown() + "\n\n![Comparators](roc_comparators.png)\n"

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        if self._table is None or self._windows is None:
            return []
        plot_roc_with_comparators(
            self._windows,
            ctx.scores,
            self._table,
            out_dir / "roc_comparators.png",
            show_matched_for=ctx.primary if ctx.has(ctx.primary) else None,
        )
        return ["roc_comparators.png"]
