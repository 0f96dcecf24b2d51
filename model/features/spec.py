"""Feature specification and normalisation, both stored in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from model.age import plausible_age
from model.variables import BY_NAME, VARIABLE_NAMES

#: Features per variable and time step: normalised last value, observed mask, time since last.
PER_VARIABLE = 3
#: Static features appended to every step: normalised age, sex (male 1, female 0, other 0.5).
N_STATIC = 2


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What the model reads: variables, lookback, film recency and film tensor size."""

    variables: tuple[str, ...] = VARIABLE_NAMES
    lookback_h: int = 48
    film_max_age_h: float = 72.0
    film_size: int = 64

    @property
    def n_inputs(self) -> int:
        """Width of one time step of the EHR tensor."""
        return PER_VARIABLE * len(self.variables) + N_STATIC

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variables"] = list(self.variables)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            variables=tuple(data["variables"]),
            lookback_h=int(data["lookback_h"]),
            film_max_age_h=float(data["film_max_age_h"]),
            film_size=int(data["film_size"]),
        )


@dataclass(frozen=True, slots=True)
class Normalisation:
    """Per-variable mean/std (and age mean/std) fitted on training patients only."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    age_mean: float = 60.0
    age_std: float = 15.0
    fitted_on: dict[str, int] = field(default_factory=dict)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "std": list(self.std),
            "age_mean": self.age_mean,
            "age_std": self.age_std,
            "fitted_on": dict(self.fitted_on),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalisation:
        return cls(
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            age_mean=float(data["age_mean"]),
            age_std=float(data["age_std"]),
            fitted_on={str(k): int(v) for k, v in dict(data.get("fitted_on", {})).items()},
        )


def plausible(variable: str, values: np.ndarray) -> np.ndarray:
    """Boolean mask of values inside the variable's plausible range (artifacts are dropped)."""
    spec = BY_NAME[variable]
    ok = (values >= spec.plausible_min) & (values <= spec.plausible_max) & np.isfinite(values)
    return np.asarray(ok, dtype=bool)


def fit_normalisation(
    spec: FeatureSpec,
    var_idx: np.ndarray,
    values: np.ndarray,
    ages: np.ndarray,
    n_patients: int,
) -> Normalisation:
    """Fit mean/std per variable from (already plausibility-filtered) training measurements."""
    means: list[float] = []
    stds: list[float] = []
    for i, name in enumerate(spec.variables):
        v = values[var_idx == i]
        if v.size == 0:
            mid = 0.5 * (BY_NAME[name].plausible_min + BY_NAME[name].plausible_max)
            means.append(float(mid))
            stds.append(1.0)
            continue
        means.append(float(v.mean()))
        stds.append(float(max(v.std(), 1e-3)))
    ages = ages[np.isfinite(ages)]
    return Normalisation(
        mean=tuple(means),
        std=tuple(stds),
        age_mean=float(ages.mean()) if ages.size else 60.0,
        age_std=float(max(ages.std(), 1.0)) if ages.size else 15.0,
        fitted_on={"patients": n_patients, "measurements": int(values.size)},
    )


def static_features(age: float | None, sex: str | None, norm: Normalisation) -> np.ndarray:
    """The two static features of one patient."""
    age = plausible_age(age)  # unknown (None, NaN, < 0, > 120) reads as the training mean
    age_z = 0.0 if age is None else (age - norm.age_mean) / norm.age_std
    sex_code = {"male": 1.0, "m": 1.0, "female": 0.0, "f": 0.0}.get((sex or "").lower(), 0.5)
    return np.asarray([age_z, sex_code], np.float32)
