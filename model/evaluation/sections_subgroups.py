"""Report sections: subgroups (film present/absent, film age, phenotype), the gate, targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model.evaluation.context import EvaluationContext
from model.evaluation.plots import gate_plot
from model.evaluation.sections_core import _f, subgroup_auroc

FILM_AGE_BINS = ((0.0, 12.0), (12.0, 24.0), (24.0, 48.0), (48.0, 72.01))
NOT_APPLICABLE = "not applicable"


def target_text(value: bool | str) -> str:
    """A target's verdict: yes, NO, or why it does not apply (never "NO" for that)."""
    if isinstance(value, str):
        return value
    return "yes" if value else "NO"


def gate_not_applicable(ctx: EvaluationContext) -> str:
    """Why the primary model's gate cannot be reported ("" when it can)."""
    arch = ctx.models.get(ctx.primary, {}).get("arch", "")
    if ctx.primary not in ctx.gates or arch != "gated":
        return f"the primary model {ctx.primary} has no gate ({arch or 'unknown'} architecture)"
    if not ctx.film_present.any():
        return "no window has a film"
    return ""


class SubgroupSection:
    """AUROC of every model by film presence, film age and (simulator) phenotype."""

    name = "subgroups"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        groups: dict[str, Any] = {}
        if ctx.film_present.any():  # film subgroups do not apply to a cohort without films
            groups["film present"] = subgroup_auroc(ctx, ctx.film_present)
            groups["no film"] = subgroup_auroc(ctx, ~ctx.film_present)
            for lo, hi in FILM_AGE_BINS:
                mask = ctx.film_present & (ctx.film_age_h >= lo) & (ctx.film_age_h < hi)
                groups[f"film age {lo:.0f}-{min(hi, 72):.0f} h"] = subgroup_auroc(ctx, mask)
        for phen in sorted(set(ctx.phenotype.tolist()) - {""}):
            groups[f"phenotype {phen}"] = subgroup_auroc(ctx, ctx.phenotype == phen)
        return groups

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        names = list(ctx.scores)
        rows = [
            "| subgroup | windows | prevalence | " + " | ".join(names) + " |",
            "|---|---|---|" + "---|" * len(names),
        ]
        for group, r in result.items():
            cells = " | ".join(_f(r["auroc"][n]) for n in names)
            rows.append(f"| {group} | {r['n']} | {_f(r['prevalence'])} | {cells} |")
        note = (
            ""
            if ctx.film_present.any()
            else "\nFilm subgroups (film present, film age): not applicable, no window has a "
            "film.\n"
        )
        if not result:
            return "## Subgroups (AUROC)\n\nnot applicable: no subgroup is known here.\n" + note
        return "## Subgroups (AUROC)\n\n" + "\n".join(rows) + "\n" + note

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []


class GateSection:
    """The primary model's gate: EHR-ambiguous vs clear cases, film age, and the no-film check."""

    name = "gate"

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        name = ctx.primary
        why = gate_not_applicable(ctx)
        if why:
            return {"model": name, "applicable": False, "reason": why}
        gate = ctx.gates[name]
        has = ctx.film_present

        def stats(mask: np.ndarray) -> dict[str, float]:
            g = gate[mask]
            return {
                "n": int(mask.sum()),
                "mean": float(g.mean()) if g.size else float("nan"),
                "median": float(np.median(g)) if g.size else float("nan"),
            }

        no_film = ~has
        p, p0 = ctx.scores[name], ctx.scores_without_film[name]
        out: dict[str, Any] = {
            "model": name,
            "applicable": True,
            "film_present": stats(has),
            "ehr_ambiguous": stats(has & (ctx.ehr_ambiguous == 1.0)),
            "ehr_clear": stats(has & (ctx.ehr_ambiguous == 0.0)),
            "by_phenotype": {
                phen: stats(has & (ctx.phenotype == phen))
                for phen in sorted(set(ctx.phenotype.tolist()) - {""})
            },
            "no_film_max_gate": float(np.abs(gate[no_film]).max()) if no_film.any() else 0.0,
            "no_film_max_abs_difference_vs_ehr_path": (
                float(np.abs(p[no_film] - p0[no_film]).max()) if no_film.any() else 0.0
            ),
            "film_effect_mean_abs": float(np.abs(p[has] - p0[has]).mean()) if has.any() else 0.0,
        }
        return out

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        if not result.get("applicable"):
            return f"## Context gate\n\nnot applicable: {result.get('reason', '')}.\n"
        rows = ["| windows with a film | n | mean gate | median gate |", "|---|---|---|---|"]
        for label, key in (
            ("all", "film_present"),
            ("EHR-ambiguous", "ehr_ambiguous"),
            ("EHR-clear", "ehr_clear"),
        ):
            r = result[key]
            rows.append(f"| {label} | {r['n']} | {_f(r['mean'])} | {_f(r['median'])} |")
        for phen, r in result["by_phenotype"].items():
            rows.append(f"| phenotype {phen} | {r['n']} | {_f(r['mean'])} | {_f(r['median'])} |")
        return (
            f"## Context gate ({result['model']})\n\n"
            + "\n".join(rows)
            + "\n\nWithout a film: largest gate "
            f"{result['no_film_max_gate']:.1e}, largest |p − p(EHR path)| "
            f"{result['no_film_max_abs_difference_vs_ehr_path']:.1e}. Mean |p − p(without film)| "
            f"with a film: {result['film_effect_mean_abs']:.3f}.\n\n![Gate](gate.png)\n"
        )

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        if not result.get("applicable"):
            return []
        gate_plot(ctx, result["model"], out_dir / "gate.png")
        return ["gate.png"]


