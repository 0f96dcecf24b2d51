"""Core report sections: discrimination, comparisons, calibration, operating points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model.calibration import threshold_at_sensitivity
from model.evaluation.bootstrap import bootstrap_difference, bootstrap_metric
from model.evaluation.context import EvaluationContext
from model.evaluation.delong import delong_test
from model.evaluation.metrics import (
    auroc,
    brier,
    calibration_slope_intercept,
    expected_calibration_error,
    operating_point,
    threshold_at_alert_rate,
)
from model.evaluation.plots import reliability_bins, reliability_plot, roc_pr_plot


def _f(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


class DiscriminationSection:
    """AUROC / AUPRC with patient-level bootstrap 95% CIs, and the oracle ceiling."""

    name = "discrimination"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        w = ctx.boot_weights()
        out: dict[str, Any] = {"models": {}}
        for name, s in ctx.scores.items():
            out["models"][name] = {
                "auroc": bootstrap_metric(ctx.labels, s, w, "auroc").to_dict(),
                "auprc": bootstrap_metric(ctx.labels, s, w, "auprc").to_dict(),
            }
        known = np.isfinite(ctx.oracle)
        out["oracle_auroc"] = (
            bootstrap_metric(ctx.labels[known], ctx.oracle[known], w[:, known]).to_dict()
            if known.any()
            else None
        )
        out["oracle_coverage"] = float(known.mean()) if len(ctx) else 0.0
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        rows = ["| model | AUROC (95% CI) | AUPRC (95% CI) |", "|---|---|---|"]
        for name, m in result["models"].items():
            a, p = m["auroc"], m["auprc"]
            rows.append(
                f"| {name} | {_f(a['estimate'])} ({_f(a['ci_low'])}–{_f(a['ci_high'])}) "
                f"| {_f(p['estimate'])} ({_f(p['ci_low'])}–{_f(p['ci_high'])}) |"
            )
        if result["oracle_auroc"]:
            o = result["oracle_auroc"]
            rows.append(
                f"| oracle (true risk) | {_f(o['estimate'])} ({_f(o['ci_low'])}–"
                f"{_f(o['ci_high'])}) | |"
            )
        return (
            "## Discrimination\n\n"
            + "\n".join(rows)
            + "\n\n![ROC and PR](roc_pr.png)\n\nShaded: 95% patient-level bootstrap bands; "
            "dotted on PR: the prevalence (a model without skill).\n"
        )

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        roc_pr_plot(ctx, out_dir / "roc_pr.png")
        return ["roc_pr.png"]


class ComparisonSection:
    """DeLong test and paired bootstrap of the AUROC difference, primary vs every other model."""

    name = "comparison"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not ctx.has(ctx.primary):
            return out
        a = ctx.scores[ctx.primary]
        for name, b in ctx.scores.items():
            if name == ctx.primary:
                continue
            d = delong_test(ctx.labels, a, b)
            diff = bootstrap_difference(ctx.labels, a, b, ctx.boot_weights())
            out[f"{ctx.primary}_vs_{name}"] = {
                "auroc_difference": diff.to_dict(),
                "delong_z": d.z,
                "delong_p": d.p_value,
            }
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        if not result:
            return (
                "## Comparisons\n\nnot applicable: one model evaluated (pass several "
                "--checkpoint to compare them).\n"
            )
        rows = [
            "| comparison | ΔAUROC (95% CI, patient bootstrap) | DeLong p |",
            "|---|---|---|",
        ]
        for key, r in result.items():
            d = r["auroc_difference"]
            p = r["delong_p"]
            rows.append(
                f"| {key.replace('_vs_', ' vs ')} | {d['estimate']:+.3f} "
                f"({d['ci_low']:+.3f} to {d['ci_high']:+.3f}) | {p:.2g} |"
            )
        note = (
            "DeLong's test treats windows as independent; windows of one patient are correlated, "
            "so the patient-level bootstrap interval is the more conservative statement.\n"
        )
        return "## Comparisons\n\n" + "\n".join(rows) + "\n\n" + note

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []


class CalibrationSection:
    """Brier score, calibration slope and intercept, ECE (10 equal-width bins)."""

    name = "calibration"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, p in ctx.scores.items():
            slope, intercept = calibration_slope_intercept(ctx.labels, p)
            out[name] = {
                "brier": brier(ctx.labels, p),
                "calibration_slope": slope,
                "calibration_intercept": intercept,
                "ece": expected_calibration_error(ctx.labels, p),
                "mean_predicted": float(np.mean(p)) if len(p) else float("nan"),
                "observed_rate": float(np.mean(ctx.labels)) if len(p) else float("nan"),
                "bins": reliability_bins(p, ctx.labels),
            }
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        rows = ["| model | Brier | slope | intercept | ECE |", "|---|---|---|---|---|"]
        for name, r in result.items():
            rows.append(
                f"| {name} | {_f(r['brier'], 4)} | {_f(r['calibration_slope'], 2)} | "
                f"{_f(r['calibration_intercept'], 2)} | {_f(r['ece'], 4)} |"
            )
        return (
            "## Calibration\n\n"
            + "\n".join(rows)
            + "\n\n![Reliability](reliability.png)\n\nEach point is labelled with its "
            "number of windows (10 equal-width bins; bins under 20 windows are not drawn).\n"
        )

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        reliability_plot(ctx, out_dir / "reliability.png")
        return ["reliability.png"]


class OperatingPointSection:
    """Sensitivity / specificity / PPV at sensitivity 0.6, at a fixed alert rate, and at the
    card's warning threshold (chosen on validation)."""

    name = "operating_points"

    def __init__(self, sensitivity: float = 0.6, alert_rate: float = 0.1) -> None:
        self.sensitivity = sensitivity
        self.alert_rate = alert_rate

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, p in ctx.scores.items():
            t_sens = threshold_at_sensitivity(p, ctx.labels, self.sensitivity)
            t_rate = threshold_at_alert_rate(p, self.alert_rate)
            entry = {
                f"at_sensitivity_{self.sensitivity}": operating_point(ctx.labels, p, t_sens),
                f"at_alert_rate_{self.alert_rate}": operating_point(ctx.labels, p, t_rate),
            }
            warning = ctx.models.get(name, {}).get("thresholds", {}).get("warning")
            if warning is not None:
                entry["at_card_warning"] = operating_point(ctx.labels, p, float(warning))
            out[name] = entry
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        rows = [
            "| model | operating point | threshold | sensitivity | specificity | PPV | alerts |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, entry in result.items():
            for point, r in entry.items():
                rows.append(
                    f"| {name} | {point.replace('_', ' ')} | {_f(r['threshold'])} | "
                    f"{_f(r['sensitivity'])} | {_f(r['specificity'])} | {_f(r['ppv'])} | "
                    f"{_f(r['alert_rate'])} |"
                )
        return "## Operating points\n\n" + "\n".join(rows) + "\n"

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []


def subgroup_auroc(ctx: EvaluationContext, mask: np.ndarray) -> dict[str, Any]:
    """n, prevalence and AUROC of every model inside a subgroup."""
    y = ctx.labels[mask]
    return {
        "n": int(mask.sum()),
        "prevalence": float(y.mean()) if y.size else float("nan"),
        "auroc": {name: auroc(y, s[mask]) for name, s in ctx.scores.items()},
    }
