"""Exact Shapley values over groups of EHR variables, against a stated reference patient.

The game: the players are the variable groups observed in the window (``GROUPS``; at most
``MAX_GROUPS``, so at most 2^8 = 256 coalitions). The value of a coalition ``S`` is the model's
calibrated risk (EHR path) when the groups in ``S`` keep this patient's charted values and every
other group's values are replaced by ``NORMAL_VALUES`` - same charting times, same age and sex,
so only the values differ. The empty coalition is the **reference patient**: this patient with
every charted value normal. Shapley values then split ``risk(EHR) - risk(reference)`` exactly
among the groups (efficiency), in probability units. All 2^k coalitions go through the network
in one batch.
"""

from __future__ import annotations

from math import factorial

import numpy as np

#: Clinical groups of the model's variables (a variable outside every group is its own group).
GROUPS: dict[str, tuple[str, ...]] = {
    "oxygenation": ("spo2", "fio2", "o2_flow", "pao2"),
    "respiratory_rate": ("resp_rate",),
    "acid_base": ("paco2", "ph", "bicarbonate"),
    "circulation": ("heart_rate", "sbp", "dbp", "map", "lactate"),
    "consciousness": ("gcs_total",),
    "infection": ("temperature", "wbc"),
    "kidney": ("creatinine",),
}
GROUP_LABELS: dict[str, str] = {
    "oxygenation": "Oxygenation",
    "respiratory_rate": "Respiratory rate",
    "acid_base": "Blood gas",
    "circulation": "Circulation",
    "consciousness": "Consciousness",
    "infection": "Temperature / WBC",
    "kidney": "Kidney",
}
#: The reference patient's values: adult normal values at rest on room air (canonical units).
NORMAL_VALUES: dict[str, float] = {
    "heart_rate": 80.0,
    "resp_rate": 16.0,
    "spo2": 97.0,
    "temperature": 37.0,
    "sbp": 120.0,
    "dbp": 75.0,
    "map": 90.0,
    "fio2": 21.0,
    "o2_flow": 0.0,
    "pao2": 95.0,
    "paco2": 40.0,
    "ph": 7.40,
    "lactate": 1.0,
    "bicarbonate": 24.0,
    "gcs_total": 15.0,
    "wbc": 7.5,
    "creatinine": 0.9,
}
REFERENCE_TEXT = (
    "the same patient (same age, sex and charting times) with every charted value normal "
    "and no chest film"
)
MAX_GROUPS = 8
_GROUP_OF = {v: g for g, members in GROUPS.items() for v in members}


def players(observed: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The groups present among ``observed`` variables, in ``GROUPS`` order, each with its
    observed members; groups beyond ``MAX_GROUPS`` are merged into "other"."""
    found: dict[str, list[str]] = {}
    for name in observed:
        found.setdefault(_GROUP_OF.get(name, name), []).append(name)
    order = [g for g in GROUPS if g in found] + sorted(g for g in found if g not in GROUPS)
    out = [(g, tuple(found[g])) for g in order]
    if len(out) > MAX_GROUPS:
        rest = tuple(v for _, members in out[MAX_GROUPS - 1 :] for v in members)
        out = [*out[: MAX_GROUPS - 1], ("other", rest)]
    return out


def coalitions(k: int) -> np.ndarray:
    """All ``2^k`` coalitions as a boolean ``(2^k, k)`` matrix; row ``c`` has bit ``i`` of ``c``."""
    index = np.arange(2**k)[:, None]
    return ((index >> np.arange(k)[None, :]) & 1).astype(bool)


def shapley_values(values: np.ndarray) -> np.ndarray:
    """Exact Shapley values ``(k,)`` from the value of every coalition ``(2^k,)`` (row order of
    :func:`coalitions`); they sum to ``values[-1] - values[0]``."""
    v = np.asarray(values, np.float64)
    k = v.shape[0].bit_length() - 1
    if 2**k != v.shape[0]:
        raise ValueError(f"need 2^k coalition values, got {v.shape[0]}")
    masks = coalitions(k)
    size = masks.sum(axis=1)
    weight = np.asarray(
        [factorial(s) * factorial(k - s - 1) / factorial(k) if s < k else 0.0 for s in size]
    )
    index = np.arange(2**k)
    out = np.zeros(k)
    for i in range(k):
        without = ~masks[:, i]
        rows = index[without]
        out[i] = float(np.sum(weight[rows] * (v[rows | (1 << i)] - v[rows])))
    return out


def reference_values(variables: np.ndarray, values: np.ndarray, names: list[str]) -> np.ndarray:
    """``values`` with each one replaced by its variable's normal value (``variables`` index into
    ``names``); variables without a normal value keep theirs."""
    normal = np.asarray([NORMAL_VALUES.get(n, np.nan) for n in names], np.float64)
    ref = normal[np.asarray(variables, np.int64)] if len(values) else np.zeros(0)
    return np.where(np.isfinite(ref), ref, values)