class TargetsSection:
    """The acceptance targets of the fusion model, checked on this evaluation."""

    name = "targets"

    def __init__(self, sections: dict[str, dict[str, Any]]) -> None:
        self._sections = sections

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        s = self._sections
        disc = s.get("discrimination", {}).get("models", {})
        comp = s.get("comparison", {})
        cal = s.get("calibration", {})
        gate = s.get("gate", {})
        prim, ref = ctx.primary, ctx.reference

        def auc(name: str) -> float:
            return float(disc.get(name, {}).get("auroc", {}).get("estimate", float("nan")))

        checks: dict[str, Any] = {}
        na = NOT_APPLICABLE
        if prim in disc and ref in disc and ref != prim:
            d = comp.get(f"{prim}_vs_{ref}", {})
            checks["fusion_beats_ehr_by_0.05"] = auc(prim) - auc(ref) >= 0.05
            checks["delong_p_below_0.01"] = float(d.get("delong_p", 1.0)) < 0.01
        else:
            why = (
                f"{na}: the primary model is the EHR-only reference"
                if prim == ref or ctx.models.get(prim, {}).get("arch") == "ehr_only"
                else f"{na}: no EHR-only model evaluated beside {prim}"
            )
            checks["fusion_beats_ehr_by_0.05"] = why
            checks["delong_p_below_0.01"] = why
        checks["gated_at_least_concat"] = (
            auc(prim) >= auc("concat")
            if prim in disc and "concat" in disc
            else f"{na}: no concat model evaluated"
        )
        # The oracle target ("within 0.03") is retired (issue 21): the observable ceiling's is it.
        ceiling = s.get("observable_ceiling", {})
        margin = ceiling.get("margin", 0.025)
        checks[f"within_{margin}_of_observable_ceiling"] = (
            ceiling["ceiling_auroc"]["estimate"] - auc(prim) <= margin
            if "ceiling_auroc" in ceiling and prim in disc
            else f"{na}: the observable ceiling needs a simulator training cohort (--ceiling-train)"
        )
        bedside = s.get("bedside_indices", {}).get("models", {})
        checks["auroc_above_rox_index"] = (
            bedside[prim]["minus_rox"]["estimate"] > 0
            if prim in bedside
            else f"{na}: no window where the ROX index can be computed"
        )
        if prim in cal:
            checks["ece_at_most_0.03"] = cal[prim]["ece"] <= 0.03
        if gate.get("applicable"):
            amb, clear = gate["ehr_ambiguous"], gate["ehr_clear"]
            checks["gate_higher_when_ehr_ambiguous"] = (
                amb["mean"] > clear["mean"]
                if amb["n"] and clear["n"]
                else f"{na}: EHR ambiguity is known only for simulated cohorts"
            )
            checks["no_film_equals_ehr_path"] = gate["no_film_max_abs_difference_vs_ehr_path"] == 0
        else:
            why = f"{na}: {gate.get('reason', 'no gate')}"
            checks["gate_higher_when_ehr_ambiguous"] = why
            checks["no_film_equals_ehr_path"] = why
        return {k: v if isinstance(v, str) else bool(v) for k, v in checks.items()}

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        rows = ["| target | met |", "|---|---|"]
        rows += [f"| {k} | {target_text(v)} |" for k, v in result.items()]
        return "## Targets\n\n" + "\n".join(rows) + "\n"

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        return []
