"""The comparison table: every bedside rule at its own operating point, and every model at the
rule's specificity (matched operating point), with patient-level bootstrap CIs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from model.comparators.errors import ComparatorError
from model.comparators.operating_points import AlertBurden, ScoreRanking, alert_burden
from model.comparators.rules import RULES_BY_NAME
from model.comparators.windows import EvaluationWindows
from model.evaluation.bootstrap import percentile_ci, replicate_weights
from model.evaluation.metrics import Confusion, confusion

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
METRICS: tuple[str, ...] = ("sensitivity", "specificity", "ppv", "npv")


def _num(value: float) -> float | None:
    """JSON-safe float: None for NaN/inf."""
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    lo: float
    hi: float

    def to_dict(self) -> dict[str, float | None]:
        return {"value": _num(self.value), "ci_low": _num(self.lo), "ci_high": _num(self.hi)}


def _burden_dict(b: AlertBurden) -> dict[str, Any]:
    return {
        "alerts_per_patient_day": _num(b.alerts_per_patient_day),
        "alert_window_fraction": _num(b.alert_window_fraction),
        "median_lead_time_h": _num(b.median_lead_time_h),
        "patients_caught": b.patients_caught,
        "patients_ventilated": b.patients_ventilated,
    }


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A bedside rule at its own operating point."""

    name: str
    label: str
    definition: str
    source: str
    coverage: float
    metrics: dict[str, Estimate]
    burden: AlertBurden

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "definition": self.definition,
            "source": self.source,
            "coverage": _num(self.coverage),
            **{k: v.to_dict() for k, v in self.metrics.items()},
            **_burden_dict(self.burden),
        }


@dataclass(frozen=True, slots=True)
class MatchedRow:
    """A model thresholded at the lowest score that keeps a rule's specificity."""

    comparator: str
    model: str
    threshold: float
    metrics: dict[str, Estimate]
    delta_sensitivity: Estimate
    delta_ppv: Estimate
    burden: AlertBurden

    def to_dict(self) -> dict[str, Any]:
        return {
            "comparator": self.comparator,
            "model": self.model,
            "threshold": _num(self.threshold),
            **{k: v.to_dict() for k, v in self.metrics.items()},
            "delta_sensitivity": self.delta_sensitivity.to_dict(),
            "delta_ppv": self.delta_ppv.to_dict(),
            **_burden_dict(self.burden),
        }


