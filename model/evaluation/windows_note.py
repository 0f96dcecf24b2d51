"""What the report's windows are: prediction hours, window counts and the censoring rule.

Prediction times are every hour from hour 1 after the stay start while the patient is not yet
ventilated and the record (stay) has not ended; the label is "ventilation starts within the next
24 h". A window whose 24 h horizon runs past the end of the record is *censored*: ventilation
after the record's end is not seen, so it can only be positive if ventilation starts before the
record ends (the hour-48 window of a 48 h record cannot be positive). Such windows are kept, with
the label the record gives (negative unless ventilation started within it); the report counts
them and gives every model's AUROC without them as a check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.evaluation.context import EvaluationContext
from model.evaluation.metrics import auroc

HORIZON_H = 24.0
RULE = (
    "prediction times: every hour from hour 1 after the stay start, while not yet ventilated and "
    "not after the end of the record; label: ventilation starts within the next 24 h"
)
CENSORING = (
    "windows whose 24 h horizon runs past the end of the record are censored: kept, with the "
    "label the record gives (negative unless ventilation started before the record ends), since "
    "ventilation after the end is not seen"
)


def censored_mask(ctx: EvaluationContext) -> np.ndarray:
    """Windows whose horizon ends after the record (all False when the record end is unknown)."""
    if ctx.record_hours is None:
        return np.zeros(len(ctx), bool)
    return np.asarray(ctx.hours + HORIZON_H > ctx.record_hours + 1e-9)


def window_summary(ctx: EvaluationContext) -> dict[str, Any]:
    """Prediction hours, window counts and censoring of the evaluated windows."""
    cens = censored_mask(ctx)
    hours = np.asarray(ctx.hours, np.float64)
    y = ctx.labels
    return {
        "rule": RULE,
        "censoring_rule": CENSORING,
        "prediction_hours": {
            "first": float(hours.min()) if len(hours) else None,
            "last": float(hours.max()) if len(hours) else None,
        },
        "windows": len(ctx),
        "positive": int(y.sum()),
        "censored": int(cens.sum()),
        "censored_positive": int(y[cens].sum()),
        "censored_negative": int((1 - y[cens]).sum()),
        "record_end_known": ctx.record_hours is not None,
        "auroc_without_censored": {
            name: auroc(y[~cens], s[~cens]) for name, s in ctx.scores.items()
        },
    }


def window_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as Markdown bullet points."""
    hours = summary["prediction_hours"]
    span = (
        f"hours {hours['first']:.0f}-{hours['last']:.0f} after the stay start"
        if hours["first"] is not None
        else "none"
    )
    without = ", ".join(
        f"{name} {value:.3f}" if np.isfinite(value) else f"{name} n/a"
        for name, value in summary["auroc_without_censored"].items()
    )
    return [
        f"- {summary['rule']} ({span})",
        f"- censoring: {summary['censoring_rule']}; here {summary['censored']} of "
        f"{summary['windows']} windows ({summary['censored_positive']} positive, "
        f"{summary['censored_negative']} negative); AUROC without them: {without or 'n/a'}",
    ]
