"""Markdown rendering of the comparison table and the model-card summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.comparators.table import ComparisonTable, Estimate, MatchedRow, RuleRow


#: Achieved minus target specificity above which a matched row is flagged (ties in the score).
OVERSHOOT = 0.005


def _f(value: float, digits: int = 2, signed: bool = False) -> str:
    if not np.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _ci(e: Estimate, digits: int = 2, signed: bool = False) -> str:
    if not np.isfinite(e.value):
        return "—"
    lo, hi = _f(e.lo, digits, signed), _f(e.hi, digits, signed)
    return f"{_f(e.value, digits, signed)} ({lo} to {hi})"


def _metric_cells(metrics: dict[str, Estimate]) -> list[str]:
    # Specificity and NPV sit near 1 at low prevalence: one more digit keeps them apart.
    digits = {"sensitivity": 2, "specificity": 3, "ppv": 2, "npv": 3}
    return [_ci(metrics[k], digits[k]) for k in ("sensitivity", "specificity", "ppv", "npv")]


def _rule_cells(r: RuleRow) -> list[str]:
    b = r.burden
    return [
        f"**{r.label}** (evaluable {r.coverage:.0%})",
        "rule",
        "—",
        *_metric_cells(r.metrics),
        "",
        "",
        _f(b.alerts_per_patient_day),
        _f(b.median_lead_time_h, 1),
        f"{b.patients_caught}/{b.patients_ventilated}",
    ]


def _matched_cells(m: MatchedRow, target_specificity: float) -> list[str]:
    b = m.burden
    cells = _metric_cells(m.metrics)
    if m.metrics["specificity"].value - target_specificity > OVERSHOOT:
        cells[1] += " †"
    return [
        "",
        m.model,
        _f(m.threshold, 3),
        *cells,
        _ci(m.delta_sensitivity, signed=True),
        _ci(m.delta_ppv, signed=True),
        _f(b.alerts_per_patient_day),
        _f(b.median_lead_time_h, 1),
        f"{b.patients_caught}/{b.patients_ventilated}",
    ]


_HEADER = (
    "Operating point",
    "Predictor",
    "Threshold",
    "Sensitivity",
    "Specificity",
    "PPV",
    "NPV",
    "Δ sensitivity",
    "Δ PPV",
    "Alerts / patient-day",
    "Median lead (h)",
    "Caught / ventilated",
)


def table_markdown(table: ComparisonTable) -> str:
    """The comparison as a Markdown section: one block per rule, the rule then each model."""
    tag = " (synthetic)" if table.synthetic else ""
    level = f"{table.ci_level:.0%}"
    lines = [
        f"## Clinical comparators{tag}",
        "",
        "Bedside rules computed from the latest SpO2, FiO2 and respiratory rate in each window, "
        "at the same prediction times as the models (definitions and sources: "
        "docs/comparators.md). Each model is thresholded at the lowest score whose specificity "
        "is at least the rule's (matched operating point); Δ = model − rule. "
        f"{level} CIs: patient-level bootstrap, {table.n_boot} replicates, the match redone in "
        "each. Alerts count onsets per patient-day; lead is the median time from the first "
        "correct alert to ventilation over ventilated patients caught. A rule that cannot be "
        "evaluated (missing value) does not alert.",
        "",
        f"Windows evaluated: {table.n_windows} ({table.n_positive_windows} positive) from "
        f"{table.n_patients} patients.",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "---|" * len(_HEADER),
    ]
    overshoot = False
    for r in table.rules:
        lines.append("| " + " | ".join(_rule_cells(r)) + " |")
        for m in table.matched:
            if m.comparator == r.name:
                target = r.metrics["specificity"].value
                overshoot = overshoot or m.metrics["specificity"].value - target > OVERSHOOT
                lines.append("| " + " | ".join(_matched_cells(m, target)) + " |")
    if overshoot:
        lines += [
            "",
            f"† Tied scores (e.g. one score per film) leave no threshold within {OVERSHOOT} of the "
            "rule's specificity: the model sits at a higher specificity, so its sensitivity there "
            "is not a like-for-like comparison.",
        ]
    lines += ["", "Sources:"]
    lines += [f"- {r.label}: {r.source}" for r in table.rules if r.source]
    return "\n".join(lines) + "\n"


def model_card_summary(table: ComparisonTable, primary: str | None = None) -> str:
    """A short Markdown paragraph for the model card: each model against each rule at the
    rule's specificity (labelled synthetic when the cohort is)."""
    tag = " (synthetic cohort)" if table.synthetic else ""
    primary = primary or (table.models[0] if table.models else None)
    lines = [
        f"**Comparison with bedside rules{tag}.** The study compared the model with physicians' "
        "predictions; none exist here, so the evaluation uses the rules clinicians apply at the "
        "bedside (ROX index, SpO2/FiO2, respiratory rate, FiO2), computed at the same prediction "
        "times. At each rule's specificity:",
        "",
    ]
    for r in table.rules:
        parts = [
            f"rule sensitivity {_f(r.metrics['sensitivity'].value)}, "
            f"PPV {_f(r.metrics['ppv'].value)}"
        ]
        for m in table.matched:
            if m.comparator != r.name:
                continue
            delta = m.delta_sensitivity
            strong = "**" if m.model == primary else ""
            parts.append(
                f"{strong}{m.model}{strong} sensitivity {_f(m.metrics['sensitivity'].value)} "
                f"(Δ {_ci(delta, signed=True)}), PPV {_f(m.metrics['ppv'].value)}"
            )
        spec = _f(r.metrics["specificity"].value, 3)
        lines.append(f"- {r.label} (specificity {spec}): " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"