@dataclass(frozen=True)
class ComparisonTable:
    """Rules at their own operating points and models matched to each rule's specificity."""

    synthetic: bool
    n_windows: int
    n_patients: int
    n_positive_windows: int
    n_boot: int
    ci_level: float
    models: tuple[str, ...]
    model_auroc: dict[str, float]
    rules: tuple[RuleRow, ...]
    matched: tuple[MatchedRow, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the evaluation report."""
        return {
            "synthetic": self.synthetic,
            "n_windows": self.n_windows,
            "n_patients": self.n_patients,
            "n_positive_windows": self.n_positive_windows,
            "bootstrap": {"unit": "patient", "n_boot": self.n_boot, "ci_level": self.ci_level},
            "models": list(self.models),
            "model_auroc": {k: _num(v) for k, v in self.model_auroc.items()},
            "comparators": [r.to_dict() for r in self.rules],
            "matched": [m.to_dict() for m in self.matched],
        }

    def to_markdown(self) -> str:
        """Markdown section for the evaluation report."""
        from model.comparators.markdown import table_markdown

        return table_markdown(self)

    def row(self, comparator: str, model: str) -> MatchedRow:
        """The matched row of one model at one rule's specificity."""
        for m in self.matched:
            if m.comparator == comparator and m.model == model:
                return m
        raise KeyError((comparator, model))


def _metric_vector(c: Confusion) -> FloatArray:
    return np.array([c.sensitivity, c.specificity, c.ppv, c.npv])


def comparison_table(
    windows: EvaluationWindows,
    comparator_flags: Mapping[str, NDArray[np.generic]],
    model_scores: Mapping[str, NDArray[np.generic]],
    *,
    n_boot: int = 500,
    seed: int = 0,
    ci_level: float = 0.95,
    synthetic: bool = True,
) -> ComparisonTable:
    """Build the comparison table.

    ``comparator_flags``: rule name → per-window 1/0/NaN (from ``compute_comparators``; NaN is
    "no alert"). ``model_scores``: model name → per-window risk score. Every metric gets a
    patient-level bootstrap percentile CI; in each replicate the model is re-matched to the
    rule's specificity in that replicate, so the Δ CIs carry the matching's own uncertainty.
    """
    y = windows.y
    for name, arr in {**comparator_flags, **model_scores}.items():
        if np.asarray(arr).shape != (windows.n,):
            raise ComparatorError(f"{name!r} must have one value per window ({windows.n})")
    if y.min() == y.max():
        raise ComparatorError("the windows hold one class only; the comparison needs both")
    rule_names = list(comparator_flags)
    model_names = list(model_scores)
    flags = {r: np.asarray(comparator_flags[r], dtype=np.float64) for r in rule_names}
    rankings = {m: ScoreRanking(y, model_scores[m]) for m in model_names}

    point_rule = {r: confusion(y, flags[r]) for r in rule_names}
    point_matched = {
        (r, m): rankings[m].matched(point_rule[r].specificity)
        for r in rule_names
        for m in model_names
    }
    rule_samples = np.full((len(rule_names), 4, n_boot), np.nan)
    matched_samples = np.full((len(rule_names), len(model_names), 4, n_boot), np.nan)
    yf = y.astype(np.float64)
    hit = {r: yf * (np.nan_to_num(flags[r], nan=0.0) > 0.5) for r in rule_names}
    false_alarm = {r: (1.0 - yf) * (np.nan_to_num(flags[r], nan=0.0) > 0.5) for r in rule_names}
    for b, w in enumerate(replicate_weights(windows.codes, windows.n_patients, n_boot, seed)):
        cums = [rankings[m].cumulative(w) for m in model_names]
        pos = float(w @ yf)
        neg = float(w.sum()) - pos
        for i, r in enumerate(rule_names):
            tp, fp = float(w @ hit[r]), float(w @ false_alarm[r])
            c = Confusion(tp=tp, fp=fp, tn=neg - fp, fn=pos - tp)
            rule_samples[i, :, b] = _metric_vector(c)
            for j, m in enumerate(model_names):
                mc = rankings[m].matched_from(cums[j], c.specificity)
                matched_samples[i, j, :, b] = _metric_vector(mc)

    def est(value: float, samples: FloatArray) -> Estimate:
        lo, hi = percentile_ci(samples, ci_level)
        return Estimate(value, lo, hi)

    rules: list[RuleRow] = []
    matched: list[MatchedRow] = []
    for i, r in enumerate(rule_names):
        rule = RULES_BY_NAME.get(r)
        point = _metric_vector(point_rule[r])
        rules.append(
            RuleRow(
                name=r,
                label=rule.label if rule else r,
                definition=rule.definition if rule else "",
                source=rule.source if rule else "",
                coverage=float(np.isfinite(flags[r]).mean()),
                metrics={k: est(point[q], rule_samples[i, q]) for q, k in enumerate(METRICS)},
                burden=alert_burden(windows, flags[r]),
            )
        )
        for j, m in enumerate(model_names):
            mp = _metric_vector(point_matched[(r, m)])
            threshold = rankings[m].threshold(point_rule[r].specificity)
            scores = np.asarray(model_scores[m], dtype=np.float64)
            matched.append(
                MatchedRow(
                    comparator=r,
                    model=m,
                    threshold=threshold,
                    metrics={
                        k: est(mp[q], matched_samples[i, j, q]) for q, k in enumerate(METRICS)
                    },
                    delta_sensitivity=est(
                        mp[0] - point[0], matched_samples[i, j, 0] - rule_samples[i, 0]
                    ),
                    delta_ppv=est(mp[2] - point[2], matched_samples[i, j, 2] - rule_samples[i, 2]),
                    burden=alert_burden(windows, scores >= threshold),
                )
            )
    auroc = {m: float(roc_auc_score(y, np.asarray(model_scores[m]))) for m in model_names}
    logger.info(
        "comparator table: %d rules × %d models, %d windows, %d patients, %d bootstrap replicates",
        len(rule_names),
        len(model_names),
        windows.n,
        windows.n_patients,
        n_boot,
    )
    return ComparisonTable(
        synthetic=synthetic,
        n_windows=windows.n,
        n_patients=windows.n_patients,
        n_positive_windows=int(y.sum()),
        n_boot=n_boot,
        ci_level=ci_level,
        models=tuple(model_names),
        model_auroc=auroc,
        rules=tuple(rules),
        matched=tuple(matched),
    )
