"""``EvaluationContext``: the per-window arrays every report section reads (the extension point).

One entry per test window, aligned across all arrays. Sections (``ReportSection``) receive the
context and return JSON-able results, Markdown and plots; adding a section (e.g. clinical
comparators) needs no change to the evaluation code: pass it in ``extra_sections``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from model.evaluation.bootstrap import patient_weights


@dataclass(slots=True)
class EvaluationContext:
    """Test windows, their labels and every model's scores (calibrated probabilities)."""

    cohort: str
    synthetic: bool
    split: str
    patient_ids: np.ndarray  # (n,) str
    times: np.ndarray  # (n,) datetime64[s], UTC
    hours: np.ndarray  # (n,) hours after the patient's stay start
    vent_hours: np.ndarray  # (n,) ventilation start, hours after stay start; NaN never
    labels: np.ndarray  # (n,) int 0/1: ventilation within 24 h
    oracle: np.ndarray  # (n,) true probability (simulator); NaN unknown
    film_present: np.ndarray  # (n,) bool
    film_age_h: np.ndarray  # (n,) NaN without a film
    phenotype: np.ndarray  # (n,) str, simulator phenotype of the patient ("" unknown)
    ehr_ambiguous: np.ndarray  # (n,) 1 ambiguous, 0 clear, NaN unknown
    latest: dict[str, np.ndarray]  # variable -> latest raw value in the window (NaN none)
    scores: dict[str, np.ndarray]  # model name -> calibrated probability
    scores_without_film: dict[str, np.ndarray]  # model name -> probability of its EHR path
    gates: dict[str, np.ndarray]  # model name -> gate (0 without a film / no gate)
    models: dict[str, dict[str, Any]]  # model name -> id, version, arch, thresholds
    primary: str = "gated"
    reference: str = "ehr_only"
    n_boot: int = 500
    seed: int = 0
    # (n,) hours from the stay start to the end of the patient's record (stay end); None unknown
    record_hours: np.ndarray | None = None
    _weights: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def boot_weights(self) -> np.ndarray:
        """Patient-level bootstrap window weights ``(n_boot, n)``, drawn once and shared."""
        if self._weights is None:
            self._weights, _ = patient_weights(self.patient_ids, self.n_boot, self.seed)
        return self._weights

    def has(self, name: str) -> bool:
        return name in self.scores


class ReportSection(Protocol):
    """One part of the report: JSON result, Markdown text, PNG plots."""

    name: str

    def compute(self, ctx: EvaluationContext) -> dict[str, Any]:
        """JSON-able result (stored under ``report["sections"][name]``)."""
        ...

    def markdown(self, ctx: EvaluationContext, result: dict[str, Any]) -> str:
        """Markdown for the report (including links to its plots)."""
        ...

    def plots(self, ctx: EvaluationContext, result: dict[str, Any], out_dir: Path) -> list[str]:
        """Write PNGs into ``out_dir``; return their file names."""
        ...
