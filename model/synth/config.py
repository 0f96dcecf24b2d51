"""Configuration and result types of the synthetic ICU simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from model import ModelError

DEFAULT_MRN_SYSTEM = "urn:oid:2.16.840.1.113883.4.1.999.1"


class SynthError(ModelError):
    """The simulator was given an impossible configuration or could not write its output."""


class Phenotype(StrEnum):
    """The patient's main story; recorded in extras.csv for subgroup analysis."""

    STABLE = "stable"
    LUNG_INJURY = "lung_injury"
    COPD = "copd"
    SEPSIS_CLEAR_LUNGS = "sepsis_clear_lungs"
    FLUID_OVERLOAD = "fluid_overload"


#: Prior probability of each phenotype at admission.
PHENOTYPE_PRIOR: dict[Phenotype, float] = {
    Phenotype.STABLE: 0.40,
    Phenotype.LUNG_INJURY: 0.22,
    Phenotype.COPD: 0.13,
    Phenotype.SEPSIS_CLEAR_LUNGS: 0.14,
    Phenotype.FLUID_OVERLOAD: 0.11,
}


#: Hours the EHR-visible injury trails the film (uniform per patient), unless configured.
DEFAULT_EHR_LAG_H = (22.0, 26.0)
#: Hours between routine film rounds, unless configured.
DEFAULT_FILM_INTERVAL_H = 24.0


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """What to simulate. The same config always produces byte-identical output."""

    patients: int = 200
    seed: int = 0
    film_size: int = 512
    mrn_system: str = DEFAULT_MRN_SYSTEM
    workers: int = 1
    render_films: bool = True
    start_year: int = 2026
    #: Hours the EHR's view of lung injury trails the film, drawn uniformly per patient.
    ehr_lag_h: tuple[float, float] = DEFAULT_EHR_LAG_H
    #: Routine portable films are taken on rounds every this many hours (from 06:00).
    film_interval_h: float = DEFAULT_FILM_INTERVAL_H

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise SynthError("patients must be >= 1")
        if not 32 <= self.film_size <= 4096:
            raise SynthError("film_size must be within 32..4096 pixels")
        if self.workers < 1:
            raise SynthError("workers must be >= 1")
        if not self.mrn_system:
            raise SynthError("mrn_system must not be empty")
        low, high = self.ehr_lag_h
        if not 0.0 <= low <= high <= 72.0:
            raise SynthError("ehr_lag_h must be (low, high) with 0 <= low <= high <= 72 hours")
        if not 4.0 <= self.film_interval_h <= 72.0:
            raise SynthError("film_interval_h must be within 4..72 hours")


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """Counts describing a simulated cohort (all synthetic)."""

    patients: int
    ventilated: int
    measurements: int
    films: int
    prediction_times: int
    positive_windows: int
    phenotypes: dict[str, int] = field(default_factory=dict)

    @property
    def ventilated_fraction(self) -> float:
        return self.ventilated / self.patients if self.patients else 0.0

    @property
    def positive_window_fraction(self) -> float:
        return self.positive_windows / self.prediction_times if self.prediction_times else 0.0
