"""Running report sections over an ``EvaluationContext`` and writing JSON, Markdown and PNGs."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.evaluation.context import EvaluationContext, ReportSection
from model.evaluation.sections_core import (
    CalibrationSection,
    ComparisonSection,
    DiscriminationSection,
    OperatingPointSection,
)
from model.evaluation.sections_subgroups import GateSection, SubgroupSection, TargetsSection
from model.evaluation.windows_note import window_lines, window_summary

log = logging.getLogger(__name__)


def default_sections() -> list[ReportSection]:
    """The sections every report has, in order."""
    return [
        DiscriminationSection(),
        ComparisonSection(),
        CalibrationSection(),
        OperatingPointSection(),
        SubgroupSection(),
        GateSection(),
    ]


def _clean(value: Any) -> Any:
    """NaN/inf -> None so the JSON is standard."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_report(
    ctx: EvaluationContext,
    out_dir: Path,
    *,
    extra_sections: Sequence[ReportSection] = (),
    title: str = "VentFusion evaluation",
    command: str = "",
) -> dict[str, Any]:
    """Compute every section, write ``report.json``, ``report.md`` and the PNGs; return the
    report dictionary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [*default_sections(), *extra_sections]
    results: dict[str, dict[str, Any]] = {}
    for section in sections:
        log.info("evaluating section %s", section.name)
        results[section.name] = section.compute(ctx)
    targets = TargetsSection(results)
    results[targets.name] = targets.compute(ctx)
    sections.append(targets)
    plots: dict[str, list[str]] = {}
    for section in sections:
        plots[section.name] = section.plots(ctx, results[section.name], out_dir)
    tag = "synthetic data" if ctx.synthetic else "site data"
    report: dict[str, Any] = {
        "title": title,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "data": {
            "cohort": ctx.cohort,
            "synthetic": ctx.synthetic,
            "split": ctx.split,
            "windows": len(ctx),
            "patients": len(set(ctx.patient_ids.tolist())),
            "positives": int(ctx.labels.sum()),
            "windows_with_film": int(ctx.film_present.sum()),
            "windows_detail": window_summary(ctx),
        },
        "models": ctx.models,
        "primary": ctx.primary,
        "reference": ctx.reference,
        "bootstrap": {"replicates": ctx.n_boot, "seed": ctx.seed, "unit": "patient"},
        "command": command,
        "sections": results,
        "plots": plots,
    }
    (out_dir / "report.json").write_text(json.dumps(_clean(report), indent=2) + "\n")
    d = report["data"]
    lines = [
        f"# {title} ({tag})",
        "",
        f"All figures below were obtained on **{tag}**"
        + (" from the VentFusion simulator, not on real patients." if ctx.synthetic else "."),
        "",
        f"- cohort: `{ctx.cohort}` (split: {ctx.split})",
        f"- windows: {d['windows']} hourly prediction times from {d['patients']} patients; "
        f"{d['positives']} positive (ventilation within 24 h); "
        f"{d['windows_with_film']} with a film",
        *window_lines(d["windows_detail"]),
        "- models: "
        + ", ".join(f"{n} = `{m['model_id']} {m['model_version']}`" for n, m in ctx.models.items()),
        f"- confidence intervals: patient-level bootstrap, {ctx.n_boot} replicates, "
        f"seed {ctx.seed}",
    ]
    if command:
        lines += [f"- command: `{command}`"]
    lines.append("")
    for section in sections:
        text = section.markdown(ctx, results[section.name])
        if text:
            lines += [text, ""]
    (out_dir / "report.md").write_text("\n".join(lines))
    log.info("report written to %s", out_dir)
    return report
