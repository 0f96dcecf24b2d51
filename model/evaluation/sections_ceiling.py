"""Report sections: the observable ceiling beside the oracle, and the bedside indices as scores.

``CeilingSection`` (synthetic cohorts): the AUROC of a perfect film reader + the EHR
(``model.evaluation.ceiling``) on the evaluated windows, beside the oracle's, and each model's
gap to it; the target is to be within ``CEILING_MARGIN`` of it (issue 21).

``BedsideIndexSection``: the ROX index, SpO2/FiO2 and respiratory rate used as continuous
scores (lower ROX or S/F, higher RR = higher risk) on the windows where the ROX index can be
computed, with every model's AUROC on the same windows, the paired difference (patient-level
bootstrap) and DeLong's p. The model must beat the ROX index it shows beside itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model.comparators.rules import rox_index, sf_ratio
from model.evaluation.bootstrap import bootstrap_difference, bootstrap_metric
from model.evaluation.ceiling import CeilingError, observable_ceiling_scores
from model.evaluation.context import EvaluationContext
from model.evaluation.delong import delong_test
from model.features.spec import FeatureSpec

CEILING_MARGIN = 0.025


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


class CeilingSection:
    """Observable ceiling (perfect film reader + EHR, fitted on ``train``) on the test windows."""

    name = "observable_ceiling"

    def __init__(self, train: Path, test: Path, spec: FeatureSpec) -> None:
        self._train, self._test, self._spec = train, test, spec

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        try:
            table, scores = observable_ceiling_scores(self._train, self._test, self._spec)
        except CeilingError as exc:
            return {"error": str(exc)}
        w = table.windows
        keys = np.asarray(w.patient_keys, dtype=object)[w.patient].astype(str)
        where = {(k, float(h)): i for i, (k, h) in enumerate(zip(keys, w.hours, strict=True))}
        rows = [where.get((str(k), float(h)), -1) for k, h in zip(ctx.patient_ids, ctx.hours,
                                                                 strict=True)]  # fmt: skip
        if min(rows, default=-1) < 0:
            return {"error": "the ceiling's windows do not match the evaluated windows"}
        ceiling = scores[np.asarray(rows)]
        weights = ctx.boot_weights()
        out: dict[str, Any] = {
            "train_cohort": self._train.name,
            "ceiling_auroc": bootstrap_metric(ctx.labels, ceiling, weights).to_dict(),
            "margin": CEILING_MARGIN,
            "gaps": {},
        }
        for name, s in ctx.scores.items():
            gap = bootstrap_difference(ctx.labels, ceiling, s, weights).to_dict()
            out["gaps"][name] = gap
        known = np.isfinite(ctx.oracle)
        if known.any():
            out["oracle_auroc"] = bootstrap_metric(
                ctx.labels[known], ctx.oracle[known], weights[:, known]
            ).to_dict()
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        head = "## Observable ceiling (synthetic)\n\n"
        if "error" in result:
            return head + f"not computed: {result['error']}\n"
        c = result["ceiling_auroc"]
        rows = ["| reference | AUROC (95% CI) |", "|---|---|"]
        if "oracle_auroc" in result:
            o = result["oracle_auroc"]
            rows.append(
                f"| oracle (latent risk, unobservable) | {_f(o['estimate'])} "
                f"({_f(o['ci_low'])}–{_f(o['ci_high'])}) |"
            )
        rows.append(
            f"| observable ceiling: perfect film reader + EHR (GBM) | {_f(c['estimate'])} "
            f"({_f(c['ci_low'])}–{_f(c['ci_high'])}) |"
        )
        gaps = ["| model | ceiling − model (95% CI) |", "|---|---|"]
        for name, g in result["gaps"].items():
            gaps.append(
                f"| {name} | {_f(g['estimate'])} ({_f(g['ci_low'])} to {_f(g['ci_high'])}) |"
            )
        return (
            head
            + "The oracle knows the latent lung injury every hour; the observable ceiling is a "
            "gradient-boosted classifier given the EHR at 0/6/12/24 h lags and the latest film's "
            "true findings (a perfect film reader), fitted on the training cohort "
            f"`{result['train_cohort']}`. Target: within {result['margin']} of the ceiling.\n\n"
            + "\n".join(rows)
            + "\n\n"
            + "\n".join(gaps)
            + "\n"
        )

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []


def bedside_index_scores(latest: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Risk-oriented scores of the bedside indices (higher = worse): -ROX, -S/F, RR."""
    spo2, fio2, rr = (latest[v] for v in ("spo2", "fio2", "resp_rate"))
    return {
        "ROX index": -rox_index(spo2, fio2, rr),
        "SpO2/FiO2": -sf_ratio(spo2, fio2),
        "respiratory rate": np.asarray(rr, np.float64),
    }


class BedsideIndexSection:
    """AUROC of the ROX index, S/F and RR beside every model's, on the ROX-evaluable windows."""

    name = "bedside_indices"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        if not {"spo2", "fio2", "resp_rate"} <= set(ctx.latest):
            return {"error": "the model reads no SpO2, FiO2 or respiratory rate"}
        indices = bedside_index_scores(ctx.latest)
        rows = np.isfinite(indices["ROX index"])
        y = ctx.labels[rows]
        weights = ctx.boot_weights()[:, rows]
        out: dict[str, Any] = {
            "windows": int(rows.sum()),
            "positives": int(y.sum()),
            "evaluable_fraction": float(rows.mean()) if len(ctx) else 0.0,
            "indices": {
                n: bootstrap_metric(y, s[rows], weights).to_dict() for n, s in indices.items()
            },
            "models": {},
        }
        rox = indices["ROX index"][rows]
        for name, s in ctx.scores.items():
            out["models"][name] = {
                "auroc": bootstrap_metric(y, s[rows], weights).to_dict(),
                "minus_rox": bootstrap_difference(y, s[rows], rox, weights).to_dict(),
                "delong_p_vs_rox": delong_test(y, s[rows], rox).p_value,
            }
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        head = "## Bedside indices as scores\n\n"
        if "error" in result:
            return head + f"not computed: {result['error']}\n"
        rows = ["| score | AUROC (95% CI) | model − ROX (95% CI) | DeLong p |", "|---|---|---|---|"]
        for name, a in result["indices"].items():
            rows.append(f"| {name} | {_f(a['estimate'])} ({_f(a['ci_low'])}–{_f(a['ci_high'])})"
                        " | | |")  # fmt: skip
        for name, m in result["models"].items():
            a, d = m["auroc"], m["minus_rox"]
            rows.append(
                f"| {name} | {_f(a['estimate'])} ({_f(a['ci_low'])}–{_f(a['ci_high'])}) | "
                f"{_f(d['estimate'])} ({_f(d['ci_low'])} to {_f(d['ci_high'])}) | "
                f"{m['delong_p_vs_rox']:.1e} |"
            )
        tag = " (synthetic)" if ctx.synthetic else ""
        return (
            head
            + f"Lower ROX (SpO2/FiO2/RR) or SpO2/FiO2, higher RR = higher risk, from the latest "
            f"values in each window{tag}; {result['windows']} windows where the ROX index can be "
            f"computed ({result['evaluable_fraction']:.0%} of all, {result['positives']} "
            "positive), every model on the same windows.\n\n" + "\n".join(rows) + "\n"
        )

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []
