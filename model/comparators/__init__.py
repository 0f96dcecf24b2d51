"""Bedside comparators for the evaluation: ROX index, SpO2/FiO2, RR and FiO2 rules (issue 9).

The study compared its gated model with physicians' own predictions. No physician predictions
exist for the synthetic cohort, so the evaluation stands the models beside the simple rules
clinicians use at the bedside, computed from the same windows at the same prediction times
(docs/comparators.md gives definitions and sources).

Everything here consumes plain numpy arrays and :class:`EvaluationWindows`, so it does not depend
on how the evaluation builds its windows.
"""

from model.comparators.errors import ComparatorError
from model.comparators.latest import epoch_hours, latest_values, ventilation_hours
from model.comparators.report import (
    model_card_summary,
    plot_roc_with_comparators,
)
from model.comparators.rules import (
    COMPARATOR_RULES,
    ComparatorRule,
    compute_comparators,
    rox_index,
    sf_ratio,
)
from model.comparators.table import ComparisonTable, comparison_table
from model.comparators.windows import EvaluationWindows

__all__ = [
    "COMPARATOR_RULES",
    "ComparatorError",
    "ComparatorRule",
    "ComparisonTable",
    "EvaluationWindows",
    "comparison_table",
    "compute_comparators",
    "epoch_hours",
    "latest_values",
    "model_card_summary",
    "plot_roc_with_comparators",
    "rox_index",
    "sf_ratio",
    "ventilation_hours",
]
