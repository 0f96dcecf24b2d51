"""Latest raw values per prediction window, read straight from a cohort.

The bedside rules read what a clinician sees: the last charted value at or before the prediction
time (never after it), within the lookback. Reading the cohort directly keeps the comparators
independent of the model's normalised feature grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from model.cohort import Cohort
from model.comparators.errors import ComparatorError
from model.comparators.rules import REQUIRED_VARIABLES

FloatArray = NDArray[np.float64]


def epoch_hours(times: Sequence[datetime]) -> FloatArray:
    """Aware datetimes as float hours since the Unix epoch (the clock of ``EvaluationWindows``)."""
    if any(t.tzinfo is None for t in times):
        raise ComparatorError("prediction times must carry a time zone")
    return np.array([t.timestamp() / 3600.0 for t in times], dtype=np.float64)


def ventilation_hours(cohort: Cohort, patient_keys: Sequence[str]) -> FloatArray:
    """Each window's patient's ventilation start in epoch hours, NaN if never ventilated."""
    starts = {k: v.timestamp() / 3600.0 for k, v in cohort.ventilation_start.items()}
    return np.array([starts.get(k, np.nan) for k in patient_keys], dtype=np.float64)


def latest_values(
    cohort: Cohort,
    patient_keys: Sequence[str],
    times: Sequence[datetime],
    *,
    variables: Sequence[str] = REQUIRED_VARIABLES,
    lookback_h: float = 48.0,
) -> dict[str, FloatArray]:
    """``{variable: (n,)}`` with the last value charted in ``[t - lookback_h, t]`` per window.

    NaN where the patient has no value of that variable in the lookback. Values are the cohort's
    canonical units (FiO2 in %).
    """
    if len(patient_keys) != len(times):
        raise ComparatorError("patient_keys and times must have one entry per window")
    t = epoch_hours(times)
    if t.size == 0:
        return {name: np.empty(0) for name in variables}
    m_t = np.array([x.timestamp() / 3600.0 for x in cohort.m_time], dtype=np.float64)
    m_var = np.asarray(cohort.m_variable, dtype=object)
    m_val = np.asarray(cohort.m_value, dtype=np.float64)
    _, codes = np.unique(
        np.concatenate(
            [np.asarray(cohort.m_key, dtype=object), np.asarray(patient_keys, dtype=object)]
        ),
        return_inverse=True,
    )
    m_code, w_code = codes[: m_t.size].astype(np.float64), codes[m_t.size :].astype(np.float64)
    # One sortable number per (patient, time): patients lie on disjoint stretches of one axis.
    origin = float(min(m_t.min(initial=np.inf), t.min(initial=np.inf)))
    span = float(max(m_t.max(initial=-np.inf), t.max(initial=-np.inf))) - origin + 1.0
    w_pos = w_code * span + (t - origin)
    out: dict[str, FloatArray] = {}
    for name in variables:
        sel = np.flatnonzero(m_var == name)
        if sel.size == 0:
            out[name] = np.full(t.shape, np.nan)
            continue
        m_pos = m_code[sel] * span + (m_t[sel] - origin)
        order = np.argsort(m_pos, kind="stable")
        pos, vals, owner, mt = m_pos[order], m_val[sel][order], m_code[sel][order], m_t[sel][order]
        idx = np.searchsorted(pos, w_pos, side="right") - 1
        safe = np.maximum(idx, 0)
        ok = (idx >= 0) & (owner[safe] == w_code) & (t - mt[safe] <= lookback_h)
        out[name] = np.where(ok, vals[safe], np.nan)
    return out
