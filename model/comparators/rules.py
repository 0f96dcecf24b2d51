"""Bedside rules computed from the latest raw values in each prediction window.

Inputs are the canonical units of ``model.variables``: SpO2 in %, FiO2 in % (21–100), respiratory
rate in /min. Ratios that the literature defines with FiO2 as a fraction (ROX, SpO2/FiO2) convert
it here, once.

Sources (full references in docs/comparators.md):

- ROX index = (SpO2 / FiO2) / RR, FiO2 as a fraction. Roca O. et al., J Crit Care 2016;35:200–205
  (ROX ≥ 4.88 at 12 h of high-flow nasal oxygen: lower risk of intubation) and Roca O. et al.,
  Am J Respir Crit Care Med 2019;199:1368–1376 (ROX ≥ 4.88 at 2, 6 or 12 h: lower risk;
  ROX < 3.85 at 12 h: high risk of HFNC failure).
- SpO2/FiO2 (S/F) ratio. Rice T.W. et al., Chest 2007;132:410–417: S/F 235 corresponds to
  PaO2/FiO2 200 and S/F 315 to PaO2/FiO2 300 (derived where SpO2 ≤ 97%).
- Respiratory rate ≥ 30/min: the tachypnoea criterion of CURB-65 (Lim W.S. et al., Thorax
  2003;58:377–382) and an IDSA/ATS minor criterion for severe pneumonia (Mandell L.A. et al.,
  Clin Infect Dis 2007;44 Suppl 2:S27–S72; kept in Metlay J.P. et al., Am J Respir Crit Care Med
  2019;200:e45–e67).
- FiO2 ≥ 60%: a common bedside "high oxygen requirement" escalation trigger; a convention of
  ward and ICU protocols, not a validated score. Reported for completeness, labelled as such.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.comparators.errors import ComparatorError

FloatArray = NDArray[np.float64]

#: The variables the rules read (canonical names of ``model.variables``).
REQUIRED_VARIABLES: tuple[str, ...] = ("spo2", "fio2", "resp_rate")

ROX_HIGH_RISK = 3.85
ROX_LOW_RISK = 4.88
SF_ARDS_200 = 235.0
SF_ALI_300 = 315.0
RR_TACHYPNOEA = 30.0
FIO2_HIGH_PERCENT = 60.0


@dataclass(frozen=True, slots=True)
class ComparatorRule:
    """One bedside rule: a binary alert per window, with its definition and source."""

    name: str
    label: str
    definition: str
    source: str
    evaluate: Callable[[FloatArray, FloatArray, FloatArray], FloatArray]


def rox_index(spo2: FloatArray, fio2_percent: FloatArray, resp_rate: FloatArray) -> FloatArray:
    """ROX index = (SpO2 [%] / FiO2 [fraction]) / RR [/min] (Roca et al. 2016, 2019).

    FiO2 comes in the project's canonical unit (percent) and is divided by 100 here. The result
    is NaN where any input is missing or where FiO2 or RR is not positive.
    """
    spo2, fio2, rr = _as_float(spo2), _as_float(fio2_percent), _as_float(resp_rate)
    valid = np.isfinite(spo2) & np.isfinite(fio2) & np.isfinite(rr) & (fio2 > 0) & (rr > 0)
    out = np.full(spo2.shape, np.nan)
    out[valid] = (spo2[valid] / (fio2[valid] / 100.0)) / rr[valid]
    return out


def sf_ratio(spo2: FloatArray, fio2_percent: FloatArray) -> FloatArray:
    """SpO2/FiO2 ratio with FiO2 as a fraction (Rice et al. 2007): SpO2 94%, FiO2 40% → 235."""
    spo2, fio2 = _as_float(spo2), _as_float(fio2_percent)
    valid = np.isfinite(spo2) & np.isfinite(fio2) & (fio2 > 0)
    out = np.full(spo2.shape, np.nan)
    out[valid] = spo2[valid] / (fio2[valid] / 100.0)
    return out


def _below(values: FloatArray, cut: float) -> FloatArray:
    """1.0 where ``values < cut``, 0.0 where not, NaN where the value is missing."""
    return np.where(np.isfinite(values), (values < cut).astype(np.float64), np.nan)


def _at_least(values: FloatArray, cut: float) -> FloatArray:
    return np.where(np.isfinite(values), (values >= cut).astype(np.float64), np.nan)


def _rox_below(cut: float) -> Callable[[FloatArray, FloatArray, FloatArray], FloatArray]:
    return lambda spo2, fio2, rr: _below(rox_index(spo2, fio2, rr), cut)


def _sf_below(cut: float) -> Callable[[FloatArray, FloatArray, FloatArray], FloatArray]:
    return lambda spo2, fio2, rr: _below(sf_ratio(spo2, fio2), cut)


def any_criterion(spo2: FloatArray, fio2: FloatArray, rr: FloatArray) -> FloatArray:
    """1 if any of ROX < 3.85, S/F < 235, RR ≥ 30, FiO2 ≥ 60% holds; 0 if all are evaluable and
    none holds; NaN if none holds but at least one could not be evaluated."""
    parts = np.stack(
        [
            _below(rox_index(spo2, fio2, rr), ROX_HIGH_RISK),
            _below(sf_ratio(spo2, fio2), SF_ARDS_200),
            _at_least(rr, RR_TACHYPNOEA),
            _at_least(fio2, FIO2_HIGH_PERCENT),
        ]
    )
    met = np.any(parts == 1.0, axis=0)
    complete = np.all(np.isfinite(parts), axis=0)
    return np.where(met, 1.0, np.where(complete, 0.0, np.nan))


_ROCA_2019 = "Roca et al., Am J Respir Crit Care Med 2019;199:1368–1376"
_ROCA_2016 = "Roca et al., J Crit Care 2016;35:200–205"
_RICE_2007 = "Rice et al., Chest 2007;132:410–417"
_RR_SOURCES = (
    "CURB-65: Lim et al., Thorax 2003;58:377–382; IDSA/ATS minor criterion: "
    "Mandell et al., Clin Infect Dis 2007;44:S27–S72"
)

COMPARATOR_RULES: tuple[ComparatorRule, ...] = (
    ComparatorRule(
        "rox_lt_3_85",
        "ROX < 3.85",
        "(SpO2 / FiO2 fraction) / RR below 3.85: high risk of high-flow oxygen failure",
        _ROCA_2019,
        _rox_below(ROX_HIGH_RISK),
    ),
    ComparatorRule(
        "rox_lt_4_88",
        "ROX < 4.88",
        "ROX below the 4.88 low-risk cut-off (not classed low risk)",
        f"{_ROCA_2016}; {_ROCA_2019}",
        _rox_below(ROX_LOW_RISK),
    ),
    ComparatorRule(
        "sf_lt_235",
        "S/F < 235",
        "SpO2/FiO2 below 235, the S/F equivalent of PaO2/FiO2 200",
        _RICE_2007,
        _sf_below(SF_ARDS_200),
    ),
    ComparatorRule(
        "sf_lt_315",
        "S/F < 315",
        "SpO2/FiO2 below 315, the S/F equivalent of PaO2/FiO2 300",
        _RICE_2007,
        _sf_below(SF_ALI_300),
    ),
    ComparatorRule(
        "rr_ge_30",
        "RR ≥ 30/min",
        "respiratory rate of 30/min or more",
        _RR_SOURCES,
        lambda spo2, fio2, rr: _at_least(rr, RR_TACHYPNOEA),
    ),
    ComparatorRule(
        "fio2_ge_60",
        "FiO2 ≥ 60%",
        "inspired oxygen fraction of 60% or more (high oxygen requirement)",
        "bedside convention of escalation protocols; not a validated score",
        lambda spo2, fio2, rr: _at_least(fio2, FIO2_HIGH_PERCENT),
    ),
    ComparatorRule(
        "any_criterion",
        "Any criterion",
        "any of ROX < 3.85, S/F < 235, RR ≥ 30/min, FiO2 ≥ 60%",
        "union of the rules above",
        any_criterion,
    ),
)

RULES_BY_NAME: dict[str, ComparatorRule] = {r.name: r for r in COMPARATOR_RULES}


def compute_comparators(
    latest: Mapping[str, NDArray[np.floating] | NDArray[np.integer]],
    *,
    fio2_when_missing: float | None = None,
    rules: tuple[ComparatorRule, ...] = COMPARATOR_RULES,
) -> dict[str, FloatArray]:
    """Evaluate every rule on the latest raw values of each window.

    ``latest`` maps ``spo2``, ``fio2`` and ``resp_rate`` to arrays of shape ``(n_windows,)`` in
    canonical units (FiO2 in %), NaN where the window holds no value. ``fio2_when_missing``
    (e.g. 21.0 for room air) fills absent FiO2 when the source does not chart room air.

    Returns ``{rule name: array}`` with 1.0 (rule met), 0.0 (not met) or NaN (not evaluable:
    the analysis treats NaN as "no alert" and reports the coverage).
    """
    missing = [name for name in REQUIRED_VARIABLES if name not in latest]
    if missing:
        raise ComparatorError(f"latest values lack {missing}; need {list(REQUIRED_VARIABLES)}")
    spo2 = _as_float(latest["spo2"])
    fio2 = _as_float(latest["fio2"])
    rr = _as_float(latest["resp_rate"])
    if not (spo2.shape == fio2.shape == rr.shape) or spo2.ndim != 1:
        raise ComparatorError(
            f"spo2, fio2, resp_rate must be 1-D of one length, got "
            f"{spo2.shape}, {fio2.shape}, {rr.shape}"
        )
    finite_fio2 = fio2[np.isfinite(fio2)]
    if finite_fio2.size and float(finite_fio2.min()) <= 1.0:
        raise ComparatorError(
            "fio2 holds values ≤ 1: it looks like a fraction, the canonical unit is percent"
        )
    if fio2_when_missing is not None:
        fio2 = np.where(np.isfinite(fio2), fio2, float(fio2_when_missing))
    return {rule.name: rule.evaluate(spo2, fio2, rr) for rule in rules}


def _as_float(values: NDArray[np.floating] | NDArray[np.integer]) -> FloatArray:
    return np.asarray(values, dtype=np.float64)
