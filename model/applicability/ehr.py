"""The EHR half of the applicability guard: is this window like the training windows?

The checkpoint keeps, from the training patients, each variable's range (the 0.1st and 99.9th
percentiles of its charted values) and how much charting a training window had: hours from its
first charted value to its end ("charted history", in hourly bins) and how many variables it
charted (low 0.1st percentiles). A served window beyond any of them is scored but flagged:
the card says which value or how little history lies outside what the model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.features.grid import Grid
from model.schemas import EhrFlag, EhrFlagKind

#: Quantile of the training data beyond which a value or coverage counts as "not seen".
QUANTILE = 0.001


def training_coverage(
    grid: Grid, end_bins: np.ndarray, lookback: int
) -> tuple[np.ndarray, np.ndarray]:
    """Charted history (bins) and number of charted variables of each window of a stacked grid
    (windows end at ``end_bins`` and span ``lookback`` bins of one patient)."""
    end_bins = np.asarray(end_bins, np.int64)
    start = end_bins - lookback + 1
    any_obs = grid.observed.any(axis=1)
    n = any_obs.shape[0]
    # next bin (at or after b) with any observation; n when none
    idx = np.where(any_obs, np.arange(n), n)
    next_obs = np.minimum.accumulate(idx[::-1])[::-1] if n else idx
    first = next_obs[np.clip(start, 0, max(n - 1, 0))] if n else np.zeros(0, np.int64)
    history = np.where(first <= end_bins, end_bins - first + 1, 0)
    last = grid.last_bin[end_bins] if n else np.zeros((0, 0), np.int64)
    charted = ((last >= start[:, None]) & (last >= 0)).sum(axis=1)
    return history.astype(np.float64), np.asarray(charted, np.float64)


def window_coverage(observed: np.ndarray) -> tuple[float, int]:
    """Charted history (bins) and number of charted variables of one window ``(L, V)``."""
    rows = np.flatnonzero(np.asarray(observed).any(axis=1))
    history = float(observed.shape[0] - rows[0]) if rows.size else 0.0
    return history, int(np.asarray(observed).any(axis=0).sum())


@dataclass(frozen=True, slots=True)
class EhrGuard:
    """What the training windows looked like, and the flags of a window beyond it."""

    low: dict[str, float]
    high: dict[str, float]
    min_history_h: float
    min_variables: float
    quantile: float = QUANTILE
    fitted_on: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        values: Mapping[str, np.ndarray],
        history_h: np.ndarray,
        n_variables: np.ndarray,
        *,
        quantile: float = QUANTILE,
    ) -> EhrGuard:
        """From training values per variable and the coverage of the training windows."""
        seen = {k: np.asarray(v, np.float64) for k, v in values.items() if np.size(v)}
        return cls(
            low={k: float(np.quantile(v, quantile)) for k, v in seen.items()},
            high={k: float(np.quantile(v, 1.0 - quantile)) for k, v in seen.items()},
            min_history_h=float(np.quantile(history_h, quantile)) if np.size(history_h) else 0.0,
            min_variables=float(np.quantile(n_variables, quantile)) if np.size(n_variables) else 0,
            quantile=quantile,
            fitted_on={
                "values": int(sum(v.size for v in seen.values())),
                "windows": int(np.size(history_h)),
            },
        )

    def check(
        self, values: Mapping[str, np.ndarray], history_h: float, n_variables: int
    ) -> tuple[EhrFlag, ...]:
        """Flags of one window: values beyond the training range (the most extreme value of
        each variable), too little charted history, too few variables charted."""
        flags: list[EhrFlag] = []
        for name, raw in values.items():
            arr = np.asarray(raw, np.float64)
            if not arr.size:
                continue
            if name not in self.low:  # never charted in training at all
                flags.append(
                    EhrFlag(
                        kind=EhrFlagKind.NOT_IN_TRAINING,
                        variable=name,
                        value=float(arr[-1]),
                        bound=0.0,
                    )
                )
                continue
            lowest, highest = float(arr.min()), float(arr.max())
            for kind, value, bound, beyond in (
                (EhrFlagKind.BELOW_TRAINING_RANGE, lowest, self.low[name], lowest < self.low[name]),
                (
                    EhrFlagKind.ABOVE_TRAINING_RANGE,
                    highest,
                    self.high[name],
                    highest > self.high[name],
                ),
            ):
                if beyond:
                    flags.append(EhrFlag(kind=kind, variable=name, value=value, bound=bound))
        if history_h < self.min_history_h:
            flags.append(
                EhrFlag(kind=EhrFlagKind.SHORT_HISTORY, value=history_h, bound=self.min_history_h)
            )
        if n_variables < self.min_variables:
            flags.append(
                EhrFlag(
                    kind=EhrFlagKind.FEW_VARIABLES,
                    value=float(n_variables),
                    bound=self.min_variables,
                )
            )
        return tuple(flags)

    def range_of(self, variable: str) -> tuple[float, float] | None:
        """The training range of a variable (None if it was never charted in training)."""
        if variable not in self.low:
            return None
        return self.low[variable], self.high[variable]

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": dict(self.low),
            "high": dict(self.high),
            "min_history_h": self.min_history_h,
            "min_variables": self.min_variables,
            "quantile": self.quantile,
            "fitted_on": dict(self.fitted_on),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EhrGuard:
        return cls(
            low={str(k): float(v) for k, v in dict(data["low"]).items()},
            high={str(k): float(v) for k, v in dict(data["high"]).items()},
            min_history_h=float(data["min_history_h"]),
            min_variables=float(data["min_variables"]),
            quantile=float(data.get("quantile", QUANTILE)),
            fitted_on={str(k): int(v) for k, v in dict(data.get("fitted_on", {})).items()},
        )
